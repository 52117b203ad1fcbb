import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from '../src/cli/args';
import { EXEC_FLAGS, execProcessFrom } from '../src/cli/process-flags';
import type { Process } from '../src/spec/types';

const base: Process = {
  args: ['sh'],
  cwd: '/',
  user: { uid: 0, gid: 0 },
  env: ['PATH=/bin'],
  capabilities: { bounding: ['CAP_KILL'], effective: ['CAP_KILL'], permitted: ['CAP_KILL'] },
  rlimits: [{ type: 'RLIMIT_NOFILE', soft: 1024, hard: 1024 }],
};

describe('exec --process (a process.json), as runc reads it', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gantry-procjson-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));
  const fromFile = (json: unknown) => {
    const file = path.join(dir, 'p.json');
    fs.writeFileSync(file, JSON.stringify(json));
    const p = parseArgs(['-p', file, 'ct'], EXEC_FLAGS, true);
    return execProcessFrom(p, base, []);
  };

  it("fills what runc fills: root user, the container's capabilities and rlimits", () => {
    const proc = fromFile({ terminal: true, consoleSize: { height: 10, width: 110 }, args: ['/bin/stty', '-a'], cwd: '/' });
    expect(proc.user).toEqual({ uid: 0, gid: 0 });
    expect(proc.capabilities).toEqual(base.capabilities);
    expect(proc.rlimits).toEqual(base.rlimits);
    expect(proc.consoleSize).toEqual({ height: 10, width: 110 });
    expect(proc.args).toEqual(['/bin/stty', '-a']);
  });

  it('keeps what the file says', () => {
    const proc = fromFile({ args: ['id'], cwd: '/tmp', user: { uid: 7, gid: 8 }, capabilities: { bounding: [] } });
    expect(proc.user).toEqual({ uid: 7, gid: 8 });
    expect(proc.capabilities).toEqual({ bounding: [] });
  });

  it('refuses a process without cwd', () => {
    expect(() => fromFile({ args: ['id'] })).toThrow(/Cwd property must not be empty/);
  });
});
