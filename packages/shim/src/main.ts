#!/usr/bin/env node
/**
 * gantry-shim serve --socket <path> --namespace <ns> --id <container> --state-dir <dir>
 *                   --runtime-root <dir> [--publish-address <daemon socket>]
 *
 * One per container, started detached by gantry-containerd: a child subreaper that serves the
 * containerd.task.v2 Task API (over gRPC) on its own socket, owns the container's stdio and keeps
 * its exit status, whether or not the daemon is running.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Server, ServerCredentials } from '@grpc/grpc-js';
import { linuxSys, PR } from '@gantry/linux';
import { shim } from '@gantry/api';
import { taskServer } from './grpc-service';
import { Publisher } from './publisher';
import { StrayReaper } from './reaper';
import { TaskService } from './task-service';

interface ServeOptions {
  socket: string;
  namespace: string;
  id: string;
  stateDir: string;
  runtimeRoot: string;
  publishAddress?: string;
}

function log(level: string, msg: string, fields: Record<string, unknown> = {}): void {
  process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), level, msg, component: 'gantry-shim', pid: process.pid, ...fields })}\n`);
}

function parse(argv: string[]): ServeOptions {
  const get = (name: string) => {
    const i = argv.indexOf(`--${name}`);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const need = (name: string) => {
    const v = get(name);
    if (!v) throw new Error(`--${name} is required`);
    return v;
  };
  if (argv[0] !== 'serve') throw new Error('usage: gantry-shim serve --socket S --namespace NS --id ID --state-dir D --runtime-root R [--publish-address A]');
  return {
    socket: need('socket'),
    namespace: need('namespace'),
    id: need('id'),
    stateDir: need('state-dir'),
    runtimeRoot: need('runtime-root'),
    publishAddress: get('publish-address'),
  };
}

async function serve(o: ServeOptions): Promise<void> {
  const sys = linuxSys();
  // Orphans of the container come to us, not to the host's init.
  sys.prctl(PR.SET_CHILD_SUBREAPER, 1);
  fs.mkdirSync(o.stateDir, { recursive: true });
  const publisher = new Publisher(o.publishAddress, o.namespace, (m) => log('warn', m));
  const svc = new TaskService({ runtimeRoot: o.runtimeRoot, stateDir: o.stateDir, consoleDir: path.dirname(o.socket), publish: (e) => publisher.publish(e) });
  const reaper = new StrayReaper(sys);
  reaper.start();
  const server = new Server();
  let taskPid = 0;
  const shutdown = () => {
    log('info', 'shutting down', { id: o.id });
    server.tryShutdown(() => {
      void publisher.drain().then(() => {
        publisher.close();
        fs.rmSync(o.socket, { force: true });
        process.exit(0);
      });
    });
  };
  server.addService(
    shim.TaskService,
    taskServer(svc, {
      shutdown,
      taskPid: () => {
        try {
          taskPid = svc.state('').pid;
        } catch {
          // no task
        }
        return taskPid;
      },
    }),
  );
  fs.rmSync(o.socket, { force: true });
  await new Promise<void>((resolve, reject) =>
    server.bindAsync(`unix://${o.socket}`, ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve())),
  );
  fs.chmodSync(o.socket, 0o600);
  log('info', 'serving', { id: o.id, namespace: o.namespace, socket: o.socket });
  // The daemon restarting must not take us down.
  process.on('SIGHUP', () => undefined);
  process.on('SIGPIPE', () => undefined);
}

if (require.main === module) {
  let opts: ServeOptions;
  try {
    opts = parse(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`gantry-shim: ${(e as Error).message}\n`);
    process.exit(2);
  }
  serve(opts).catch((e: unknown) => {
    log('error', e instanceof Error ? e.message : String(e));
    process.exit(1);
  });
}
