import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  createFileExclusive,
  type DurableFs,
  FileExistsError,
  loadJsonOrQuarantine,
  quarantineFile,
  readJsonFile,
  removeFileDurable,
  sweepTempFiles,
  writeFileAtomic,
} from '../src/store/durable';
import { RecordStore } from '../src/store/record-store';
import { CRASH_HOOK, crashAtEachPoint, runChild } from '@gantry/testkit';

let root: string;
beforeEach(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'gantry-durable-'));
});
afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

/** node:fs with every call this module makes logged as `name arg` (paths relative to root, fds by what they opened). */
function recordingFs(): { fs: DurableFs; calls: string[] } {
  const calls: string[] = [];
  const fdNames = new Map<number, string>();
  const rel = (p: unknown) => (typeof p === 'string' ? path.relative(root, p).replace(/\.tmp-[\w-]+$/, '.tmp-*') || '.' : String(p));
  const named = (fd: unknown) => fdNames.get(fd as number) ?? String(fd);
  const rec: DurableFs = {
    openSync: ((p: string, flags: string | number, mode?: number) => {
      const fd = fs.openSync(p, flags, mode);
      fdNames.set(fd, rel(p));
      calls.push(`open ${rel(p)}`);
      return fd;
    }) as typeof fs.openSync,
    writeSync: ((fd: number, ...rest: unknown[]) => {
      calls.push(`write ${named(fd)}`);
      return (fs.writeSync as (...a: unknown[]) => number)(fd, ...rest);
    }) as typeof fs.writeSync,
    fsyncSync: (fd) => {
      calls.push(`fsync ${named(fd)}`);
      fs.fsyncSync(fd);
    },
    closeSync: (fd) => {
      calls.push(`close ${named(fd)}`);
      fs.closeSync(fd);
    },
    renameSync: (a, b) => {
      calls.push(`rename ${rel(a)} ${rel(b)}`);
      fs.renameSync(a, b);
    },
    linkSync: (a, b) => {
      calls.push(`link ${rel(a)} ${rel(b)}`);
      fs.linkSync(a, b);
    },
    unlinkSync: (p) => {
      calls.push(`unlink ${rel(p)}`);
      fs.unlinkSync(p);
    },
    mkdirSync: ((p: string, o?: fs.MakeDirectoryOptions) => {
      calls.push(`mkdir ${rel(p)}`);
      return fs.mkdirSync(p, o);
    }) as typeof fs.mkdirSync,
    readdirSync: fs.readdirSync,
    readFileSync: fs.readFileSync,
    rmSync: fs.rmSync,
  };
  return { fs: rec, calls };
}

