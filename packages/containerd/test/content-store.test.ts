/** LocalContentStore used directly: writer lifecycle, resume across instances, and kill -9 safety. */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { status as Code, Metadata } from '@grpc/grpc-js';
import { LocalContentStore } from '../src/content/local-store';
import { leaseOf } from '../src/content/lease-header';
import { RecordStore } from '../src/metadata/record-store';

const sha = (b: Buffer | string) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const readStream = async (r: NodeJS.ReadableStream): Promise<Buffer> => {
  const parts: Buffer[] = [];
  for await (const c of r) parts.push(c as Buffer);
  return Buffer.concat(parts);
};

describe('LocalContentStore', () => {
  let root: string;
  const open = () => new LocalContentStore(root, new RecordStore(path.join(root, 'metadata')));
  beforeEach(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'gantry-cstore-'));
  });
  afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

  test('writer, commit, info, read, list, delete', async () => {
    const s = open();
    const w = await s.writer('ns', 'ref', { total: 11, expected: sha('hello world') });
    expect(w.offset).toBe(0);
    await w.write(Buffer.from('hello '));
    await w.write(Buffer.from('world'));
    expect(w.status()).toMatchObject({ ref: 'ref', offset: 11, total: 11, expected: sha('hello world') });
    expect(w.digest()).toBe(sha('hello world'));
    const info = await w.commit(0, '', { a: 'b' });
    expect(info).toMatchObject({ digest: sha('hello world'), size: 11, labels: { a: 'b' } });
    expect(s.info('ns', info.digest)).toEqual(info);
    expect((await readStream(s.read('ns', info.digest, 6, 3))).toString()).toBe('wor');
    expect(s.list('ns', ['labels.a==b']).map((i) => i.digest)).toEqual([info.digest]);
    expect(s.namespaces()).toEqual(['ns']);
    expect(s.blobs()).toEqual([info.digest]);
    await expect(w.write(Buffer.from('x'))).rejects.toMatchObject({ code: Code.FAILED_PRECONDITION });
    s.delete('ns', info.digest);
    expect(() => s.info('ns', info.digest)).toThrow(expect.objectContaining({ code: Code.NOT_FOUND }));
    expect(s.blobs()).toEqual([]);
  });

  test('a resumed ingest recomputes its hash from disk, also in a new store instance (daemon restart)', async () => {
    const data = Buffer.alloc(3_000_000);
    for (let i = 0; i < data.length; i++) data[i] = (i * 7) & 0xff;
    const a = open();
    const w1 = await a.writer('ns', 'big');
    await w1.write(data.subarray(0, 1_234_567));
    await w1.close();
    const b = open(); // as after a restart: no in-memory state
    expect(b.status('ns', 'big').offset).toBe(1_234_567);
    const w2 = await b.writer('ns', 'big', { total: data.length });
    expect(w2.offset).toBe(1_234_567);
    expect(w2.digest()).toBe(sha(data.subarray(0, 1_234_567)));
    await w2.write(data.subarray(1_234_567));
    expect((await w2.commit(data.length, sha(data))).digest).toBe(sha(data));
  });

  test('lock, abort under an open writer, mismatched hints', async () => {
    const s = open();
    const w = await s.writer('ns', 'r', { total: 5 });
    await expect(s.writer('ns', 'r')).rejects.toMatchObject({ code: Code.UNAVAILABLE, message: expect.stringMatching(/ref r locked/) });
    s.abort('ns', 'r');
    await expect(w.write(Buffer.from('x'))).rejects.toMatchObject({ code: Code.NOT_FOUND });
    await expect(w.commit(0, '')).rejects.toMatchObject({ code: Code.NOT_FOUND });
    await w.close();
    const w2 = await s.writer('ns', 'r', { total: 5 });
    await w2.close();
    await expect(s.writer('ns', 'r', { total: 6 })).rejects.toMatchObject({ code: Code.FAILED_PRECONDITION, message: expect.stringMatching(/differs/) });
    await expect(s.writer('ns', 'r2', { expected: 'md5:abc' })).rejects.toMatchObject({ code: Code.INVALID_ARGUMENT });
    await expect(s.writer('ns', '')).rejects.toMatchObject({ code: Code.INVALID_ARGUMENT });
  });

  test('leaseOf reads the containerd-lease header', () => {
    const md = new Metadata();
    expect(leaseOf(md)).toBeUndefined();
    md.set('containerd-lease', 'my-lease');
    expect(leaseOf(md)).toBe('my-lease');
  });

  test('kill -9 while committing: every committed blob is intact, no partial file ever has a digest name', async () => {
    const dist = path.resolve(__dirname, '../dist');
    // A child commits blobs of random sizes as fast as it can, printing each digest once commit returned.
    const child = `
      const crypto = require('node:crypto');
      const path = require('node:path');
      const { LocalContentStore } = require(${JSON.stringify(path.join(dist, 'content/local-store.js'))});
      const { RecordStore } = require(${JSON.stringify(path.join(dist, 'metadata/record-store.js'))});
      const root = ${JSON.stringify(root)};
      const s = new LocalContentStore(root, new RecordStore(path.join(root, 'metadata')));
      (async () => {
        for (let i = 0; ; i++) {
          const ref = 'ref-' + process.pid + '-' + i;
          const w = await s.writer('ns', ref);
          const n = 1 + crypto.randomInt(3 << 20);
          for (let off = 0; off < n; off += 256 << 10) await w.write(crypto.randomBytes(Math.min(256 << 10, n - off)));
          const info = await w.commit(n, '');
          process.stdout.write(info.digest + '\\n');
        }
      })();
    `;
    const blobDir = path.join(root, 'content', 'blobs', 'sha256');
    const verified = new Set<string>();
    const checkBlobs = () => {
      if (!fs.existsSync(blobDir)) return;
      for (const name of fs.readdirSync(blobDir)) {
        expect(name).toMatch(/^[a-f0-9]{64}$/); // nothing but digests, ever
        if (verified.has(name)) continue;
        const got = createHash('sha256').update(fs.readFileSync(path.join(blobDir, name))).digest('hex');
        expect(got).toBe(name);
        verified.add(name);
      }
    };
    const committed: string[] = [];
    for (let round = 0; round < 4; round++) {
      const p = spawn(process.execPath, ['-e', child], { stdio: ['ignore', 'pipe', 'inherit'] });
      let out = '';
      p.stdout.on('data', (d: Buffer) => (out += d.toString()));
      const until = Date.now() + 300 + round * 150;
      while (Date.now() < until) {
        checkBlobs(); // watch while it writes: a digest name never shows partial content
        await new Promise((r) => setTimeout(r, 5));
      }
      p.kill('SIGKILL');
      await new Promise((r) => p.once('exit', r));
      committed.push(...out.split('\n').filter((l) => l.startsWith('sha256:')));
      checkBlobs();
    }
    expect(committed.length).toBeGreaterThan(0);
    const s = open(); // restart: sweeps half-created ingests
    for (const d of committed) {
      const info = s.info('ns', d);
      const data = await readStream(s.read('ns', d));
      expect(data.length).toBe(info.size);
      expect(sha(data)).toBe(d);
    }
    // interrupted ingests are resumable or abortable, and only digests sit in blobs/
    for (const st of s.listStatuses('ns', [])) {
      const w = await s.writer('ns', st.ref);
      expect(w.offset).toBe(st.offset);
      await w.close();
      s.abort('ns', st.ref);
    }
    expect(fs.readdirSync(path.join(root, 'content', 'ingest'))).toEqual([]);
    checkBlobs();
  });
});
