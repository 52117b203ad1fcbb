import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runHooks } from '../src/hooks';

describe('runHooks', () => {
  it('runs a hook in the directory asked for (createContainer hooks run from the container root)', () => {
    const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'gantry-hookcwd-')));
    try {
      const state = { ociVersion: '1.0.2', id: 'c', status: 'creating', pid: 1, bundle: '/b' };
      runHooks('createContainer', [{ path: '/bin/sh', args: ['sh', '-c', 'pwd > ./where; cat > ./state'] }], state, { cwd: dir });
      expect(fs.readFileSync(path.join(dir, 'where'), 'utf8').trim()).toBe(dir);
      expect(JSON.parse(fs.readFileSync(path.join(dir, 'state'), 'utf8'))).toEqual(state);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