describe('writeFileAtomic', () => {
  it('writes a temp file in the same directory, fsyncs it, renames it over the target, then fsyncs the directory', () => {
    fs.mkdirSync(path.join(root, 'd'));
    const r = recordingFs();
    writeFileAtomic(path.join(root, 'd', 'rec.json'), '{"a":1}', { fs: r.fs });
    expect(r.calls).toEqual([
      'open d/.tmp-*',
      'write d/.tmp-*',
      'fsync d/.tmp-*',
      'close d/.tmp-*',
      'rename d/.tmp-* d/rec.json',
      'open d',
      'fsync d',
      'close d',
    ]);
    expect(fs.readFileSync(path.join(root, 'd', 'rec.json'), 'utf8')).toBe('{"a":1}');
    expect(fs.readdirSync(path.join(root, 'd'))).toEqual(['rec.json']);
    expect(fs.statSync(path.join(root, 'd', 'rec.json')).mode & 0o777).toBe(0o600);
  });

  it("with durability 'process-crash': the same temp file and rename, no fsync", () => {
    fs.mkdirSync(path.join(root, 'd'));
    const r = recordingFs();
    writeFileAtomic(path.join(root, 'd', 'state.json'), '{"a":1}', { fs: r.fs, durability: 'process-crash' });
    expect(r.calls).toEqual(['open d/.tmp-*', 'write d/.tmp-*', 'close d/.tmp-*', 'rename d/.tmp-* d/state.json']);
    expect(fs.readFileSync(path.join(root, 'd', 'state.json'), 'utf8')).toBe('{"a":1}');
  });

  it('replaces an existing file and keeps the mode asked for', () => {
    const f = path.join(root, 'pid');
    fs.writeFileSync(f, 'old content that is longer');
    writeFileAtomic(f, '42', { mode: 0o644 });
    expect(fs.readFileSync(f, 'utf8')).toBe('42');
    expect(fs.statSync(f).mode & 0o777).toBe(0o644);
  });

  it('leaves the old file and no temp file when the write fails', () => {
    const f = path.join(root, 'rec');
    fs.writeFileSync(f, 'old');
    const r = recordingFs();
    const failing: DurableFs = {
      ...r.fs,
      fsyncSync: () => {
        throw Object.assign(new Error('EIO: i/o error'), { code: 'EIO' });
      },
    };
    expect(() => writeFileAtomic(f, 'new', { fs: failing })).toThrow(/EIO/);
    expect(fs.readFileSync(f, 'utf8')).toBe('old');
    expect(fs.readdirSync(root)).toEqual(['rec']);
  });

  it('a concurrent reader sees the old record or the new one, never part of one', async () => {
    // A child rewrites one 256 KiB record as fast as it can; this process reads it between the
    // child's writes until it has seen many versions. Each version is all one letter and
    // carries its length, so a mixed or short read fails the check.
    const file = path.join(root, 'big.json');
    const mk = (i: number) => JSON.stringify({ i, body: String.fromCharCode(97 + (i % 26)).repeat(1 << 18) });
    fs.writeFileSync(file, mk(0));
    const durableJs = path.resolve(__dirname, '../dist/store/durable.js');
    const writer = `
      const { writeFileAtomic } = require(${JSON.stringify(durableJs)});
      const mk = ${mk.toString()};
      for (let i = 1; i <= 80; i++) {
        writeFileAtomic(${JSON.stringify(file)}, mk(i));
        if (i % 4 === 0) process.stdout.write('wrote ' + i + '\\n');
      }
    `;
    const seen = new Set<number>();
    let reads = 0;
    const check = () => {
      const v = JSON.parse(fs.readFileSync(file, 'utf8')) as { i: number; body: string };
      expect(v.body).toBe(String.fromCharCode(97 + (v.i % 26)).repeat(1 << 18));
      seen.add(v.i);
      reads++;
    };
    // read on every progress line the child prints (the child is mid-write most of the time)
    const r = await runChild(writer, {
      onLine: () => {
        for (let k = 0; k < 5; k++) check();
      },
    });
    expect(r.code).toBe(0);
    check();
    expect(reads).toBeGreaterThan(40);
    expect(seen.has(80)).toBe(true);
    expect(seen.size).toBeGreaterThan(2);
  }, 120_000);

  it.each(['writeFileAtomic', 'createFileExclusive'] as const)(
    '%s: kill -9 before each file-system call leaves the old file or the new one, whole',
    async (fn) => {
      const durableJs = path.resolve(__dirname, '../dist/store/durable.js');
      const file = path.join(root, 'rec');
      const oldBody = 'o'.repeat(50000);
      const newBody = 'n'.repeat(50000);
      const script = `${CRASH_HOOK}
      const d = require(${JSON.stringify(durableJs)});
      __crash.arm();
      d.${fn}(${JSON.stringify(file)}, ${JSON.stringify(newBody)});
      process.stdout.write('done ' + __crash.disarm() + '\\n');
    `;
      const reset = () => (fn === 'writeFileAtomic' ? fs.writeFileSync(file, oldBody) : undefined);
      reset();
      const stops = await crashAtEachPoint(script, ({ finished }) => {
        sweepTempFiles(root); // as a daemon does when it opens its store
        expect(fs.readdirSync(root).filter((f) => f !== 'rec')).toEqual([]);
        const body = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : undefined;
        if (finished) expect(body).toBe(newBody);
        else if (fn === 'writeFileAtomic') expect([oldBody, newBody]).toContain(body);
        else expect([undefined, newBody]).toContain(body);
        fs.rmSync(file, { force: true });
        reset();
      });
      expect(stops).toEqual(expect.arrayContaining(['fs.openSync', 'fs.writeSync', fn === 'writeFileAtomic' ? 'fs.renameSync' : 'fs.linkSync']));
    },
    120_000,
  );
});

