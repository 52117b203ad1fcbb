/**
 * `up`: converge the daemon on the model. Networks and volumes first, images built or pulled,
 * then each service in dependency order, once the services it depends on meet their condition
 * (started, healthy, completed successfully): containers whose config hash (or image) changed are
 * recreated, missing ones created up to the scale, surplus ones removed, stopped ones started.
 */
import type { ContainerSummary, EngineClient } from '@gantry/client';
import { ComposeError } from '../errors';
import { dependencyOrder, withDependencies } from '../graph';
import { serviceHash } from '../hash';
import type { DependsOn, Project, ServiceConfig } from '../model';
import { containerSpec, serviceNetworks } from './container-spec';
import { nameOf, numberOf, projectContainers, serviceOf } from './containers';
import { LABEL, containerName } from './labels';
import { progress, type Output } from './output';
import { buildService, ensureNetworks, ensureVolumes, imageId, pullImage } from './resources';

export interface UpOptions {
  services?: string[];
  build?: boolean;
  noBuild?: boolean;
  forceRecreate?: boolean;
  noRecreate?: boolean;
  noStart?: boolean;
  noDeps?: boolean;
  scale?: Record<string, number>;
  removeOrphans?: boolean;
  /** How long to wait on a dependency's condition (ms). */
  timeoutMs?: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The services `up` touches: those named (or all) and, unless --no-deps, what they depend on. */
function selectedServices(p: Project, names: string[] | undefined, noDeps = false): string[] {
  for (const n of names ?? []) if (!(n in p.services)) throw new ComposeError(`no such service: ${n}`);
  const chosen = names === undefined || names.length === 0 ? new Set(Object.keys(p.services)) : noDeps ? new Set(names) : withDependencies(p.services, names);
  return dependencyOrder(p.services).filter((n) => chosen.has(n));
}

/** Images built when missing (or with --build), pulled when missing; their IDs by service. */
async function ensureImages(client: EngineClient, p: Project, services: string[], o: UpOptions, out: Output, err: Output): Promise<Map<string, string>> {
  const ids = new Map<string, string>();
  for (const name of services) {
    const s = p.services[name];
    if (s?.image === undefined) continue;
    let id = await imageId(client, s.image);
    if (s.build !== undefined && o.noBuild !== true && (o.build === true || id === undefined)) {
      await buildService(client, p, name, out);
      progress(err, 'Image', s.image, 'Built');
      id = await imageId(client, s.image);
    } else if (id === undefined || s.pull_policy === 'always') {
      if (s.pull_policy === 'never') throw new ComposeError(`image ${s.image} of service ${name} is not present and pull_policy is never`);
      await pullImage(client, s.image, err);
      id = await imageId(client, s.image);
    }
    if (id !== undefined) ids.set(name, id);
  }
  return ids;
}

async function waitCondition(client: EngineClient, p: Project, dep: string, d: DependsOn, err: Output, timeoutMs: number): Promise<void> {
  if (d.condition === 'service_started') return;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const cs = await projectContainers(client, p.name, { services: [dep] });
    if (cs.length === 0) {
      if (d.required === false) return;
      throw new ComposeError(`service "${dep}" has no container to wait for`);
    }
    const states = await Promise.all(cs.map((c) => client.containers.inspect(c.Id)));
    if (d.condition === 'service_healthy') {
      if (states.some((s) => s.State?.Health === undefined || s.State.Health === null))
        throw new ComposeError(`service "${dep}" has no healthcheck configured`);
      if (states.some((s) => s.State?.Health?.Status === 'unhealthy'))
        throw new ComposeError(`dependency failed to start: container ${nameOf(cs[0]!)} is unhealthy`);
      if (states.every((s) => s.State?.Health?.Status === 'healthy')) {
        for (const c of cs) progress(err, 'Container', nameOf(c), 'Healthy');
        return;
      }
    } else {
      const done = states.filter((s) => s.State?.Running !== true && s.State?.Status !== 'created');
      const bad = done.find((s) => (s.State?.ExitCode ?? 0) !== 0);
      if (bad !== undefined) throw new ComposeError(`service "${dep}" didn't complete successfully: exit ${bad.State?.ExitCode ?? '?'}`);
      if (done.length === states.length) {
        for (const c of cs) progress(err, 'Container', nameOf(c), 'Exited');
        return;
      }
    }
    if (Date.now() > deadline) throw new ComposeError(`timed out waiting for service "${dep}" to be ${d.condition.replace('service_', '')}`);
    await sleep(500);
  }
}

async function createContainer(
  client: EngineClient,
  p: Project,
  name: string,
  s: ServiceConfig,
  n: number,
  hash: string,
  image: string | undefined,
): Promise<string> {
  const cname = s.container_name ?? containerName(p.name, name, n);
  const created = await client.containers.create(containerSpec(p, name, s, { number: n, hash, imageId: image }), { name: cname });
  for (const extra of serviceNetworks(p, name, s).slice(1))
    await client.networks.connect(extra.network, { Container: created.Id, EndpointConfig: extra.endpoint });
  return created.Id;
}

function stopTimeout(s: ServiceConfig | undefined): number | undefined {
  const spec = s?.stop_grace_period;
  if (spec === undefined) return undefined;
  const m = /^(?:(\d+)h)?(?:(\d+)m)?(?:([\d.]+)s)?$/.exec(spec);
  return m === null ? undefined : Math.ceil(Number(m[1] ?? 0) * 3600 + Number(m[2] ?? 0) * 60 + Number(m[3] ?? 0));
}

