import { until, waitFor } from '../src';

describe('waitFor', () => {
  it('resolves with the first truthy value, sync or async', async () => {
    let n = 0;
    expect(await waitFor('n to reach 3', () => ++n >= 3 && n)).toBe(3);
    let m = 0;
    expect(await waitFor('an async value', async () => (++m === 2 ? 'ready' : undefined))).toBe('ready');
  });

  it('counts a throw as "not yet", and names the last one when it gives up', async () => {
    let n = 0;
    expect(
      await waitFor('no throw', () => {
        if (++n < 3) throw new Error('ENOENT');
        return n;
      }),
    ).toBe(3);
    await expect(
      waitFor(
        'a file',
        () => {
          throw new Error('ENOENT: no such file');
        },
        { timeoutMs: 60, stepMs: 10 },
      ),
    ).rejects.toThrow('timed out waiting for a file: Error: ENOENT: no such file');
  });
});

describe('until', () => {
  it('resolves with the first accepted value, and shows the last value seen when it times out', async () => {
    let n = 0;
    expect(
      await until(
        'n > 2',
        () => ++n,
        (v) => v > 2,
      ),
    ).toBe(3);
    await expect(
      until(
        'a restart',
        () => ({ RestartCount: 2 }),
        (v) => v.RestartCount === 1,
        60,
      ),
    ).rejects.toThrow('timed out waiting for a restart; last: {"RestartCount":2}');
  });
});
