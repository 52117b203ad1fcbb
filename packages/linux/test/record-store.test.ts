import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { RecordConflict, RecordStore } from '@gantry/linux';
import { CRASH_HOOK, crashAtEachPoint, runChild } from '@gantry/testkit';

describe('RecordStore', () => {
  let root: string;
  beforeEach(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'gantry-store-'));
  });
  afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

  it('creates, reads, updates, lists and deletes records', () => {
    const s = new RecordStore(root);
    s.create(['ns', 'default', 'containers'], 'c1', { image: 'a' });
    expect(s.get(['ns', 'default', 'containers'], 'c1')).toEqual({ image: 'a' });
    expect(() => s.create(['ns', 'default', 'containers'], 'c1', {})).toThrow(RecordConflict);
    s.update(['ns', 'default', 'containers'], 'c1', { image: 'b' });
    expect(s.get(['ns', 'default', 'containers'], 'c1')).toEqual({ image: 'b' });
    expect(() => s.update(['ns', 'default', 'containers'], 'nope', {})).toThrow(/does not exist/);
    expect(s.keys(['ns', 'default', 'containers'])).toEqual(['c1']);
    expect(s.buckets(['ns'])).toEqual(['default']);
    s.delete(['ns', 'default', 'containers'], 'c1');
    expect(s.get(['ns', 'default', 'containers'], 'c1')).toBeUndefined();
    expect(() => s.delete(['ns', 'default', 'containers'], 'c1')).toThrow(RecordConflict);
  });

  it('refuses keys that would escape the store', () => {
    const s = new RecordStore(root);
    for (const bad of ['', '.', '..', 'a/b', '.tmp-x']) expect(() => s.create(['b'], bad, {})).toThrow(/invalid key/);
    expect(() => s.keys(['..'])).toThrow(/invalid key/);
  });

  const storeJs = path.resolve(__dirname, '../dist/store/record-store.js');
  type Rec = { i: number; big: string; check: number };
  const whole = (rec: Rec) => {
    expect(rec.check).toBe(rec.i * 7);
    expect(rec.big.length).toBe(20000);
  };

  it.each(['create', 'update'] as const)(
    'kill -9 before each file-system call of %s: the old record or the new one, whole, and no temp file',
    async (op) => {
      // The child stops itself before its n-th file-system call inside one create/update; n steps
      // through every call, so every crash point of the operation is tried once.
      const script = `${CRASH_HOOK}
      const { RecordStore } = require(${JSON.stringify(storeJs)});
      const s = new RecordStore(${JSON.stringify(root)});
      const big = 'x'.repeat(20000);
      if (${JSON.stringify(op)} === 'update') s.create(['b'], 'k', { i: 1, big, check: 7 });
      __crash.arm();
      if (${JSON.stringify(op)} === 'update') s.update(['b'], 'k', { i: 2, big, check: 14 });
      else s.create(['b'], 'k', { i: 2, big, check: 14 });
      process.stdout.write('done ' + __crash.disarm() + '\\n');
    `;
      let newSeen = false;
      const seen = await crashAtEachPoint(script, () => {
        const s = new RecordStore(root); // as on restart: sweeps temp files
        expect(fs.existsSync(path.join(root, 'b')) ? fs.readdirSync(path.join(root, 'b')).filter((f) => f !== 'k.json') : []).toEqual([]);
        const rec = s.get<Rec>(['b'], 'k');
        if (op === 'create' && rec === undefined) {
          expect(newSeen).toBe(false);
        } else {
          expect(rec).toBeDefined();
          whole(rec!);
          // once the new record was visible, a later crash never brings the old one back
          if (rec!.i === 2) newSeen = true;
          else expect(newSeen).toBe(false);
        }
        fs.rmSync(path.join(root, 'b'), { recursive: true, force: true });
      });
      // the hook did stop inside the operation, at the calls that matter, and it finished with the new record
      expect(seen).toEqual(expect.arrayContaining(['fs.openSync', 'fs.writeSync', op === 'create' ? 'fs.linkSync' : 'fs.renameSync']));
      expect(newSeen).toBe(true);
    },
    300_000,
  ); // an upper bound: one child per crash point, ~0.5 s each on a busy machine

  it('loses no committed record and never shows a torn one when the writer is killed -9 mid-stream', async () => {
    // A child writes records as fast as it can and prints each key once create/update returned;
    // the test kills it after a number of them (it is then inside the next write).
    const writer = `
      const { RecordStore } = require(${JSON.stringify(storeJs)});
      const s = new RecordStore(${JSON.stringify(root)});
      const big = 'x'.repeat(20000);
      for (let i = 0; ; i++) {
        const key = 'k' + (i % 50);
        const value = { i, big, check: i * 7 };
        if (i < 50) s.create(['b'], key, value); else s.update(['b'], key, value);
        process.stdout.write(key + ' ' + i + '\\n');
      }
    `;
    for (const target of [1, 25, 50, 60]) {
      let printed = 0;
      const r = await runChild(writer, { killWhen: () => ++printed === target });
      expect(r.killed).toBe(true);
      const committed = new Map<string, number>();
      for (const line of r.lines) {
        const [k, i] = line.split(' ');
        if (k && i) committed.set(k, Number(i));
      }
      expect(committed.size).toBe(Math.min(r.lines.length, 50));
      const s = new RecordStore(root); // sweeps temp files
      expect(fs.readdirSync(path.join(root, 'b')).filter((n) => !n.endsWith('.json'))).toEqual([]);
      for (const [k, i] of committed) {
        const rec = s.get<Rec>(['b'], k);
        expect(rec).toBeDefined();
        // the record is whole, and at least as new as the last write reported committed
        whole(rec!);
        expect(rec!.i).toBeGreaterThanOrEqual(i);
      }
      fs.rmSync(path.join(root, 'b'), { recursive: true, force: true });
    }
  });
});
