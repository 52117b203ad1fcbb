/** A project's networks, volumes and images: created when missing, labelled, removed with it. */
import { NotFoundError, type EngineClient } from '@gantry/client';
import { ComposeError } from '../errors';
import type { Project } from '../model';
import { contextTar } from './context-tar';
import { COMPOSE_VERSION, LABEL } from './labels';
import { progress, type Output } from './output';

/** The networks the services use, created with Compose's labels when they do not exist. */
export async function ensureNetworks(client: EngineClient, p: Project, keys: Set<string>, err: Output): Promise<void> {
  for (const key of [...keys].sort()) {
    const n = p.networks[key];
    if (n === undefined) continue;
    const name = n.name ?? `${p.name}_${key}`;
    try {
      await client.networks.inspect(name);
      continue;
    } catch (e) {
      if (!(e instanceof NotFoundError)) throw e;
    }
    if (n.external === true) throw new ComposeError(`network ${name} declared as external, but could not be found`);
    await client.networks.create({
      Name: name,
      Driver: n.driver,
      Internal: n.internal,
      Attachable: n.attachable,
      EnableIPv6: n.enable_ipv6,
      Options: n.driver_opts,
      IPAM:
        n.ipam === undefined
          ? undefined
          : {
              Driver: n.ipam.driver,
              Options: n.ipam.options,
              Config: (n.ipam.config ?? []).map((c) => ({ Subnet: c.subnet, Gateway: c.gateway, IPRange: c.ip_range })),
            },
      Labels: { ...(n.labels ?? {}), [LABEL.project]: p.name, [LABEL.network]: key, [LABEL.version]: COMPOSE_VERSION },
    });
    progress(err, 'Network', name, 'Created');
  }
}

export async function ensureVolumes(client: EngineClient, p: Project, keys: Set<string>, err: Output): Promise<void> {
  for (const key of [...keys].sort()) {
    const v = p.volumes[key];
    if (v === undefined) continue;
    const name = v.name ?? `${p.name}_${key}`;
    try {
      await client.volumes.inspect(name);
      continue;
    } catch (e) {
      if (!(e instanceof NotFoundError)) throw e;
    }
    if (v.external === true) throw new ComposeError(`external volume "${name}" not found`);
    await client.volumes.create({
      Name: name,
      Driver: v.driver,
      DriverOpts: v.driver_opts,
      Labels: { ...(v.labels ?? {}), [LABEL.project]: p.name, [LABEL.volume]: key, [LABEL.version]: COMPOSE_VERSION },
    });
    progress(err, 'Volume', `"${name}"`, 'Created');
  }
}

/** The image's ID, or undefined when it is not there. */
export async function imageId(client: EngineClient, image: string): Promise<string | undefined> {
  try {
    return (await client.images.inspect(image)).Id;
  } catch (e) {
    if (e instanceof NotFoundError) return undefined;
    throw e;
  }
}

export async function buildService(
  client: EngineClient,
  p: Project,
  name: string,
  out: Output,
  o: { noCache?: boolean; pull?: boolean; quiet?: boolean } = {},
): Promise<void> {
  const s = p.services[name];
  const b = s?.build;
  if (s === undefined || b === undefined || s.image === undefined) return;
  const args: Record<string, string> = {};
  for (const [k, v] of Object.entries(b.args ?? {})) if (v !== null) args[k] = v;
  const tar = contextTar(b.context);
  for await (const m of client.images.build(tar, {
    tags: [s.image],
    dockerfile: b.dockerfile,
    target: b.target,
    buildargs: args,
    labels: { ...(b.labels ?? {}), [LABEL.project]: p.name, [LABEL.service]: name },
    nocache: o.noCache ?? b.no_cache,
    pull: o.pull ?? b.pull,
    networkmode: b.network,
  }))
    if (o.quiet !== true && typeof m.stream === 'string') out.write(m.stream);
}

export async function pullImage(client: EngineClient, image: string, err: Output, quiet = false): Promise<void> {
  if (!quiet) progress(err, 'Image', image, 'Pulling');
  for await (const _ of client.images.pull(image)) {
    // progress messages: the stream ends when the pull is done (a failure is thrown)
  }
  if (!quiet) progress(err, 'Image', image, 'Pulled');
}
