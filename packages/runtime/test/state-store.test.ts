import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { StateError, ContainerIdError } from '../src/errors';
import { StateStore, type StoredContainer } from '../src/state/store';

describe('StateStore (state.json through @gantry/linux writeJsonAtomic)', () => {
  let root: string;
  beforeEach(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'grt-state-'));
  });
  afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

  const stored = (id: string): StoredContainer =>
    ({
      id,
      bundle: '/b',
      rootfs: '/b/rootfs',
      created: '',
      owner: '',
      pid: 0,
      pidStartTime: '',
      recorded: 'created',
      cgroupPath: '',
      spec: { ociVersion: '1.0.2' },
    }) as StoredContainer;

  it('saves atomically (no temp file left, 0600) and loads back', () => {
    const s = new StateStore(root);
    s.claim('c1');
    s.save(stored('c1'));
    s.save({ ...stored('c1'), pid: 42 });
    expect(s.load('c1').pid).toBe(42);
    expect(fs.readdirSync(s.dir('c1'))).toEqual(['state.json']);
    expect(fs.statSync(path.join(s.dir('c1'), 'state.json')).mode & 0o777).toBe(0o600);
    expect(s.list()).toEqual(['c1']);
  });

  it('a missing state.json is "does not exist"; a damaged one is a StateError naming the file, and stays for inspection', () => {
    const s = new StateStore(root);
    expect(() => s.load('nope')).toThrow(ContainerIdError);
    s.claim('c2');
    const file = path.join(s.dir('c2'), 'state.json');
    for (const bad of ['{', '[]', '{"id":"c2"}']) {
      fs.writeFileSync(file, bad);
      expect(() => s.load('c2')).toThrow(StateError);
      expect(() => s.load('c2')).toThrow(file);
      expect(fs.readFileSync(file, 'utf8')).toBe(bad);
    }
  });
});
