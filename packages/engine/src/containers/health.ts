import { randomBytes } from 'node:crypto';
import * as path from 'node:path';
import { tasks as tpb } from '@gantry/api';
import type { EngineContext } from '../context';
import { ContainerIO, createFifos, removeFifos, type StdioFifos } from '../streams/fifo-stdio';
import type { ContainerConfig, HealthConfig } from '@gantry/engine-api';
import { setHealth, type ContainerRecord, type HealthState } from './record';
import type { ContainerStore } from './store';

/** Docker's defaults (nanoseconds in the API; milliseconds here). */
const DEFAULT_INTERVAL_MS = 30_000;
const DEFAULT_TIMEOUT_MS = 30_000;
const DEFAULT_START_INTERVAL_MS = 5_000;
const DEFAULT_RETRIES = 3;
/** Docker keeps the last 5 probe results and the first 4096 bytes of each probe's output. */
const MAX_LOG_ENTRIES = 5;
export const MAX_OUTPUT_BYTES = 4096;

export interface HealthSettings {
  /** argv of the probe process */
  probe: string[];
  intervalMs: number;
  timeoutMs: number;
  startPeriodMs: number;
  startIntervalMs: number;
  retries: number;
}

export interface ProbeResult {
  Start: string;
  End: string;
  ExitCode: number;
  Output: string;
}

const nsToMs = (ns: number | undefined, fallback: number): number => (ns && ns > 0 ? Math.max(1, Math.round(ns / 1e6)) : fallback);
/**
 * Node fires a timer set past 2^31 - 1 ms (24.8 days) after 1 ms: a Healthcheck.Interval of 100
 * days would probe without pause. Timer durations are capped there (dockerd has no such limit).
 */
const MAX_TIMER_MS = 2 ** 31 - 1;
const timerMs = (ns: number | undefined, fallback: number): number => Math.min(nsToMs(ns, fallback), MAX_TIMER_MS);

/**
 * The probe and its timings from a container's (image-merged) Healthcheck, or null when there is
 * none: no Test, `["NONE"]`, or an unknown test kind (dockerd ignores those too).
 */
export function healthSettings(h: HealthConfig | undefined, shell: string[] = ['/bin/sh', '-c']): HealthSettings | null {
  const test = h?.Test ?? [];
  let probe: string[];
  switch (test[0]) {
    case 'CMD':
      probe = test.slice(1);
      break;
    case 'CMD-SHELL':
      probe = [...shell, test.slice(1).join(' ')];
      break;
    default:
      return null;
  }
  if (probe.length === 0 || probe[0] === '') return null;
  return {
    probe,
    intervalMs: timerMs(h?.Interval, DEFAULT_INTERVAL_MS),
    timeoutMs: timerMs(h?.Timeout, DEFAULT_TIMEOUT_MS),
    startPeriodMs: nsToMs(h?.StartPeriod, 0),
    startIntervalMs: timerMs(h?.StartInterval, DEFAULT_START_INTERVAL_MS),
    retries: h?.Retries && h.Retries > 0 ? h.Retries : DEFAULT_RETRIES,
  };
}

/** The wait before the next probe: the start interval while starting inside the start period. */
export function nextProbeDelay(s: HealthSettings, status: HealthState['Status'], sinceStartMs: number): number {
  return sinceStartMs < s.startPeriodMs && status === 'starting' ? s.startIntervalMs : s.intervalMs;
}

/**
 * Docker's state machine for one probe result: exit 0 is healthy and clears the streak; any other
 * result adds to the failing streak (not while starting inside the start period), and `retries`
 * consecutive failures make the container unhealthy.
 */
export function applyProbeResult(prev: HealthState, r: ProbeResult, s: Pick<HealthSettings, 'retries' | 'startPeriodMs'>, startedAt: string): HealthState {
  const Log = [...prev.Log, r].slice(-MAX_LOG_ENTRIES);
  if (r.ExitCode === 0) return { Status: 'healthy', FailingStreak: 0, Log };
  const inStartPeriod = prev.Status === 'starting' && Date.parse(r.Start) - Date.parse(startedAt) < s.startPeriodMs;
  if (inStartPeriod) return { ...prev, Log };
  const FailingStreak = prev.FailingStreak + 1;
  return { Status: FailingStreak >= s.retries ? 'unhealthy' : prev.Status, FailingStreak, Log };
}

/** Keeps the first MAX_OUTPUT_BYTES of a probe's output; "..." marks a cut, as Docker does. */
export class LimitedOutput {
  private readonly chunks: Buffer[] = [];
  private size = 0;
  private truncated = false;

