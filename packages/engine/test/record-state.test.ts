/** The container state transitions of record.ts: what each sets, what it keeps, and that it never mutates the State it replaces. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  initialState,
  NULL_TIME,
  setAdopted,
  setExited,
  setHealth,
  setOomKilled,
  setPaused,
  setRemoving,
  setRestartCancelled,
  setRestarting,
  setRunning,
  setStartFailed,
  setUnpaused,
  type ContainerRecord,
  type ContainerState,
} from '../src/containers/record';

function record(state: Partial<ContainerState> = {}): ContainerRecord {
  return {
    Id: 'c'.repeat(64),
    Name: '/c',
    Created: '2026-01-01T00:00:00.000Z',
    Path: 'sh',
    Args: [],
    Image: 'busybox',
    ImageID: 'sha256:0',
    Config: {},
    HostConfig: {},
    State: { ...initialState(), ...state },
    RestartCount: 0,
    LogPath: '/dev/null',
    ManuallyStopped: false,
    SnapshotKey: 'c',
  };
}

const T0 = new Date('2026-02-01T10:00:00.000Z');
const T1 = new Date('2026-02-01T10:05:00.000Z');

/** Apply `f` and return the State before, which must be unchanged. */
function transition(rec: ContainerRecord, f: (r: ContainerRecord) => void): void {
  const before = rec.State;
  const copy = structuredClone(before);
  f(rec);
  expect(rec.State).not.toBe(before);
  expect(before).toEqual(copy);
}

describe('container state transitions', () => {
  it('a run: running, OOM-killed, exited (OOMKilled kept), restarting, running again (last run cleared)', () => {
    const rec = record();
    transition(rec, (r) => setRunning(r, 42, T0));
    expect(rec.State).toEqual({ ...initialState(), Status: 'running', Running: true, Pid: 42, StartedAt: T0.toISOString() });

    transition(rec, setOomKilled);
    expect(rec.State.OOMKilled).toBe(true);
    expect(rec.State.Running).toBe(true);

    transition(rec, (r) => setExited(r, 137, T1));
    expect(rec.State).toMatchObject({ Status: 'exited', Running: false, Paused: false, Restarting: false, Pid: 0, ExitCode: 137, OOMKilled: true });
    expect(rec.State).toMatchObject({ StartedAt: T0.toISOString(), FinishedAt: T1.toISOString() });

    transition(rec, setRestarting);
    expect(rec.State).toMatchObject({ Status: 'restarting', Restarting: true, Running: false, ExitCode: 137 });

    transition(rec, (r) => setRunning(r, 43, T1));
    expect(rec.State).toMatchObject({ Status: 'running', Running: true, Restarting: false, OOMKilled: false, ExitCode: 0, Error: '', Pid: 43 });
    expect(rec.State.FinishedAt).toBe(NULL_TIME);
  });

  it('setExited clears a pause (a paused container killed by rm -f)', () => {
    const rec = record({ Status: 'paused', Running: true, Paused: true, Pid: 7 });
    setExited(rec, 137, T1);
    expect(rec.State).toMatchObject({ Status: 'exited', Paused: false, Running: false, Pid: 0 });
  });

  it('pause and unpause', () => {
    const rec = record({ Status: 'running', Running: true, Pid: 7 });
    transition(rec, setPaused);
    expect(rec.State).toMatchObject({ Status: 'paused', Paused: true, Running: true });
    transition(rec, setUnpaused);
    expect(rec.State).toMatchObject({ Status: 'running', Paused: false, Running: true });
  });

  it.each<[string, Partial<ContainerState>, string]>([
    ['never started: stays created', {}, 'created'],
    ['ran before: exited', { Status: 'exited', ExitCode: 3, FinishedAt: T0.toISOString() }, 'exited'],
  ])('a start that failed, %s', (_name, state, status) => {
    const rec = record(state);
    transition(rec, (r) => setStartFailed(r, 'exec: "nope": executable file not found in $PATH', 127));
    expect(rec.State).toMatchObject({ Status: status, Running: false, ExitCode: 127, Error: 'exec: "nope": executable file not found in $PATH' });
  });

  it('a stop while waiting for an automatic restart: exited, no longer restarting', () => {
    const rec = record({ Status: 'restarting', Restarting: true, ExitCode: 1 });
    transition(rec, setRestartCancelled);
    expect(rec.State).toMatchObject({ Status: 'exited', Restarting: false, ExitCode: 1 });
  });

  it('removing keeps the rest (the exit code wait reports)', () => {
    const rec = record({ Status: 'exited', ExitCode: 5 });
    transition(rec, setRemoving);
    expect(rec.State).toMatchObject({ Status: 'removing', ExitCode: 5 });
  });

  it.each([false, true])('adopted at restore (paused %s): running again, its run (StartedAt) goes on', (paused) => {
    const rec = record({ Status: 'running', Running: true, Pid: 9, StartedAt: T0.toISOString() });
    transition(rec, (r) => setAdopted(r, 99, paused));
    expect(rec.State).toMatchObject({ Status: paused ? 'paused' : 'running', Running: true, Paused: paused, Pid: 99, StartedAt: T0.toISOString() });
  });

  it('health', () => {
    const rec = record({ Status: 'running', Running: true });
    const health = { Status: 'healthy' as const, FailingStreak: 0, Log: [] };
    transition(rec, (r) => setHealth(r, health));
    expect(rec.State.Health).toEqual(health);
    expect(rec.State.Running).toBe(true);
  });
});

it('no State is built outside record.ts: every change goes through its transitions', () => {
  // a spread of a State (`{ ...rec.State, ... }`) elsewhere in src/ would bypass them
  const src = path.join(__dirname, '..', 'src');
  const offenders: string[] = [];
  const walk = (dir: string): void => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (p.endsWith('.ts') && !p.endsWith(path.join('containers', 'record.ts'))) {
        const text = fs.readFileSync(p, 'utf8');
        if (/\.State\s*=\s*\{|\.\.\.\s*\w+\.State\b/.test(text)) offenders.push(path.relative(src, p));
      }
    }
  };
  walk(src);
  expect(offenders).toEqual([]);
});
