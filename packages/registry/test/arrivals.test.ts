import { inOrderOfArrival } from '../src/arrivals';

/** A fetch that finishes when told to. */
function gate() {
  const pending = new Map<string, { resolve: () => void; reject: (e: Error) => void }>();
  const started: string[] = [];
  const fetch = (item: { digest: string }) =>
    new Promise<void>((resolve, reject) => {
      started.push(item.digest);
      pending.set(item.digest, { resolve, reject });
    });
  return { fetch, started, pending };
}

const tick = () => new Promise((r) => setImmediate(r));
const items = ['a', 'b', 'c', 'd'].map((digest) => ({ digest }));

describe('inOrderOfArrival', () => {
  it('tells each arrival on its own while later items still run, at most n at once', async () => {
    const g = gate();
    const arrivals = inOrderOfArrival(2, items, g.fetch);
    await tick();
    expect(g.started).toEqual(['a', 'b']);
    let aReady = false;
    void arrivals.ready('a').then(() => (aReady = true));
    g.pending.get('b')!.resolve();
    await arrivals.ready('b');
    expect(aReady).toBe(false); // b arrived first; a is still downloading
    await tick();
    expect(g.started).toEqual(['a', 'b', 'c']); // b's slot went to c
    g.pending.get('a')!.resolve();
    await arrivals.ready('a');
    await tick();
    g.pending.get('c')!.resolve();
    await tick();
    g.pending.get('d')!.resolve();
    await expect(arrivals.settled).resolves.toBeUndefined();
    await expect(arrivals.ready('d')).resolves.toBeUndefined();
  });

  it('fails the waits of items that never started with the first failure, and starts nothing more', async () => {
    const g = gate();
    const arrivals = inOrderOfArrival(2, items, g.fetch);
    await tick();
    const boom = new Error('layer a: 500');
    g.pending.get('a')!.reject(boom);
    await expect(arrivals.ready('a')).rejects.toBe(boom);
    g.pending.get('b')!.resolve();
    await expect(arrivals.settled).rejects.toBe(boom);
    await expect(arrivals.ready('b')).resolves.toBeUndefined();
    await expect(arrivals.ready('d')).rejects.toBe(boom);
    expect(g.started).toEqual(['a', 'b']);
  });

  it('has no arrival for a digest it was not given', async () => {
    const seen: string[] = [];
    const arrivals = inOrderOfArrival(3, [{ digest: 'x' }, { digest: 'y' }], async (i) => void seen.push(i.digest));
    await arrivals.settled;
    expect(seen).toEqual(['x', 'y']);
    await expect(arrivals.ready('z')).rejects.toThrow('z is not being fetched');
  });
});
