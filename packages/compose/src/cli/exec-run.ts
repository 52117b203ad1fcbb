/** `exec` and `run`: a command in a service's container, or in a one-off container of the service. */
import { randomBytes } from 'node:crypto';
import type { Command } from 'commander';
import type { EngineClient, HijackedStream } from '@gantry/client';
import { ComposeError } from '../errors';
import { serviceHash } from '../hash';
import { containerSpec, serviceNetworks } from '../engine/container-spec';
import { numberOf, projectContainers } from '../engine/containers';
import type { ComposeContext } from '../engine/output';
import { up } from '../engine/up';
import { collect, globals, load, positiveInt, target } from './project-options';

function envMap(list: string[] | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of list ?? []) {
    const i = e.indexOf('=');
    if (i < 0) {
      const v = process.env[e];
      if (v !== undefined) out[e] = v;
    } else out[e.slice(0, i)] = e.slice(i + 1);
  }
  return out;
}

async function pump(ctx: ComposeContext, s: HijackedStream, stdin: boolean): Promise<void> {
  if (stdin) process.stdin.pipe(s.socket);
  else s.socket.end();
  for await (const f of s.output) (f.stream === 'stderr' ? ctx.stderr : ctx.stdout).write(f.data);
  if (stdin) process.stdin.unpipe(s.socket);
}

export function execRunCommands(compose: Command, ctx: ComposeContext, setStatus: (n: number) => void): void {
  compose
    .command('exec')
    .description('Execute a command in a running container')
    .argument('<SERVICE>')
    .argument('<COMMAND...>')
    .option('-d, --detach', 'Detached mode: Run command in the background')
    .option('-T, --no-TTY', 'Disable pseudo-TTY allocation')
    .option('-e, --env <KEY=VAL>', 'Set environment variables', collect)
    .option('-u, --user <string>', 'Run the command as this user')
    .option('-w, --workdir <string>', 'Path to workdir directory for this command')
    .option('--index <int>', 'Index of the container if service has multiple replicas', positiveInt)
    .option('--privileged', 'Give extended privileges to the process')
    .passThroughOptions()
    .action(
      async (
        service: string,
        command: string[],
        o: { detach?: boolean; TTY: boolean; env?: string[]; user?: string; workdir?: string; index?: number; privileged?: boolean },
        cmd: Command,
      ) => {
        const t = target(ctx, globals(cmd));
        const client = ctx.client();
        const cs = (await projectContainers(client, t.name, { services: [service] })).filter((c) => c.State === 'running');
        const c = cs.find((x) => numberOf(x) === (o.index ?? 1)) ?? (o.index === undefined ? cs[0] : undefined);
        if (c === undefined) throw new ComposeError(`service "${service}" is not running`);
        const tty = o.TTY && process.stdin.isTTY === true && o.detach !== true;
        const env = Object.entries(envMap(o.env)).map(([k, v]) => `${k}=${v}`);
        const exec = await client.exec.create(c.Id, {
          Cmd: command,
          Env: env,
          User: o.user,
          WorkingDir: o.workdir,
          Privileged: o.privileged,
          Tty: tty,
          AttachStdin: !o.detach && process.stdin.isTTY === true,
          AttachStdout: !o.detach,
          AttachStderr: !o.detach,
        });
        if (o.detach === true) {
          await client.exec.startDetached(exec.Id);
          return;
        }
        await pump(ctx, await client.exec.start(exec.Id, { tty }), tty);
        setStatus((await client.exec.inspect(exec.Id)).ExitCode ?? 0);
      },
    );

  compose
    .command('run')
    .description('Run a one-off command on a service')
    .argument('<SERVICE>')
    .argument('[COMMAND...]')
    .option('-d, --detach', 'Run container in background and print container ID')
    .option('--rm', 'Automatically remove the container when it exits')
    .option('-e, --env <KEY=VAL>', 'Set environment variables', collect)
    .option('--entrypoint <string>', 'Override the entrypoint of the image')
    .option('--name <string>', 'Assign a name to the container')
    .option('-T, --no-TTY', 'Disable pseudo-TTY allocation')
    .option('-u, --user <string>', 'Run as specified username or uid')
    .option('-w, --workdir <string>', 'Working directory inside the container')
    .option('--no-deps', "Don't start linked services")
    .option('--service-ports', "Run command with all service's ports enabled and mapped to the host")
    .passThroughOptions()
    .action(
      async (
        service: string,
        command: string[],
        o: {
          detach?: boolean;
          rm?: boolean;
          env?: string[];
          entrypoint?: string;
          name?: string;
          user?: string;
          workdir?: string;
          deps: boolean;
          servicePorts?: boolean;
        },
        cmd: Command,
      ) => {
        const p = load(ctx, globals(cmd));
        const s = p.services[service];
        if (s === undefined) throw new ComposeError(`no such service: ${service}`);
        const client: EngineClient = ctx.client();
        const deps = Object.keys(s.depends_on ?? {});
        if (o.deps && deps.length > 0) await up(client, p, { services: deps }, ctx.stdout, ctx.stderr);
        else
          await up(
            client,
            p,
            {
              services: [service],
              noStart: true,
              noDeps: true,
              scale: { [service]: (await projectContainers(client, p.name, { services: [service] })).length },
            },
            ctx.stdout,
            { write: () => undefined },
          );
        const spec = containerSpec(p, service, s, {
          number: 1,
          hash: serviceHash(s),
          oneoff: true,
          command: command.length > 0 ? command : undefined,
          entrypoint: o.entrypoint === undefined ? undefined : [o.entrypoint],
          env: envMap(o.env),
          publish: o.servicePorts === true,
          user: o.user,
          workdir: o.workdir,
        });
        const name = o.name ?? `${p.name}-${service}-run-${randomBytes(6).toString('hex')}`;
        const created = await client.containers.create(spec, { name });
        for (const extra of serviceNetworks(p, service, s).slice(1))
          await client.networks.connect(extra.network, { Container: created.Id, EndpointConfig: extra.endpoint });
        await client.containers.start(created.Id);
        if (o.detach === true) {
          ctx.stdout.write(`${name}\n`);
          return;
        }
        // logs (follow) from the start: all of a short-lived container's output, then the end of the stream at its exit
        for await (const f of client.containers.logs(created.Id, { follow: true })) (f.stream === 'stderr' ? ctx.stderr : ctx.stdout).write(f.data);
        const { StatusCode } = await client.containers.wait(created.Id);
        if (o.rm === true) await client.containers.remove(created.Id, { force: true });
        setStatus(StatusCode);
      },
    );
}
