/**
 * Entry point of the init and exec stages (the counterpart of `runc init`). Started by the runtime
 * with the sync socket's fd in _GANTRY_SYNC_FD; loads every module it needs up front, because after
 * pivot_root a lazy require would resolve inside the container's filesystem.
 */
import { linuxSys, span, traceBoot, traced, traceEnabled, traceProcess } from '@gantry/linux';
import { preloadSeccomp } from '@gantry/linux';
import { fdChannel, ParentGoneError } from './fd-channel';
import { receiveHandover, receiveInitHandover } from '../init/handover';
import { runExec, runInit } from '../init/init-sequence';
import { trace } from '../trace';
import { preloadHooks } from '../hooks';

export function main(): void {
  const fd = Number(process.env._GANTRY_SYNC_FD);
  if (!Number.isInteger(fd) || fd < 3) {
    process.stderr.write('gantry-runtime: this entry point is started by the runtime, not by hand\n');
    process.exit(2);
  }
  trace('stage loaded');
  const sys = linuxSys();
  // Now, before pivot_root hides the trace directory; named by its pid in the host's procfs (still
  // our /proc), not pid 1 of the container's namespace.
  if (traceEnabled()) {
    traceProcess('gantry-stage', Number(sys.readlink('/proc/self')));
    traceBoot('stage.boot');
  }
  // Started through nsenter (a user namespace): its copy of the sealed node handle, which nsenter
  // exec'd, is not ours to keep.
  const exeFd = Number(process.env._GANTRY_EXE_FD);
  if (Number.isInteger(exeFd) && exeFd > 2 && exeFd !== fd) sys.close(exeFd);
  delete process.env._GANTRY_EXE_FD;
  const ch = fdChannel(sys, fd);
  let started = false;
  try {
    // Loaded: the runtime may now charge us to the container's cgroup (see 'booted' in messages.ts).
    // The host's procfs (still our /proc) names our pid, also when the trampoline forked us into
    // the container's pid namespace and we are not the runtime's child.
    ch.send({ type: 'booted', pid: Number(sys.readlink('/proc/self')) });
    const waitSpan = span('stage.wait-bootstrap');
    const msg = ch.receive();
    waitSpan.end({ mode: msg.mode });
    trace('stage bootstrap received');
    if (msg.mode === 'init') {
      if (msg.seccomp || msg.seccompCompiled) preloadSeccomp();
      if (msg.spec.hooks?.createContainer?.length || msg.spec.hooks?.startContainer?.length) preloadHooks();
      started = true;
      runInit(sys, ch, msg.handover ? traced('stage.init.handover', () => receiveInitHandover(sys, msg)) : msg);
    } else if (msg.mode === 'exec') {
      if (msg.seccomp || msg.seccompCompiled) traced('stage.exec.load-seccomp', preloadSeccomp);
      started = true;
      runExec(sys, ch, msg.handover ? traced('stage.exec.handover', () => receiveHandover(sys, msg)) : msg);
    }
    throw new Error('unexpected bootstrap message');
  } catch (e) {
    // The parent gave up on us (a failed hook, a killed runtime): it owns the error report, and a
    // second line on the shared stderr would only blur it.
    if (e instanceof ParentGoneError) process.exit(1);
    const message = e instanceof Error ? e.message : String(e);
    try {
      ch.send({ type: 'error', message });
    } catch {
      // the parent is gone (after `create` returned): the container's stderr is all we have
      if (started) process.stderr.write(`gantry-runtime init: ${message}\n`);
    }
    process.exit(1);
  }
}

if (require.main === module) main();