describe('createFileExclusive', () => {
  it('creates once; a second create fails with FileExistsError and leaves the first content', () => {
    const f = path.join(root, 'uuid');
    createFileExclusive(f, 'first');
    expect(() => createFileExclusive(f, 'second')).toThrow(FileExistsError);
    expect(fs.readFileSync(f, 'utf8')).toBe('first');
    expect(fs.readdirSync(root)).toEqual(['uuid']);
  });

  it('links the synced temp file, removes the temp name, then fsyncs the directory', () => {
    const r = recordingFs();
    createFileExclusive(path.join(root, 'x'), 'data', { fs: r.fs });
    expect(r.calls).toEqual(['open .tmp-*', 'write .tmp-*', 'fsync .tmp-*', 'close .tmp-*', 'link .tmp-* x', 'unlink .tmp-*', 'open .', 'fsync .', 'close .']);
  });
});

describe('removeFileDurable and sweepTempFiles', () => {
  it('unlinks then fsyncs the directory; false for a missing file', () => {
    fs.writeFileSync(path.join(root, 'f'), '');
    const r = recordingFs();
    expect(removeFileDurable(path.join(root, 'f'), r.fs)).toBe(true);
    expect(r.calls).toEqual(['unlink f', 'open .', 'fsync .', 'close .']);
    expect(removeFileDurable(path.join(root, 'f'))).toBe(false);
  });

  it('removes temp files (recursively when asked), never the quarantine directory or other files', () => {
    fs.mkdirSync(path.join(root, 'a', 'quarantine'), { recursive: true });
    for (const f of ['.tmp-1-x', 'keep.json', 'a/.tmp-2-y', 'a/keep', 'a/quarantine/.tmp-3-z']) fs.writeFileSync(path.join(root, f), '');
    expect(sweepTempFiles(root).map((p) => path.relative(root, p))).toEqual(['.tmp-1-x']);
    expect(sweepTempFiles(root, { recursive: true }).map((p) => path.relative(root, p))).toEqual(['a/.tmp-2-y']);
    expect(fs.existsSync(path.join(root, 'a/quarantine/.tmp-3-z'))).toBe(true);
    expect(fs.existsSync(path.join(root, 'a/keep'))).toBe(true);
  });
});

describe('quarantine', () => {
  it('moves the file into quarantine/ beside it with a timestamp, and never overwrites an earlier copy', () => {
    const f = path.join(root, 'config.v2.json');
    const now = new Date('2026-12-02T06:44:10.123Z');
    fs.writeFileSync(f, '{');
    const r1 = quarantineFile(f, 'invalid JSON', { now });
    expect(r1).toEqual({ file: f, quarantinedAs: path.join(root, 'quarantine', 'config.v2.json.20261202T064410.123Z'), reason: 'invalid JSON' });
    fs.writeFileSync(f, '[');
    const r2 = quarantineFile(f, 'again', { now });
    expect(r2.quarantinedAs).toBe(`${r1.quarantinedAs}.1`);
    expect(fs.readFileSync(r1.quarantinedAs, 'utf8')).toBe('{');
    expect(fs.readFileSync(r2.quarantinedAs, 'utf8')).toBe('[');
    expect(fs.existsSync(f)).toBe(false);
  });

  it('readJsonFile tells missing, corrupt and ok apart; loadJsonOrQuarantine quarantines only the corrupt', () => {
    const f = path.join(root, 'r.json');
    expect(readJsonFile(f)).toEqual({ kind: 'missing' });
    fs.writeFileSync(f, '{"a":');
    expect(readJsonFile(f)).toEqual({ kind: 'corrupt', reason: expect.stringMatching(/^invalid JSON/) });
    fs.writeFileSync(f, '{"a":1}');
    expect(readJsonFile(f)).toEqual({ kind: 'ok', value: { a: 1 } });
    expect(readJsonFile(f, () => 'wrong shape')).toEqual({ kind: 'corrupt', reason: 'wrong shape' });
    const reports: string[] = [];
    expect(loadJsonOrQuarantine(f, { onQuarantine: (r) => reports.push(r.reason) })).toEqual({ a: 1 });
    expect(loadJsonOrQuarantine(path.join(root, 'none.json'), { onQuarantine: (r) => reports.push(r.reason) })).toBeUndefined();
    expect(reports).toEqual([]);
    fs.writeFileSync(f, '');
    expect(loadJsonOrQuarantine(f, { onQuarantine: (r) => reports.push(r.reason) })).toBeUndefined();
    expect(reports).toEqual([expect.stringMatching(/^invalid JSON/)]);
    expect(fs.readdirSync(path.join(root, 'quarantine'))).toHaveLength(1);
  });
});

