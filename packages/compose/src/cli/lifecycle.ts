/** `up`, `down`, `start`, `stop`, `restart`, `rm`. */
import type { Command } from 'commander';
import type { EngineClient } from '@gantry/client';
import { ComposeError } from '../errors';
import { dependencyOrder } from '../graph';
import { projectContainers, nameOf, serviceOf } from '../engine/containers';
import { projectFilter } from '../engine/labels';
import { colourFor, streamLogs } from '../engine/logs';
import { progress, type ComposeContext } from '../engine/output';
import { removeContainer, up, waitRunning } from '../engine/up';
import { collect, globals, load, positiveInt, target } from './project-options';

function scales(list: string[] | undefined): Record<string, number> {
  const out: Record<string, number> = {};
  for (const s of list ?? []) {
    const m = /^([^=]+)=(\d+)$/.exec(s);
    if (!m) throw new ComposeError(`invalid --scale "${s}": expected SERVICE=NUM`);
    out[m[1] ?? ''] = Number(m[2]);
  }
  return out;
}

interface UpFlags {
  detach?: boolean;
  build?: boolean;
  noBuild?: boolean;
  forceRecreate?: boolean;
  noRecreate?: boolean;
  noStart?: boolean;
  deps?: boolean;
  scale?: string[];
  wait?: boolean;
  waitTimeout?: number;
  removeOrphans?: boolean;
}

/** Attached `up`: the containers' logs until they all stop, or until Ctrl-C stops them. */
async function attached(ctx: ComposeContext, client: EngineClient, project: string, ids: string[]): Promise<void> {
  const all = await projectContainers(client, project);
  const mine = all.filter((c) => ids.includes(c.Id));
  const abort = new AbortController();
  const onSignal = () => {
    ctx.stderr.write('Gracefully stopping... (press Ctrl+C again to force)\n');
    process.removeListener('SIGINT', onSignal);
    void Promise.all(mine.map((c) => client.containers.stop(c.Id).then(() => progress(ctx.stderr, 'Container', nameOf(c), 'Stopped')))).finally(() =>
      abort.abort(),
    );
  };
  process.on('SIGINT', onSignal);
  try {
    await streamLogs(client, mine, { follow: true, colour: colourFor(ctx.stdout.isTTY), signal: abort.signal }, ctx.stdout);
  } finally {
    process.removeListener('SIGINT', onSignal);
  }
}

