import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { RecordConflict, RecordStore } from '../src/metadata/record-store';

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

  it('loses no committed record and never shows a torn one when the writer is killed -9 mid-stream', async () => {
    // A child writes records as fast as it can and prints each key once create/update returned.
    const writer = `
      const { RecordStore } = require(${JSON.stringify(path.resolve(__dirname, '../dist/metadata/record-store.js'))});
      const s = new RecordStore(${JSON.stringify(root)});
      const big = 'x'.repeat(20000);
      for (let i = 0; ; i++) {
        const key = 'k' + (i % 50);
        const value = { i, big, check: i * 7 };
        if (i < 50) s.create(['b'], key, value); else s.update(['b'], key, value);
        process.stdout.write(key + ' ' + i + '\\n');
      }
    `;
    for (let round = 0; round < 5; round++) {
      const child = spawn(process.execPath, ['-e', writer], { stdio: ['ignore', 'pipe', 'inherit'] });
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      await new Promise((r) => setTimeout(r, 150 + round * 60));
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
      const committed = new Map<string, number>();
      for (const line of out.split('\n')) {
        const [k, i] = line.split(' ');
        if (k && i) committed.set(k, Number(i));
      }
      const s = new RecordStore(root); // sweeps temp files
      expect(fs.readdirSync(path.join(root, 'b')).filter((n) => !n.endsWith('.json'))).toEqual([]);
      for (const [k, i] of committed) {
        const rec = s.get<{ i: number; big: string; check: number }>(['b'], k);
        expect(rec).toBeDefined();
        // the record is whole, and at least as new as the last write reported committed
        expect(rec!.check).toBe(rec!.i * 7);
        expect(rec!.big.length).toBe(20000);
        expect(rec!.i).toBeGreaterThanOrEqual(i);
      }
      fs.rmSync(path.join(root, 'b'), { recursive: true, force: true });
    }
  });
});
