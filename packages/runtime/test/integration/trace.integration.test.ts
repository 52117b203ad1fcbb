/**
 * GANTRY_TRACE on the real kernel: the CLI and the container's init stage each write their spans
 * (the stage before pivot_root hides the directory), and the variable never reaches the container.
 */
import * as path from 'node:path';
import { mergeTraceDir, type TraceEvent } from '@gantry/linux';
import { describeRoot, useHarness } from './helpers';

describeRoot('GANTRY_TRACE (root integration)', () => {
  const H = useHarness('trace');

  it('traces the runtime and its init stage, and keeps the variable out of the container', () => {
    const h = H();
    const dir = path.join(h.tmp, 'trace');
    const out = h.ok(['run', '--bundle', h.bundleFor(['env']), h.id('env')], { env: { GANTRY_TRACE: dir } });
    expect(out).toMatch(/^PATH=/m);
    expect(out).not.toMatch(/GANTRY/);

    const events = mergeTraceDir(dir).traceEvents;
    const tracks = new Map(events.filter((e) => e.name === 'process_name').map((e) => [e.pid, String(e.args?.name).split(' ')[0]]));
    const of = (track: string) => events.filter((e) => e.ph !== 'M' && tracks.get(e.pid) === track);
    const one = (evs: TraceEvent[], name: string) => {
      const found = evs.filter((e) => e.name === name);
      expect(found.map((e) => e.name)).toEqual([name]);
      return found[0]!;
    };
    const cli = of('gantry-runtime');
    const stage = of('gantry-stage');
    const create = one(cli, 'runtime.create');
    const ready = one(cli, 'runtime.create.wait-ready');
    expect(ready.ts!).toBeGreaterThanOrEqual(create.ts!);
    expect(ready.ts! + ready.dur!).toBeLessThanOrEqual(create.ts! + create.dur!);
    one(cli, 'runtime.start');
    // the stage's steps, in order, the last ones (after pivot_root and the close of stray fds) too
    const steps = [
      'stage.boot',
      'stage.init.namespaces',
      'stage.init.mounts',
      'stage.init.pivot',
      'stage.init.finalize',
      'stage.init.wait-start',
      'stage.execve',
    ];
    const at = steps.map((s) => one(stage, s).ts!);
    expect([...at].sort((a, b) => a - b)).toEqual(at);
    // the stage is named by its host pid, not pid 1 of the container's namespace
    expect(stage[0]!.pid).toBeGreaterThan(1);
    // one clock: the runtime waits for the stage's Node start-up, and its work lies within create
    const waitBoot = one(cli, 'runtime.create.wait-boot');
    const boot = one(stage, 'stage.boot');
    expect(boot.ts! + boot.dur!).toBeLessThanOrEqual(waitBoot.ts! + waitBoot.dur!);
    expect(one(stage, 'stage.init.mounts').ts!).toBeGreaterThan(create.ts!);
  });

  it('traces an exec: the runtime waits on the exec stage, whose steps come in order', () => {
    const h = H();
    const id = h.id('exec');
    h.runDetached(id, h.bundleFor(['sleep', '300']));
    const dir = path.join(h.tmp, 'trace-exec');
    expect(h.cli(['exec', id, 'true'], { env: { GANTRY_TRACE: dir } }).status).toBe(0);

    const events = mergeTraceDir(dir).traceEvents;
    const tracks = new Map(events.filter((e) => e.name === 'process_name').map((e) => [e.pid, String(e.args?.name).split(' ')[0]]));
    const of = (track: string) => events.filter((e) => e.ph !== 'M' && tracks.get(e.pid) === track);
    const one = (evs: TraceEvent[], name: string) => {
      const found = evs.filter((e) => e.name === name);
      expect(found.map((e) => e.name)).toEqual([name]);
      return found[0]!;
    };
    const cli = of('gantry-runtime');
    const stage = of('gantry-stage');
    const exec = one(cli, 'runtime.exec');
    const steps = ['stage.boot', 'stage.wait-bootstrap', 'stage.exec.close-fds', 'stage.exec.namespaces', 'stage.exec.finalize', 'stage.exec.spawn'];
    const at = steps.map((s) => one(stage, s).ts!);
    expect([...at].sort((a, b) => a - b)).toEqual(at);
    // the stage's start-up is what the runtime waits for, and the stage's work lies within the exec
    const boot = one(stage, 'stage.boot');
    const waitBooted = one(cli, 'runtime.exec.wait-booted');
    expect(boot.ts! + boot.dur!).toBeLessThanOrEqual(waitBooted.ts! + waitBooted.dur!);
    const spawn = one(stage, 'stage.exec.spawn');
    expect(spawn.ts! + spawn.dur!).toBeLessThanOrEqual(exec.ts! + exec.dur!);
    one(cli, 'runtime.exec.wait-spawned');
  });
});