  write(data: Buffer): void {
    const keep = Math.min(MAX_OUTPUT_BYTES - this.size, data.length);
    if (keep > 0) {
      this.chunks.push(data.subarray(0, keep));
      this.size += keep;
    }
    if (keep < data.length) this.truncated = true;
  }

  toString(): string {
    return Buffer.concat(this.chunks).toString('utf8') + (this.truncated ? '...' : '');
  }
}

/** A millisecond duration as Go prints a time.Duration ("1s", "500ms", "1m30s"), for Docker's timeout message. */
export function goDuration(ms: number): string {
  if (ms < 1000) return `${ms}ms`;
  const h = Math.floor(ms / 3_600_000);
  const m = Math.floor((ms % 3_600_000) / 60_000);
  const s = (ms % 60_000) / 1000;
  const sec = `${Number.isInteger(s) ? s : s.toFixed(3).replace(/0+$/, '')}s`;
  if (h) return `${h}h${m}m${sec}`;
  if (m) return `${m}m${sec}`;
  return sec;
}

interface Monitor {
  settings: HealthSettings;
  timer?: NodeJS.Timeout;
  /** Ends a probe in flight (the container stopped). */
  abort?: () => void;
  stopped: boolean;
}

/**
 * Runs a container's healthcheck while it runs: each probe is an exec in the container through
 * gantry-containerd, its result recorded in State.Health (persisted, so it survives a gantryd
 * restart) and a `health_status: <status>` event emitted when the status changes.
 */
export class HealthMonitor {
  private readonly monitors = new Map<string, Monitor>();
  /** `<container id>/<probe exec id>` → what its /tasks/exit resolves. */
  private readonly probeExits = new Map<string, (code: number) => void>();

  constructor(
    private readonly ctx: EngineContext,
    private readonly store: ContainerStore,
  ) {}

  private settingsOf(rec: ContainerRecord): HealthSettings | null {
    const cfg = rec.Config as ContainerConfig;
    return healthSettings(cfg.Healthcheck, cfg.Shell?.length ? cfg.Shell : undefined);
  }

  /** A /tasks/exit with an exec id: true when it was one of our probes. */
  handleExecExit(containerId: string, execId: string, exitStatus: number): boolean {
    const done = this.probeExits.get(`${containerId}/${execId}`);
    if (!done) return false;
    done(exitStatus);
    return true;
  }

  /** The container (re)started: status "starting", streak cleared, probes from now on. */
  start(id: string): void {
    this.stop(id);
    const rec = this.store.find(id);
    if (!rec) return;
    const settings = this.settingsOf(rec);
    if (!settings) return;
    setHealth(rec, { Status: 'starting', FailingStreak: 0, Log: rec.State.Health?.Log ?? [] });
    this.store.save(rec);
    this.run(id, settings);
  }

  /** After a gantryd restart: carry on from the persisted state. */
  resume(id: string): void {
    this.stop(id);
    const rec = this.store.find(id);
    if (!rec) return;
    const settings = this.settingsOf(rec);
    if (!settings) return;
    if (!rec.State.Health) {
      setHealth(rec, { Status: 'starting', FailingStreak: 0, Log: [] });
      this.store.save(rec);
    }
    this.run(id, settings);
  }

  stop(id: string): void {
    const m = this.monitors.get(id);
    if (!m) return;
    m.stopped = true;
    clearTimeout(m.timer);
    m.abort?.();
    this.monitors.delete(id);
  }

  stopAll(): void {
    for (const id of [...this.monitors.keys()]) this.stop(id);
  }

  private run(id: string, settings: HealthSettings): void {
    const m: Monitor = { settings, stopped: false };
    this.monitors.set(id, m);
    const schedule = (): void => {
      const rec = this.store.find(id);
      if (m.stopped || !rec) return;
      const delay = nextProbeDelay(settings, rec.State.Health?.Status ?? 'starting', Date.now() - Date.parse(rec.State.StartedAt));
      m.timer = setTimeout(() => void tick(), delay);
      m.timer.unref();
    };
    const tick = async (): Promise<void> => {
      const rec = this.store.find(id);
      if (m.stopped || !rec || !rec.State.Running) return;
      if (!rec.State.Paused) {
        const result = await this.probe(rec, m).catch((e: unknown) => {
          const now = new Date().toISOString();
          return { Start: now, End: now, ExitCode: -1, Output: `failed to run health check: ${String(e)}` };
        });
        const cur = this.store.find(id);
        if (m.stopped || !cur || !cur.State.Running) return;
        const before = cur.State.Health ?? { Status: 'starting' as const, FailingStreak: 0, Log: [] };
        const after = applyProbeResult(before, result, settings, cur.State.StartedAt);
        setHealth(cur, after);
        this.store.save(cur);
        if (after.Status !== before.Status)
          this.ctx.events.emit('container', `health_status: ${after.Status}`, id, { image: cur.Image, name: cur.Name.slice(1) });
      }
      schedule();
    };
    schedule();
  }