export function lifecycleCommands(compose: Command, ctx: ComposeContext): void {
  compose
    .command('up')
    .description('Create and start containers')
    .argument('[SERVICE...]')
    .option('-d, --detach', 'Detached mode: run containers in the background')
    .option('--build', 'Build images before starting containers')
    .option('--no-build', "Don't build an image, even if it's missing")
    .option('--force-recreate', "Recreate containers even if their configuration and image haven't changed")
    .option('--no-recreate', "If containers already exist, don't recreate them")
    .option('--no-start', "Don't start the services after creating them")
    .option('--no-deps', "Don't start linked services")
    .option('--scale <SERVICE=NUM>', 'Scale SERVICE to NUM instances', collect)
    .option('--wait', 'Wait for services to be running|healthy (implies detached mode)')
    .option('--wait-timeout <seconds>', 'Maximum duration to wait for the project to be running|healthy', positiveInt)
    .option('--remove-orphans', 'Remove containers for services not defined in the Compose file')
    .action(async (services: string[], o: UpFlags, cmd: Command) => {
      const p = load(ctx, globals(cmd));
      const client = ctx.client();
      // commander's --no-build/--no-recreate/--no-start/--no-deps set build/recreate/start/deps to false
      const raw = cmd.opts<{ build?: boolean; recreate?: boolean; start?: boolean; deps?: boolean }>();
      const ids = await up(
        client,
        p,
        {
          services,
          build: raw.build === true,
          noBuild: raw.build === false,
          forceRecreate: o.forceRecreate,
          noRecreate: raw.recreate === false,
          noStart: raw.start === false,
          noDeps: raw.deps === false,
          scale: scales(o.scale),
          removeOrphans: o.removeOrphans,
        },
        ctx.stdout,
        ctx.stderr,
      );
      if (o.wait === true) await waitRunning(client, ids, (o.waitTimeout ?? 300) * 1000, ctx.stderr);
      else if (o.detach !== true && raw.start !== false) await attached(ctx, client, p.name, ids);
    });

  compose
    .command('down')
    .description('Stop and remove containers, networks')
    .option('-v, --volumes', 'Remove named volumes declared in the "volumes" section of the Compose file and anonymous volumes attached to containers')
    .option('--rmi <type>', 'Remove images used by services. "local" remove only images that don\'t have a custom tag ("local"|"all")')
    .option('--remove-orphans', 'Remove containers for services not defined in the Compose file')
    .option('-t, --timeout <seconds>', 'Specify a shutdown timeout in seconds', positiveInt)
    .action(async (o: { volumes?: boolean; rmi?: string; removeOrphans?: boolean; timeout?: number }, cmd: Command) => {
      if (o.rmi !== undefined && o.rmi !== 'local' && o.rmi !== 'all') throw new ComposeError(`invalid --rmi option "${o.rmi}"`);
      const t = target(ctx, globals(cmd));
      const client = ctx.client();
      const all = await projectContainers(client, t.name, { oneoff: true });
      const known = (c: (typeof all)[number]) => t.project === undefined || serviceOf(c) in t.project.services || serviceOf(c) in t.project.disabledServices;
      const orphans = all.filter((c) => !known(c));
      if (orphans.length > 0 && o.removeOrphans !== true)
        ctx.stderr.write(`Found orphan containers (${orphans.map(nameOf).join(', ')}) for this project. Run with --remove-orphans to clean them up.\n`);
      // dependents first: the reverse of the start order
      const order = t.project === undefined ? [] : dependencyOrder(t.project.services).reverse();
      const rank = (c: (typeof all)[number]) => {
        const i = order.indexOf(serviceOf(c));
        return i < 0 ? -1 : i;
      };
      const doomed = all.filter((c) => known(c) || o.removeOrphans === true).sort((a, b) => rank(a) - rank(b));
      for (const c of doomed) await removeContainer(client, c, t.project?.services[serviceOf(c)], ctx.stderr, o.volumes === true);
      const nets = await client.networks.list({ filters: projectFilter(t.name) });
      const netNames = new Set(nets.map((n) => n.Name ?? ''));
      for (const [, n] of Object.entries(t.project?.networks ?? {})) if (n.external !== true && n.name !== undefined) netNames.add(n.name);
      for (const name of [...netNames].sort()) {
        try {
          await client.networks.inspect(name);
        } catch {
          continue;
        }
        progress(ctx.stderr, 'Network', name, 'Removing');
        await client.networks.remove(name);
        progress(ctx.stderr, 'Network', name, 'Removed');
      }
      if (o.volumes === true) {
        const vols = new Set(((await client.volumes.list({ filters: projectFilter(t.name) })).Volumes ?? []).map((v) => v.Name));
        for (const [, v] of Object.entries(t.project?.volumes ?? {})) if (v.external !== true && v.name !== undefined) vols.add(v.name);
        for (const name of [...vols].sort()) {
          try {
            await client.volumes.inspect(name);
          } catch {
            continue;
          }
          await client.volumes.remove(name);
          progress(ctx.stderr, 'Volume', name, 'Removed');
        }
      }
      if (o.rmi !== undefined && t.project !== undefined) {
        const images = new Set<string>();
        for (const [svc, s] of Object.entries(t.project.services)) {
          if (s.image === undefined) continue;
          // "local": the images compose named itself (built, no image: key)
          const local = s.build !== undefined && s.image === `${t.project.name}-${svc}`;
          if (o.rmi === 'all' || local) images.add(s.image);
        }
        for (const img of images) {
          try {
            await client.images.remove(img);
            progress(ctx.stderr, 'Image', img, 'Removed');
          } catch (e) {
            ctx.stderr.write(`Image ${img}: ${(e as Error).message}\n`);
          }
        }
      }
    });

  const simple = (
    name: string,
    description: string,
    act: (client: EngineClient, c: Awaited<ReturnType<typeof projectContainers>>[number], timeout?: number) => Promise<string | undefined>,
  ) =>
    compose
      .command(name)
      .description(description)
      .argument('[SERVICE...]')
      .option('-t, --timeout <seconds>', 'Specify a shutdown timeout in seconds', positiveInt)
      .action(async (services: string[], o: { timeout?: number }, cmd: Command) => {
        const t = target(ctx, globals(cmd));
        const client = ctx.client();
        let cs = await projectContainers(client, t.name, { services });
        if (name === 'start' && t.project !== undefined) {
          const order = dependencyOrder(t.project.services);
          cs = cs.sort((a, b) => order.indexOf(serviceOf(a)) - order.indexOf(serviceOf(b)));
        }
        if (cs.length === 0 && services.length > 0) throw new ComposeError(`no container found for service(s) ${services.join(', ')}`);
        for (const c of cs) {
          const done = await act(client, c, o.timeout);
          if (done !== undefined) progress(ctx.stderr, 'Container', nameOf(c), done);
        }
      });

  simple('start', 'Start services', async (client, c) => ((await client.containers.start(c.Id)) ? 'Started' : undefined));
  simple('stop', 'Stop services', async (client, c, t) => ((await client.containers.stop(c.Id, { t })) ? 'Stopped' : undefined));
  simple('restart', 'Restart service containers', async (client, c, t) => {
    await client.containers.restart(c.Id, { t });
    return 'Started';
  });

  compose
    .command('rm')
    .description('Removes stopped service containers')
    .argument('[SERVICE...]')
    .option('-f, --force', "Don't ask to confirm removal")
    .option('-s, --stop', 'Stop the containers, if required, before removing')
    .option('-v, --volumes', 'Remove any anonymous volumes attached to containers')
    .action(async (services: string[], o: { force?: boolean; stop?: boolean; volumes?: boolean }, cmd: Command) => {
      const t = target(ctx, globals(cmd));
      const client = ctx.client();
      const cs = await projectContainers(client, t.name, { services, oneoff: true });
      const doomed = cs.filter((c) => o.stop === true || c.State !== 'running');
      if (doomed.length === 0) {
        ctx.stderr.write('No stopped containers\n');
        return;
      }
      for (const c of doomed) await removeContainer(client, c, t.project?.services[serviceOf(c)], ctx.stderr, o.volumes === true);
    });
}
