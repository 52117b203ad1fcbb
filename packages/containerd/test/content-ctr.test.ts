/**
 * Debian's real containerd client (`ctr`, containerd 1.6) against the content service: ingest,
 * ls, get, label, rm drive Write/List/Read/Update/Delete as containerd's content proxy does.
 */
import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { describeIfTool } from './services-harness';
import { listAll, startContentHarness, type ContentHarness } from './content-harness';

const run = promisify(execFile);

describeIfTool('ctr', 'containerd')('ctr content against the gantry-containerd content service', () => {
  let h: ContentHarness;
  beforeAll(async () => {
    h = await startContentHarness();
  });
  afterAll(() => h?.close());

  const ctr = async (...args: string[]): Promise<string> => {
    const { stdout } = await run('ctr', ['--address', h.sock, '--timeout', '20s', ...args], { timeout: 30000 });
    return stdout;
  };
  /** ctr with a file on stdin. */
  const ctrIn = (file: string, ...args: string[]): Promise<string> =>
    new Promise((resolve, reject) => {
      const stdin = fs.openSync(file, 'r');
      const p = spawn('ctr', ['--address', h.sock, '--timeout', '20s', ...args], { stdio: [stdin, 'pipe', 'pipe'] });
      fs.closeSync(stdin);
      let out = '';
      let err = '';
      p.stdout!.on('data', (d: Buffer) => (out += d.toString()));
      p.stderr!.on('data', (d: Buffer) => (err += d.toString()));
      p.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`ctr ${args.join(' ')} exited ${code}: ${err}`))));
    });
  const rows = (out: string) =>
    out
      .trim()
      .split('\n')
      .map((l) => l.trim().split(/\s+/));

  test('ctr content ingest, ls, get, label, rm', async () => {
    // 3 MiB + a bit: several WRITE messages and several 1 MiB Read chunks
    const data = Buffer.alloc(3 * (1 << 20) + 12345);
    for (let i = 0; i < data.length; i++) data[i] = (i * 31 + (i >> 11)) & 0xff;
    const digest = `sha256:${createHash('sha256').update(data).digest('hex')}`;
    const file = path.join(h.dir, 'blob.bin');
    fs.writeFileSync(file, data);

    await ctrIn(file, '-n', 'ctrns', 'content', 'ingest', 'ctr-ref-1');
    const ls = rows(await ctr('-n', 'ctrns', 'content', 'ls'));
    expect(ls[0]).toEqual(['DIGEST', 'SIZE', 'AGE', 'LABELS']);
    const row = ls.find((r) => r[0] === digest);
    expect(row).toBeDefined();
    expect(row![1]).toMatch(/^3\.\d+ ?M/); // ctr prints a human size, e.g. "3.012MiB"
    expect(rows(await ctr('-n', 'ctrns', 'content', 'ls', '-q'))).toEqual([[digest]]);
    // other namespaces do not see it
    expect(rows(await ctr('-n', 'other', 'content', 'ls', '-q'))).toEqual([['']]);

    const got = await run('ctr', ['--address', h.sock, '-n', 'ctrns', 'content', 'get', digest], { encoding: 'buffer', maxBuffer: 64 << 20 });
    expect(got.stdout.length).toBe(data.length);
    expect(createHash('sha256').update(got.stdout).digest('hex')).toBe(digest.slice(7));

    await ctr('-n', 'ctrns', 'content', 'label', digest, 'k=v', 'team=gantry');
    expect(h.store.info('ctrns', digest).labels).toEqual({ k: 'v', team: 'gantry' });
    // AGE is words ("Less than a second"): labels are the last column
    const line = (await ctr('-n', 'ctrns', 'content', 'ls')).split('\n').find((l) => l.startsWith(digest));
    expect(line?.trim().split(/\s+/).pop()?.split(',').sort()).toEqual(['k=v', 'team=gantry']);
    await ctr('-n', 'ctrns', 'content', 'label', digest, 'k=');
    expect(h.store.info('ctrns', digest).labels).toEqual({ team: 'gantry' });

    await ctr('-n', 'ctrns', 'content', 'rm', digest);
    expect(await listAll(h.content, 'ctrns')).toEqual([]);
    expect(fs.existsSync(h.store.blobPath(digest))).toBe(false);
    expect(h.published.map((e) => [e.namespace, e.topic])).toContainEqual(['ctrns', '/content/delete']);
    // no ingest left behind
    expect(h.store.listStatuses('ctrns', [])).toEqual([]);
  });

  test('ctr content ingest of a blob the namespace already has succeeds', async () => {
    const file = path.join(h.dir, 'small.txt');
    fs.writeFileSync(file, 'hello gantry\n');
    await ctrIn(file, '-n', 'dup', 'content', 'ingest', 'r1');
    await ctrIn(file, '-n', 'dup', 'content', 'ingest', 'r2');
    const ls = rows(await ctr('-n', 'dup', 'content', 'ls', '-q'));
    expect(ls).toEqual([[`sha256:${createHash('sha256').update('hello gantry\n').digest('hex')}`]]);
    expect(h.store.listStatuses('dup', [])).toEqual([]);
  });

  test('ctr content active lists an interrupted ingest', async () => {
    const s = h.store;
    const w = await s.writer('act', 'partial-ref', { total: 100 });
    await w.write(Buffer.alloc(10, 1));
    await w.close();
    const out = rows(await ctr('-n', 'act', 'content', 'active'));
    expect(out[0]).toEqual(['REF', 'SIZE', 'AGE']);
    expect(out[1]?.[0]).toBe('partial-ref');
    s.abort('act', 'partial-ref');
  });
});