describe('RecordStore at open', () => {
  it('quarantines records that do not parse under <root>/quarantine/<bucket>, reports them and serves the rest', () => {
    const s = new RecordStore(root);
    s.create(['namespaces', 'default', 'containers'], 'good', { id: 'good' });
    s.create(['namespaces', 'default', 'containers'], 'bad', { id: 'bad' });
    s.create(['namespaces', 'quarantine', 'containers'], 'ns-named-quarantine', { id: 'q' });
    fs.writeFileSync(path.join(root, 'namespaces', 'default', 'containers', 'bad.json'), '{"id":');
    const seen: string[] = [];
    const again = new RecordStore(root, { onQuarantine: (r) => seen.push(path.relative(root, r.quarantinedAs)) });
    expect(seen).toEqual([expect.stringMatching(/^quarantine\/namespaces\/default\/containers\/bad\.json\.\d{8}T\d{6}\.\d{3}Z$/)]);
    expect(again.quarantined).toHaveLength(1);
    expect(again.keys(['namespaces', 'default', 'containers'])).toEqual(['good']);
    expect(again.get(['namespaces', 'default', 'containers'], 'good')).toEqual({ id: 'good' });
    // a namespace may be called "quarantine": only the top level is reserved
    expect(again.buckets(['namespaces'])).toEqual(['default', 'quarantine']);
    expect(again.buckets([])).toEqual(['namespaces']);
    expect(() => again.keys(['quarantine'])).toThrow(/reserved/);
    // opening again finds nothing new to quarantine
    expect(new RecordStore(root).quarantined).toEqual([]);
  });
});

describe('quarantine edge cases', () => {
  it('a directory where a record should be is moved aside whole', () => {
    const f = path.join(root, 'r.json');
    fs.mkdirSync(path.join(f, 'inner'), { recursive: true });
    const reports: { quarantinedAs: string; reason: string }[] = [];
    expect(loadJsonOrQuarantine(f, { onQuarantine: (r) => reports.push(r) })).toBeUndefined();
    expect(reports).toEqual([expect.objectContaining({ reason: 'is a directory' })]);
    expect(fs.existsSync(path.join(reports[0]!.quarantinedAs, 'inner'))).toBe(true);
    expect(fs.existsSync(f)).toBe(false);
  });

  it('a record that cannot be moved is reported with moveError and left in place; start-up goes on', () => {
    const f = path.join(root, 'r.json');
    fs.writeFileSync(f, '{');
    const noLink: DurableFs = {
      ...recordingFs().fs,
      linkSync: () => {
        throw Object.assign(new Error('EROFS: read-only file system'), { code: 'EROFS' });
      },
    };
    const reports: { quarantinedAs: string; moveError?: string }[] = [];
    expect(loadJsonOrQuarantine(f, { onQuarantine: (r) => reports.push(r), fs: noLink })).toBeUndefined();
    expect(reports).toEqual([expect.objectContaining({ quarantinedAs: f, moveError: expect.stringMatching(/EROFS/) })]);
    expect(fs.readFileSync(f, 'utf8')).toBe('{');
  });
});
