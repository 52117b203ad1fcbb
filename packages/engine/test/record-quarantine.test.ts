/**
 * A record gantryd cannot read at start-up (damaged on disk: a bad sector, an operator's edit, a
 * copy cut short) must not take the container's logs and data with it, nor stop the daemon.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ContainerStore, type StoreLog } from '../src/containers/store';
import { VolumeStore } from '../src/volumes/store';
import { networkRecord, NetworkStore } from '@gantry/network';
import { initialState, type ContainerRecord } from '../src/containers/record';

const tmpDirs: string[] = [];
function tmp(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'gquar-unit-'));
  tmpDirs.push(d);
  return d;
}
afterAll(() => {
  for (const d of tmpDirs) fs.rmSync(d, { recursive: true, force: true });
});

function record(id: string, name: string): ContainerRecord {
  return {
    Id: id,
    Name: name,
    Created: new Date().toISOString(),
    Path: 'sh',
    Args: [],
    Image: 'busybox',
    ImageID: 'sha256:0',
    Config: {},
    HostConfig: {},
    State: initialState(),
    RestartCount: 0,
  } as unknown as ContainerRecord;
}

class RecordingLog implements StoreLog {
  readonly lines: { level: string; msg: string; fields: Record<string, unknown> }[] = [];
  warn(msg: string, fields: Record<string, unknown> = {}): void {
    this.lines.push({ level: 'warn', msg, fields });
  }
  error(msg: string, fields: Record<string, unknown> = {}): void {
    this.lines.push({ level: 'error', msg, fields });
  }
}

describe('ContainerStore with a corrupt config.v2.json at start-up', () => {
  // Before this change the constructor took an unparsable record for a create cut short and
  // removed the whole directory: the json-file log and etc files went with it (commit 7d7153f).
  it.each([
    ['truncated JSON', '{'],
    ['empty file', ''],
    ['JSON of another shape', '[1,2]'],
    ['a record of another container', JSON.stringify(record('c'.repeat(64), '/other'))],
  ])('%s: quarantines the record, keeps its files, reports it and serves the others', (_what, content) => {
    const root = tmp();
    const s = new ContainerStore(root);
    const good = 'a'.repeat(64);
    const bad = 'b'.repeat(64);
    s.save(record(good, '/good'));
    s.save(record(bad, '/bad'));
    const log = path.join(s.containerDir(bad), `${bad}-json.log`);
    fs.writeFileSync(log, '{"log":"precious\\n"}\n');
    fs.writeFileSync(path.join(s.containerDir(bad), 'config.v2.json'), content);

    const out = new RecordingLog();
    const again = new ContainerStore(root, out);
    expect(again.all().map((c) => c.Id)).toEqual([good]);
    expect(again.find('/good')?.Id).toBe(good);
    expect(again.find('bad')).toBeUndefined();
    expect(fs.readFileSync(log, 'utf8')).toContain('precious'); // the log stays
    const qdir = path.join(s.containerDir(bad), 'quarantine');
    const moved = fs.readdirSync(qdir);
    expect(moved).toHaveLength(1);
    expect(moved[0]).toMatch(/^config\.v2\.json\.\d{8}T\d{6}\.\d{3}Z$/);
    expect(fs.readFileSync(path.join(qdir, moved[0]!), 'utf8')).toBe(content); // moved, not rewritten
    expect(fs.existsSync(path.join(s.containerDir(bad), 'config.v2.json'))).toBe(false);
    expect(out.lines).toEqual([
      {
        level: 'error',
        msg: expect.stringContaining('container record quarantined'),
        fields: expect.objectContaining({ id: bad, quarantinedAs: path.join(qdir, moved[0]!), reason: expect.any(String) }),
      },
    ]);

    // the next start leaves the directory alone and says so; the name of the lost one is free again
    const out3 = new RecordingLog();
    const third = new ContainerStore(root, out3);
    expect(third.all().map((c) => c.Id)).toEqual([good]);
    expect(out3.lines).toEqual([expect.objectContaining({ level: 'warn', fields: expect.objectContaining({ id: bad }) })]);
    expect(fs.existsSync(log)).toBe(true);
    expect(third.claimName('bad')).toBe('/bad');
  });

  it('still removes what a create cut short leaves (a directory with no record and nothing quarantined)', () => {
    const root = tmp();
    const s = new ContainerStore(root);
    const half = 'd'.repeat(64);
    fs.mkdirSync(path.join(s.containerDir(half), 'fifos'), { recursive: true });
    fs.writeFileSync(path.join(s.containerDir(half), 'hosts'), '127.0.0.1 localhost\n');
    fs.writeFileSync(path.join(s.containerDir(half), '.tmp-123-abc'), '{"Id":');
    const out = new RecordingLog();
    new ContainerStore(root, out);
    expect(fs.existsSync(s.containerDir(half))).toBe(false);
    expect(out.lines).toEqual([]);
  });
});

describe('VolumeStore with a corrupt volume.json at start-up', () => {
  it('quarantines the record, never touches _data, serves the others and refuses to reuse the name', () => {
    const root = tmp();
    const mounts = { sys: () => ({ mount: () => undefined, umount: () => undefined }), mountsUnder: () => [] };
    const s = new VolumeStore(root, mounts);
    s.create({ name: 'keep' });
    s.create({ name: 'broken' });
    fs.writeFileSync(path.join(s.dataPath('broken'), 'data.txt'), 'precious');
    fs.writeFileSync(path.join(root, 'volumes', 'broken', 'volume.json'), '{"Name":');
    // and one a create cut short left: an empty _data, no record
    fs.mkdirSync(path.join(root, 'volumes', 'half', '_data'), { recursive: true });

    const reports: string[] = [];
    const again = new VolumeStore(root, { ...mounts, onQuarantine: (r) => reports.push(r.quarantinedAs) });
    expect(again.all().map((v) => v.Name)).toEqual(['keep']);
    expect(reports).toHaveLength(1);
    expect(reports[0]).toMatch(new RegExp(`^${root}/volumes/broken/quarantine/volume\\.json\\.\\d{8}T`));
    expect(fs.readFileSync(path.join(again.dataPath('broken'), 'data.txt'), 'utf8')).toBe('precious');
    expect(fs.existsSync(path.join(root, 'volumes', 'half'))).toBe(false);
    // a new volume of that name would adopt (or, on failure, delete) the old data: refused
    expect(() => again.create({ name: 'broken' })).toThrow(/exists without a volume record/);
    expect(fs.readFileSync(path.join(again.dataPath('broken'), 'data.txt'), 'utf8')).toBe('precious');
    expect(again.create({ name: 'half' }).created).toBe(true);
  });
});

describe('NetworkStore with a corrupt network record at start-up', () => {
  it('quarantines it beside the others and serves the rest', () => {
    const dir = path.join(tmp(), 'networks');
    const s = new NetworkStore(dir);
    const a = NetworkStore.newId();
    const b = NetworkStore.newId();
    s.save(networkRecord({ Name: 'a', Id: a, Driver: 'bridge' }));
    s.save(networkRecord({ Name: 'b', Id: b, Driver: 'bridge' }));
    fs.writeFileSync(path.join(dir, `${b}.json`), '{"Name":"b","Id":');
    const reports: string[] = [];
    const again = new NetworkStore(dir, { onQuarantine: (r) => reports.push(path.relative(dir, r.quarantinedAs)) });
    expect(again.all().map((n) => n.Name)).toEqual(['a']);
    expect(reports).toEqual([expect.stringMatching(new RegExp(`^quarantine/${b}\\.json\\.\\d{8}T`))]);
  });
});