export async function removeContainer(client: EngineClient, c: ContainerSummary, s: ServiceConfig | undefined, err: Output, volumes = false): Promise<void> {
  if (c.State === 'running' || c.State === 'restarting' || c.State === 'paused') {
    progress(err, 'Container', nameOf(c), 'Stopping');
    await client.containers.stop(c.Id, { t: stopTimeout(s) });
    progress(err, 'Container', nameOf(c), 'Stopped');
  }
  progress(err, 'Container', nameOf(c), 'Removing');
  await client.containers.remove(c.Id, { force: true, v: volumes });
  progress(err, 'Container', nameOf(c), 'Removed');
}

export async function up(client: EngineClient, p: Project, o: UpOptions, out: Output, err: Output): Promise<string[]> {
  const services = selectedServices(p, o.services, o.noDeps);
  const netKeys = new Set<string>();
  const volKeys = new Set<string>();
  for (const n of services) {
    for (const k of Object.keys(p.services[n]?.networks ?? {})) netKeys.add(k);
    for (const v of p.services[n]?.volumes ?? []) if (v.type === 'volume' && v.source !== undefined && v.source !== '') volKeys.add(v.source);
  }
  await ensureNetworks(client, p, netKeys, err);
  await ensureVolumes(client, p, volKeys, err);
  const images = await ensureImages(client, p, services, o, out, err);

  const existing = await projectContainers(client, p.name);
  if (o.removeOrphans === true)
    for (const c of existing.filter((x) => !(serviceOf(x) in p.services) && !(serviceOf(x) in p.disabledServices)))
      await removeContainer(client, c, undefined, err);

  const touched: string[] = [];
  for (const name of services) {
    const s = p.services[name]!;
    if (o.noStart !== true)
      for (const [dep, d] of Object.entries(s.depends_on ?? {})) if (services.includes(dep)) await waitCondition(client, p, dep, d, err, o.timeoutMs ?? 300000);
    const hash = serviceHash(s);
    const image = images.get(name);
    const scale = o.scale?.[name] ?? s.scale ?? 1;
    if (s.container_name !== undefined && scale > 1)
      throw new ComposeError(`services.${name}: container_name "${s.container_name}" cannot be used with scale ${scale}`);
    const mine = existing.filter((c) => serviceOf(c) === name);
    const kept = new Set<number>();
    for (const c of mine) {
      const n = numberOf(c);
      if (n > scale || kept.has(n)) {
        await removeContainer(client, c, s, err);
        continue;
      }
      kept.add(n);
      const diverged = c.Labels[LABEL.hash] !== hash || (image !== undefined && c.Labels[LABEL.image] !== undefined && c.Labels[LABEL.image] !== image);
      if (o.forceRecreate === true || (diverged && o.noRecreate !== true)) {
        const cname = nameOf(c);
        progress(err, 'Container', cname, 'Recreate');
        await removeContainer(client, c, s, { write: () => undefined });
        const id = await createContainer(client, p, name, s, n, hash, image);
        progress(err, 'Container', cname, 'Recreated');
        if (o.noStart !== true) {
          await client.containers.start(id);
          progress(err, 'Container', cname, 'Started');
        }
        touched.push(id);
      } else if (c.State !== 'running' && o.noStart !== true) {
        progress(err, 'Container', nameOf(c), 'Starting');
        await client.containers.start(c.Id);
        progress(err, 'Container', nameOf(c), 'Started');
        touched.push(c.Id);
      } else {
        progress(err, 'Container', nameOf(c), c.State === 'running' ? 'Running' : 'Created');
        touched.push(c.Id);
      }
    }
    for (let n = 1; n <= scale; n++) {
      if (kept.has(n)) continue;
      const cname = s.container_name ?? containerName(p.name, name, n);
      progress(err, 'Container', cname, 'Creating');
      const id = await createContainer(client, p, name, s, n, hash, image);
      progress(err, 'Container', cname, 'Created');
      if (o.noStart !== true) {
        progress(err, 'Container', cname, 'Starting');
        await client.containers.start(id);
        progress(err, 'Container', cname, 'Started');
      }
      touched.push(id);
    }
  }
  return touched;
}

/** `up --wait`: every container running, and healthy when it has a healthcheck. */
export async function waitRunning(client: EngineClient, ids: string[], timeoutMs: number, err: Output): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (const id of ids) {
    for (;;) {
      const c = await client.containers.inspect(id);
      const name = (c.Name ?? id).replace(/^\//, '');
      const health = c.State?.Health?.Status;
      if (c.State?.Running === true && (health === undefined || health === 'healthy')) {
        progress(err, 'Container', name, 'Healthy');
        break;
      }
      if (c.State?.Running !== true && c.State?.Status === 'exited' && (c.State.ExitCode ?? 0) !== 0)
        throw new ComposeError(`container ${name} exited (${c.State.ExitCode})`);
      if (health === 'unhealthy') throw new ComposeError(`container ${name} is unhealthy`);
      if (Date.now() > deadline) throw new ComposeError(`timed out waiting for container ${name}`);
      await sleep(500);
    }
  }
}
