import { IdleCollector, pokingService } from '../src/idle-gc';

describe('IdleCollector', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('collects `rounds` times once no call came for idleMs, and again after the next activity', () => {
    const gc = jest.fn();
    const trim = jest.fn();
    const idle = new IdleCollector(gc, trim, 1000, 3);
    idle.poke();
    jest.advanceTimersByTime(600);
    idle.poke(); // activity restarts the quiet time
    jest.advanceTimersByTime(600);
    expect(gc).not.toHaveBeenCalled();
    jest.advanceTimersByTime(400);
    expect(gc).toHaveBeenCalledTimes(3);
    expect(trim).toHaveBeenCalledTimes(1); // after the collections
    expect(trim.mock.invocationCallOrder[0]).toBeGreaterThan(gc.mock.invocationCallOrder[2]!);
    jest.advanceTimersByTime(5000);
    expect(gc).toHaveBeenCalledTimes(3); // idle stays idle: no collection without activity
    idle.poke();
    jest.advanceTimersByTime(1000);
    expect(gc).toHaveBeenCalledTimes(6);
  });

  it('does nothing without gc (node without --expose-gc)', () => {
    const idle = new IdleCollector(undefined, () => undefined, 10);
    idle.poke();
    expect(jest.getTimerCount()).toBe(0);
  });

  it('pokes on every handler call and passes the call through', () => {
    const gc = jest.fn();
    const idle = new IdleCollector(gc, () => undefined, 100, 1);
    const impl = pokingService(idle, { echo: (a: number, b: number) => a + b });
    expect(impl.echo(2, 3)).toBe(5);
    jest.advanceTimersByTime(100);
    expect(gc).toHaveBeenCalledTimes(1);
  });
});
