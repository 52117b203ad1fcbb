import { applyProbeResult, goDuration, healthSettings, LimitedOutput, MAX_OUTPUT_BYTES, nextProbeDelay, type ProbeResult } from '../src/containers/health';
import type { HealthState } from '../src/containers/record';
import { nextRestartDelay, policyRestarts, restartsOnDaemonStart } from '../src/containers/restart-policy';

const started = '2026-01-01T00:00:00.000Z';
const at = (ms: number, code: number, out = ''): ProbeResult => {
  const t = new Date(Date.parse(started) + ms).toISOString();
  return { Start: t, End: t, ExitCode: code, Output: out };
};
const fresh: HealthState = { Status: 'starting', FailingStreak: 0, Log: [] };

describe('healthSettings', () => {
  it('takes CMD as argv and CMD-SHELL through the shell', () => {
    expect(healthSettings({ Test: ['CMD', 'cat', '/ok'] })?.probe).toEqual(['cat', '/ok']);
    expect(healthSettings({ Test: ['CMD-SHELL', 'test -f /ok'] })?.probe).toEqual(['/bin/sh', '-c', 'test -f /ok']);
    expect(healthSettings({ Test: ['CMD-SHELL', 'x'] }, ['/bin/bash', '-ec'])?.probe).toEqual(['/bin/bash', '-ec', 'x']);
  });
  it('is off for NONE, no test, or an empty command', () => {
    expect(healthSettings({ Test: ['NONE'] })).toBeNull();
    expect(healthSettings(undefined)).toBeNull();
    expect(healthSettings({ Test: [] })).toBeNull();
    expect(healthSettings({ Test: ['CMD'] })).toBeNull();
  });
  it("fills Docker's defaults and converts nanoseconds", () => {
    expect(healthSettings({ Test: ['CMD', 'true'] })).toEqual({
      probe: ['true'],
      intervalMs: 30000,
      timeoutMs: 30000,
      startPeriodMs: 0,
      startIntervalMs: 5000,
      retries: 3,
    });
    const s = healthSettings({ Test: ['CMD', 'true'], Interval: 1.5e9, Timeout: 2e9, StartPeriod: 10e9, StartInterval: 5e8, Retries: 7 })!;
    expect([s.intervalMs, s.timeoutMs, s.startPeriodMs, s.startIntervalMs, s.retries]).toEqual([1500, 2000, 10000, 500, 7]);
  });
});

describe('applyProbeResult', () => {
  const s = { retries: 3, startPeriodMs: 0 };
  it('turns healthy on the first success and clears the streak', () => {
    const h = applyProbeResult({ Status: 'unhealthy', FailingStreak: 5, Log: [] }, at(1000, 0, 'ok'), s, started);
    expect(h).toEqual({ Status: 'healthy', FailingStreak: 0, Log: [at(1000, 0, 'ok')] });
  });
  it('turns unhealthy after `retries` consecutive failures, not before', () => {
    let h = fresh;
    h = applyProbeResult(h, at(1000, 1), s, started);
    h = applyProbeResult(h, at(2000, 1), s, started);
    expect(h).toMatchObject({ Status: 'starting', FailingStreak: 2 });
    h = applyProbeResult(h, at(3000, 2), s, started);
    expect(h).toMatchObject({ Status: 'unhealthy', FailingStreak: 3 });
    h = applyProbeResult(h, at(4000, 0), s, started);
    expect(h).toMatchObject({ Status: 'healthy', FailingStreak: 0 });
    h = applyProbeResult(h, at(5000, -1), s, started);
    expect(h).toMatchObject({ Status: 'healthy', FailingStreak: 1 });
  });
  it('does not count failures inside the start period while starting', () => {
    const sp = { retries: 1, startPeriodMs: 5000 };
    let h = applyProbeResult(fresh, at(1000, 1), sp, started);
    expect(h).toMatchObject({ Status: 'starting', FailingStreak: 0 });
    expect(h.Log).toHaveLength(1);
    h = applyProbeResult(h, at(6000, 1), sp, started);
    expect(h).toMatchObject({ Status: 'unhealthy', FailingStreak: 1 });
  });
  it('counts failures inside the start period once it was healthy', () => {
    const sp = { retries: 1, startPeriodMs: 5000 };
    const h = applyProbeResult(applyProbeResult(fresh, at(1000, 0), sp, started), at(2000, 1), sp, started);
    expect(h).toMatchObject({ Status: 'unhealthy', FailingStreak: 1 });
  });
  it('keeps the last 5 results', () => {
    let h = fresh;
    for (let i = 1; i <= 7; i++) h = applyProbeResult(h, at(i * 1000, 0, `n${i}`), s, started);
    expect(h.Log.map((l) => l.Output)).toEqual(['n3', 'n4', 'n5', 'n6', 'n7']);
  });
});

