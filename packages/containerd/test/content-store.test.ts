/** LocalContentStore used directly: writer lifecycle, resume across instances, and kill -9 safety. */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Metadata } from '@grpc/grpc-js';
import { LocalContentStore } from '../src/content/local-store';
import { leaseOf } from '../src/content/lease-header';
import { RecordStore } from '@gantry/linux';
import { CRASH_HOOK, crashAtEachPoint, runChild } from '@gantry/testkit';

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
    await expect(w.write(Buffer.from('x'))).rejects.toMatchObject({ kind: 'failed-precondition' });
    s.delete('ns', info.digest);
    expect(() => s.info('ns', info.digest)).toThrow(expect.objectContaining({ kind: 'not-found' }));
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
    await expect(s.writer('ns', 'r')).rejects.toMatchObject({ kind: 'unavailable', message: expect.stringMatching(/ref r locked/) });
    s.abort('ns', 'r');
    await expect(w.write(Buffer.from('x'))).rejects.toMatchObject({ kind: 'not-found' });
    await expect(w.commit(0, '')).rejects.toMatchObject({ kind: 'not-found' });
    await w.close();
    const w2 = await s.writer('ns', 'r', { total: 5 });
    await w2.close();
    await expect(s.writer('ns', 'r', { total: 6 })).rejects.toMatchObject({ kind: 'failed-precondition', message: expect.stringMatching(/differs/) });
    await expect(s.writer('ns', 'r2', { expected: 'md5:abc' })).rejects.toMatchObject({ kind: 'invalid-argument' });
    await expect(s.writer('ns', '')).rejects.toMatchObject({ kind: 'invalid-argument' });
  });

  test('leaseOf reads the containerd-lease header', () => {
    const md = new Metadata();
    expect(leaseOf(md)).toBeUndefined();
    md.set('containerd-lease', 'my-lease');
    expect(leaseOf(md)).toBe('my-lease');
  });

  const dist = path.resolve(__dirname, '../dist');
  const childPrelude = () => `
    const crypto = require('node:crypto');
    const path = require('node:path');
    const { LocalContentStore } = require(${JSON.stringify(path.join(dist, 'content/local-store.js'))});
    const { RecordStore } = require(${JSON.stringify(path.resolve(__dirname, '../../linux/dist/store/record-store.js'))});
    const root = ${JSON.stringify(root)};
    const s = new LocalContentStore(root, new RecordStore(path.join(root, 'metadata')));
  `;
  const blobDir = () => path.join(root, 'content', 'blobs', 'sha256');
  /** Every file under blobs/ is named by the digest of its whole content (`verified` caches checked ones). */
  const checkBlobs = (verified = new Set<string>()) => {
    if (!fs.existsSync(blobDir())) return;
    for (const name of fs.readdirSync(blobDir())) {
      expect(name).toMatch(/^[a-f0-9]{64}$/); // nothing but digests, ever
      if (verified.has(name)) continue;
      const got = createHash('sha256')
        .update(fs.readFileSync(path.join(blobDir(), name)))
        .digest('hex');
      expect(got).toBe(name);
      verified.add(name);
    }
  };

  test('kill -9 before each file-system call of a write and commit: the blob is committed whole, or the ingest resumes and commits', async () => {
    const data = Buffer.alloc(200_000);
    for (let i = 0; i < data.length; i++) data[i] = (i * 13) & 0xff;
    const digest = sha(data);
    // The child stops itself before its n-th file-system call (fs or FileHandle) inside the last
    // write and the commit; n steps through all of them.
    const script = `${CRASH_HOOK}${childPrelude()}
      const data = Buffer.alloc(${data.length});
      for (let i = 0; i < data.length; i++) data[i] = (i * 13) & 0xff;
      (async () => {
        await __crash.wrapFileHandles();
        const first = await s.writer('ns', 'first'); // the namespace exists before (RecordStore's own test covers its creation)
        await first.write(Buffer.from('x'));
        await first.commit(1, '');
        const w = await s.writer('ns', 'ref');
        await w.write(data.subarray(0, 100000));
        __crash.arm();
        await w.write(data.subarray(100000));
        await w.commit(data.length, ${JSON.stringify(digest)});
        process.stdout.write('done ' + __crash.disarm() + '\\n');
      })();
    `;
    let committedSeen = false;
    const seen = await crashAtEachPoint(script, async ({ finished }) => {
      checkBlobs();
      const s = open(); // restart: sweeps half-created ingests
      let committed = true;
      try {
        s.info('ns', digest);
      } catch (e) {
        expect(e).toMatchObject({ kind: 'not-found' });
        committed = false;
      }
      if (committed) {
        committedSeen = true;
        expect(sha(await readStream(s.read('ns', digest)))).toBe(digest);
        expect(s.listStatuses('ns', [])).toEqual([]);
      } else {
        // not committed (and never after a crash that found it committed): a client finishes it
        // under the same ref, resuming from what is on disk, also after truncating part of it
        expect(committedSeen).toBe(false);
        expect(finished).toBe(false);
        const w = await s.writer('ns', 'ref');
        expect(w.offset).toBeLessThanOrEqual(data.length);
        expect(w.digest()).toBe(sha(data.subarray(0, w.offset)));
        await w.truncate(Math.floor(w.offset / 2));
        checkBlobs(); // a truncate never reaches a blob that already has its name
        await w.write(data.subarray(w.offset));
        expect((await w.commit(data.length, digest)).digest).toBe(digest);
        expect(sha(await readStream(s.read('ns', digest)))).toBe(digest);
      }
      checkBlobs();
      expect(fs.readdirSync(path.join(root, 'content', 'ingest'))).toEqual([]);
      fs.rmSync(path.join(root, 'content'), { recursive: true, force: true });
      fs.rmSync(path.join(root, 'metadata'), { recursive: true, force: true });
    });
    // the hook stopped the child inside the operation, at the calls that matter
    expect(seen).toEqual(expect.arrayContaining(['FileHandle.write', 'FileHandle.chmod', 'fs.linkSync', 'fs.rmSync']));
    expect(committedSeen).toBe(true);
  }, 300_000); // an upper bound: one child per crash point, ~0.5 s each on a busy machine

  test('kill -9 while committing: every committed blob is intact, no partial file ever has a digest name', async () => {
    // A child commits blobs of random sizes as fast as it can, printing each digest once commit
    // returned; the test kills it after a number of them (it is then inside the next one).
    const child = `${childPrelude()}
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
    const verified = new Set<string>();
    const committed: string[] = [];
    for (const target of [1, 2, 3]) {
      let printed = 0;
      const r = await runChild(child, {
        // check as it goes: a digest name never shows partial content while the child writes
        killWhen: () => (checkBlobs(verified), ++printed === target),
      });
      expect(r.killed).toBe(true);
      committed.push(...r.lines.filter((l) => l.startsWith('sha256:')));
      checkBlobs(verified);
    }
    expect(committed.length).toBeGreaterThanOrEqual(6);
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
    checkBlobs(verified);
  });
});
