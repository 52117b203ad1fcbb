/** `docker ps`'s Status column as dockerd words it (moby's State.String over go-units HumanDuration). */
import { statusText } from '../src/containers/status';
import { initialState, type ContainerState } from '../src/containers/record';

const NOW = Date.parse('2026-02-01T12:00:00.000Z');
const ago = (seconds: number): string => new Date(NOW - seconds * 1000).toISOString();
const state = (s: Partial<ContainerState>): ContainerState => ({ ...initialState(), ...s });

describe('container status text', () => {
  it.each([
    [0.4, 'Up Less than a second'],
    [1, 'Up 1 second'],
    [59, 'Up 59 seconds'],
    [100, 'Up About a minute'],
    [119, 'Up About a minute'],
    [150, 'Up 2 minutes'],
    [3599, 'Up 59 minutes'],
    [3600 + 1700, 'Up About an hour'],
    [3600 + 1900, 'Up 2 hours'],
    [47 * 3600, 'Up 47 hours'],
    [3 * 86400, 'Up 3 days'],
    [20 * 86400, 'Up 2 weeks'],
  ])('running %ss', (seconds, want) => {
    expect(statusText(state({ Status: 'running', Running: true, StartedAt: ago(seconds) }), NOW)).toBe(want);
  });

  it('exited, paused, healthy, starting, restarting, created, removing, dead', () => {
    const run = { Status: 'running', Running: true, StartedAt: ago(200) } as const;
    expect(statusText(state({ Status: 'exited', ExitCode: 3, StartedAt: ago(400), FinishedAt: ago(90) }), NOW)).toBe('Exited (3) About a minute ago');
    expect(statusText(state({ ...run, Status: 'paused', Paused: true }), NOW)).toBe('Up 3 minutes (Paused)');
    const health = (Status: 'starting' | 'healthy' | 'unhealthy') => ({ Status, FailingStreak: 0, Log: [] });
    expect(statusText(state({ ...run, Health: health('healthy') }), NOW)).toBe('Up 3 minutes (healthy)');
    expect(statusText(state({ ...run, Health: health('unhealthy') }), NOW)).toBe('Up 3 minutes (unhealthy)');
    expect(statusText(state({ ...run, Health: health('starting') }), NOW)).toBe('Up 3 minutes (health: starting)');
    // our record clears Running on exit; a pending restart still reads as dockerd's
    expect(statusText(state({ Status: 'restarting', Restarting: true, ExitCode: 1, StartedAt: ago(30), FinishedAt: ago(5) }), NOW)).toBe(
      'Restarting (1) 5 seconds ago',
    );
    expect(statusText(state({}), NOW)).toBe('Created');
    expect(statusText(state({ Status: 'removing', ExitCode: 0, StartedAt: ago(30), FinishedAt: ago(5) }), NOW)).toBe('Removal In Progress');
    expect(statusText(state({ Status: 'dead', Dead: true, StartedAt: ago(30), FinishedAt: ago(5) }), NOW)).toBe('Dead');
  });
});