describe('nextProbeDelay', () => {
  const s = healthSettings({ Test: ['CMD', 'true'], Interval: 10e9, StartPeriod: 20e9, StartInterval: 1e9 })!;
  it('probes at the start interval while starting in the start period, else at the interval', () => {
    expect(nextProbeDelay(s, 'starting', 1000)).toBe(1000);
    expect(nextProbeDelay(s, 'healthy', 1000)).toBe(10000);
    expect(nextProbeDelay(s, 'starting', 25000)).toBe(10000);
  });
});

describe('probe output and messages', () => {
  it('keeps the first 4096 bytes and marks a cut', () => {
    const o = new LimitedOutput();
    o.write(Buffer.from('a'.repeat(4000)));
    o.write(Buffer.from('b'.repeat(200)));
    const s = o.toString();
    expect(s).toHaveLength(MAX_OUTPUT_BYTES + 3);
    expect(s.endsWith('b...')).toBe(true);
    const short = new LimitedOutput();
    short.write(Buffer.from('hi\n'));
    expect(short.toString()).toBe('hi\n');
  });
  it('prints durations as Go does', () => {
    expect(goDuration(500)).toBe('500ms');
    expect(goDuration(1000)).toBe('1s');
    expect(goDuration(1500)).toBe('1.5s');
    expect(goDuration(30000)).toBe('30s');
    expect(goDuration(90000)).toBe('1m30s');
    expect(goDuration(3_600_000)).toBe('1h0m0s');
  });
});

describe('restart back-off', () => {
  it('starts at 100 ms, doubles, caps at a minute, and starts over after 10 s of running', () => {
    const seq: number[] = [];
    let d = 0;
    for (let i = 0; i < 12; i++) seq.push((d = nextRestartDelay(d, 50)));
    expect(seq.slice(0, 5)).toEqual([100, 200, 400, 800, 1600]);
    expect(seq[10]).toBe(60000);
    expect(seq[11]).toBe(60000);
    expect(nextRestartDelay(6400, 10_000)).toBe(100);
    expect(nextRestartDelay(6400, 9_999)).toBe(12800);
  });

  it("with gantry-containerd's 5 s cap: a crash loop settles at 5 s, a crash after a stable run retries at once", () => {
    let d = 0;
    for (let i = 0; i < 10; i++) d = nextRestartDelay(d, 200, 5000);
    expect(d).toBe(5000);
    expect(nextRestartDelay(d, 60_000, 5000)).toBe(100);
  });
});

describe('restart policies', () => {
  const f = (exitCode: number, manuallyStopped = false, restartCount = 0) => ({ exitCode, manuallyStopped, restartCount });
  it('no / empty never restart', () => {
    expect(policyRestarts(undefined, f(1))).toBe(false);
    expect(policyRestarts({ Name: 'no' }, f(1))).toBe(false);
    expect(policyRestarts({ Name: '' }, f(1))).toBe(false);
  });
  it('on-failure restarts non-zero exits up to the maximum', () => {
    const p = { Name: 'on-failure', MaximumRetryCount: 2 };
    expect(policyRestarts(p, f(0))).toBe(false);
    expect(policyRestarts(p, f(3, false, 0))).toBe(true);
    expect(policyRestarts(p, f(3, false, 1))).toBe(true);
    expect(policyRestarts(p, f(3, false, 2))).toBe(false);
    expect(policyRestarts({ Name: 'on-failure' }, f(3, false, 1000))).toBe(true);
  });
  it('always and unless-stopped restart any exit; unless-stopped not after a manual stop', () => {
    expect(policyRestarts({ Name: 'always' }, f(0))).toBe(true);
    expect(policyRestarts({ Name: 'unless-stopped' }, f(0))).toBe(true);
    expect(policyRestarts({ Name: 'unless-stopped' }, f(0, true))).toBe(false);
  });
  it('on gantryd start: always even if stopped by the user, unless-stopped only if not, never a container that never ran', () => {
    const g = (exitCode: number, manuallyStopped: boolean, hasRun = true) => ({ exitCode, manuallyStopped, restartCount: 0, hasRun });
    expect(restartsOnDaemonStart({ Name: 'always' }, g(137, true))).toBe(true);
    expect(restartsOnDaemonStart({ Name: 'unless-stopped' }, g(137, true))).toBe(false);
    expect(restartsOnDaemonStart({ Name: 'unless-stopped' }, g(0, false))).toBe(true);
    expect(restartsOnDaemonStart({ Name: 'always' }, g(0, false, false))).toBe(false);
    expect(restartsOnDaemonStart({ Name: 'on-failure' }, g(137, true))).toBe(false);
    expect(restartsOnDaemonStart({ Name: 'no' }, g(1, false))).toBe(false);
  });
});
