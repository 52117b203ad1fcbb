/**
 * The runtime side of the CRI streaming server: exec through Tasks.Exec with FIFOs (as ExecSync),
 * attach to a running container's output as its log reader sees it, and port-forward through a
 * helper process that connects from inside the pod's network namespace (setns in this
 * multi-threaded process would move only the calling thread).
 */
import { spawn } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import type { Duplex, Writable } from 'node:stream';
import type { ExecStreams, StreamingRuntime } from '@gantry/cri-streaming';
import { errdefs } from '@gantry/linux';
import type { Process, Spec } from '@gantry/runtime';
import { PROCESS_TYPE } from './clients';
import { FifoReader, makeFifo, type Stream } from './container-log';
import { containerConfigOf, type Containers } from './containers';
import type { CriContext } from './context';

/** Run in the pod's netns by nsenter: joins its stdio to 127.0.0.1:<port>. */
const FORWARDER = [
  "const s = require('node:net').connect(Number(process.argv[1]), '127.0.0.1');",
  "s.on('error', (e) => { process.stderr.write(e.message); process.exit(1); });",
  'process.stdin.pipe(s); s.pipe(process.stdout);',
].join('\n');

export class CriStreamingRuntime implements StreamingRuntime {
  constructor(
    private readonly c: CriContext,
    private readonly ctrs: Containers,
  ) {}

  async exec(containerId: string, cmd: string[], streams: ExecStreams): Promise<number> {
    const c = this.c;
    const rec = c.store.container(containerId);
    if (rec.state !== 'running') throw errdefs.failedPrecondition(`container ${rec.id} is not running`);
    const base = (rec.spec as Spec).process;
    if (!base) throw errdefs.internal(`container ${rec.id} has no process spec`);
    const process: Process = { ...base, args: cmd, terminal: streams.tty };
    const execId = `exec-${crypto.randomBytes(8).toString('hex')}`;
    const dir = path.join(c.stateDir, 'containers', rec.id);
    const p = (s: string) => path.join(dir, `${execId}-${s}`);
    const outs: { stream: Stream; path: string }[] = [
      { stream: 'stdout', path: p('stdout') },
      ...(streams.tty ? [] : [{ stream: 'stderr' as const, path: p('stderr') }]),
    ];
    const stdinPath = streams.stdin ? p('stdin') : '';
    for (const f of outs) makeFifo(f.path);
    if (stdinPath) makeFifo(stdinPath);
    const sinks: Record<Stream, Writable | undefined> = { stdout: streams.stdout, stderr: streams.stderr };
    const reader = new FifoReader(outs, (s, d) => sinks[s]?.write(d), false);
    const call = c.cd;
    let stdinFd: number | undefined;
    try {
      await call.call(call.tasks, call.tasks.exec, {
        containerId: rec.id,
        execId,
        stdin: stdinPath,
        stdout: outs[0]!.path,
        stderr: outs[1]?.path ?? '',
        terminal: streams.tty,
        spec: { typeUrl: PROCESS_TYPE, value: Buffer.from(JSON.stringify(process)) },
      });
      await call.call(call.tasks, call.tasks.start, { containerId: rec.id, execId });
      // with a terminal the shim opens stdout only once it has the console, during Start
      reader.shimOpened();
      if (streams.stdin && stdinPath) {
        stdinFd = fs.openSync(stdinPath, fs.constants.O_RDWR | fs.constants.O_NONBLOCK);
        const toShim = new net.Socket({ fd: stdinFd, readable: false, writable: true });
        stdinFd = undefined; // the socket owns it now
        toShim.on('error', () => undefined); // the process is gone: input is dropped
        streams.stdin.pipe(toShim);
        // the shim holds a writer of its own: the process sees EOF only through CloseIO
        toShim.on('finish', () => {
          void call.call(call.tasks, call.tasks.closeIo, { containerId: rec.id, execId, stdin: true }).catch(() => undefined);
        });
      }
      if (streams.tty && streams.resize) void this.resize(rec.id, execId, streams.resize);
      const r = await call.call(call.tasks, call.tasks.wait, { containerId: rec.id, execId }, 0);
      await Promise.race([reader.ended, new Promise((res) => setTimeout(res, 2000).unref())]);
      return r.exitStatus;
    } finally {
      reader.shimOpened();
      if (stdinFd !== undefined) fs.closeSync(stdinFd);
      await call.call(call.tasks, call.tasks.deleteProcess, { containerId: rec.id, execId }).catch(() => undefined);
      for (const f of [...outs.map((o) => o.path), stdinPath].filter(Boolean)) fs.rmSync(f, { force: true });
    }
  }

