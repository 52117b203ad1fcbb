/**
 * A record gantryd cannot read at start-up (damaged on disk: a bad sector, an operator's edit, a
 * copy cut short) must not take the container's logs and data with it, nor stop the daemon.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ContainerStore } from '../src/containers/store';
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

describe('ContainerStore with a corrupt config.v2.json at start-up', () => {
  it('BEFORE: deletes the whole container directory, its log included', () => {
    const root = tmp();
    const s = new ContainerStore(root);
    const good = 'a'.repeat(64);
    const bad = 'b'.repeat(64);
    s.save(record(good, '/good'));
    s.save(record(bad, '/bad'));
    const log = path.join(s.containerDir(bad), `${bad}-json.log`);
    fs.writeFileSync(log, '{"log":"precious\\n"}\n');
    fs.writeFileSync(path.join(s.containerDir(bad), 'config.v2.json'), '{');
    const again = new ContainerStore(root);
    expect(again.all().map((c) => c.Id)).toEqual([good]);
    expect(fs.existsSync(log)).toBe(false); // the log went with the broken record
  });
});