  /** One probe: an exec of the test command with the container's process settings, killed at the timeout. */
  private async probe(rec: ContainerRecord, m: Monitor): Promise<ProbeResult> {
    const { cd } = this.ctx;
    const execId = `health-${randomBytes(8).toString('hex')}`;
    const fifos: StdioFifos = createFifos(path.join(this.store.containerDir(rec.Id), 'fifos'), execId, { stdin: false, stdout: true, stderr: true });
    const io = ContainerIO.open(fifos, { terminal: false });
    const out = new LimitedOutput();
    io.subscribe((c) => out.write(c.data));
    const start = new Date();
    let created = false;
    // the probe's exit comes on the event stream; registered before it can start
    const exitKey = `${rec.Id}/${execId}`;
    const exited = new Promise<number>((r) => this.probeExits.set(exitKey, r));
    try {
      const got = await cd.call(cd.containers, cd.containers.get, { id: rec.Id });
      const spec = JSON.parse(Buffer.from(got.container!.spec!.value).toString('utf8')) as { process?: Record<string, unknown> };
      const proc: Record<string, unknown> = { ...(spec.process ?? {}), args: m.settings.probe, terminal: false };
      delete proc.consoleSize;
      await cd.call(
        cd.tasks,
        cd.tasks.exec,
        tpb.ExecProcessRequest.fromPartial({
          containerId: rec.Id,
          execId,
          stdout: fifos.stdout,
          stderr: fifos.stderr,
          terminal: false,
          spec: { typeUrl: 'types.containerd.io/opencontainers/runtime-spec/1/Process', value: Buffer.from(JSON.stringify(proc)) },
        }),
        30000,
      );
      created = true;
      // dockerd reports probes as execs too
      const attrs = { execID: execId, name: rec.Name.slice(1) };
      this.ctx.events.emit('container', `exec_create: ${m.settings.probe.join(' ')}`, rec.Id, attrs);
      await cd.call(cd.tasks, cd.tasks.start, { containerId: rec.Id, execId }, 30000);
      io.ready();
      this.ctx.events.emit('container', `exec_start: ${m.settings.probe.join(' ')}`, rec.Id, attrs);
      // a timeout or the container stopping ends our interest in its exit
      let timer: NodeJS.Timeout | undefined;
      const outcome = await new Promise<{ code: number } | 'timeout' | 'aborted'>((resolve) => {
        timer = setTimeout(() => resolve('timeout'), m.settings.timeoutMs);
        m.abort = () => resolve('aborted');
        void exited.then((code) => resolve({ code }));
      });
      clearTimeout(timer);
      m.abort = undefined;
      if (outcome === 'timeout' || outcome === 'aborted') {
        await cd.call(cd.tasks, cd.tasks.kill, tpb.KillRequest.fromPartial({ containerId: rec.Id, execId, signal: 9 })).catch(() => undefined);
        if (outcome === 'timeout')
          return {
            Start: start.toISOString(),
            End: new Date().toISOString(),
            ExitCode: -1,
            Output: `Health check exceeded timeout (${goDuration(m.settings.timeoutMs)})`,
          };
        return { Start: start.toISOString(), End: new Date().toISOString(), ExitCode: -1, Output: 'container stopped' };
      }
      this.ctx.events.emit('container', 'exec_die', rec.Id, { ...attrs, exitCode: String(outcome.code) });
      // output still in the FIFOs is read before the result is recorded
      await cd.call(cd.tasks, cd.tasks.deleteProcess, { containerId: rec.Id, execId }).catch(() => undefined);
      created = false;
      await Promise.race([io.ended, new Promise((r) => setTimeout(r, 1000))]);
      return { Start: start.toISOString(), End: new Date().toISOString(), ExitCode: outcome.code, Output: out.toString() };
    } finally {
      this.probeExits.delete(exitKey);
      if (created) await cd.call(cd.tasks, cd.tasks.deleteProcess, { containerId: rec.Id, execId }).catch(() => undefined);
      await io.close();
      removeFifos(fifos);
    }
  }
}