  private async resize(containerId: string, execId: string, sizes: AsyncIterable<{ width: number; height: number }>): Promise<void> {
    try {
      for await (const s of sizes) {
        await this.c.cd.call(this.c.cd.tasks, this.c.cd.tasks.resizePty, { containerId, execId, width: s.width, height: s.height });
      }
    } catch (e) {
      this.c.log.debug('resizing an exec terminal failed', { container: containerId, exec: execId, error: (e as Error).message });
    }
  }

  /**
   * The container's output from now on, and the client's input to its stdin. It ends when the
   * container exits or the client goes away; when the client's stdin ends, it ends too, except
   * with stdin_once and no TTY, where the container's stdin is closed and output follows to the
   * exit (what kubectl expects, as containerd does).
   */
  async attach(containerId: string, streams: ExecStreams): Promise<void> {
    const rec = this.c.store.container(containerId);
    if (rec.state !== 'running') throw errdefs.failedPrecondition(`container ${rec.id} is not running`);
    const config = containerConfigOf(rec);
    if (streams.stdin && !config.stdin) throw errdefs.invalidArgument(`container ${rec.id} was not created with stdin`);
    const sinks: Record<Stream, Writable | undefined> = { stdout: streams.stdout, stderr: streams.stderr };
    await new Promise<void>((resolve) => {
      const toShim = streams.stdin
        ? new net.Socket({ fd: fs.openSync(this.ctrs.stdinFifo(rec.id), fs.constants.O_RDWR | fs.constants.O_NONBLOCK), readable: false, writable: true })
        : undefined;
      const off = this.ctrs.follow(
        rec.id,
        (s, d) => sinks[s]?.write(d),
        () => done(),
      );
      const done = () => {
        off();
        toShim?.destroy();
        resolve();
      };
      for (const w of [streams.stdout, streams.stderr]) w?.on('close', done);
      if (!streams.stdin || !toShim) return;
      toShim.on('error', () => undefined);
      streams.stdin.pipe(toShim);
      toShim.on('finish', () => {
        if (!config.stdinOnce || config.tty) return done();
        const cd = this.c.cd;
        void cd.call(cd.tasks, cd.tasks.closeIo, { containerId: rec.id, execId: '', stdin: true }).catch(() => undefined);
      });
    });
  }

  async portForward(podSandboxId: string, port: number, stream: Duplex): Promise<void> {
    const pod = this.c.store.sandbox(podSandboxId);
    if (pod.state !== 'ready') throw errdefs.failedPrecondition(`sandbox ${pod.id} is not ready`);
    const args = pod.netnsPath ? ['nsenter', `--net=${pod.netnsPath}`, '--', process.execPath] : [process.execPath];
    const child = spawn(args[0]!, [...args.slice(1), '-e', FORWARDER, String(port)], { stdio: ['pipe', 'pipe', 'pipe'] });
    const errText: Buffer[] = [];
    child.stderr.on('data', (d: Buffer) => errText.push(d));
    stream.pipe(child.stdin);
    child.stdout.pipe(stream);
    child.stdin.on('error', () => undefined);
    stream.on('error', () => child.kill('SIGKILL'));
    stream.on('close', () => child.kill('SIGKILL'));
    const code = await new Promise<number>((resolve) => {
      child.on('error', () => resolve(-1));
      child.on('close', (n) => resolve(n ?? -1));
    });
    if (code !== 0 && errText.length) {
      throw errdefs.unavailable(`failed to connect to 127.0.0.1:${port} in pod ${pod.id}: ${Buffer.concat(errText).toString().trim()}`);
    }
  }
}
