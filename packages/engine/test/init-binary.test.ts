/** Finding docker-init as dockerd does: --init-path, else PATH, else dockerd's libexec directories. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { findInitBinary } from '../src/containers/init-binary';

describe('findInitBinary', () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gantry-init-'));
    fs.mkdirSync(path.join(dir, 'bin'));
    fs.mkdirSync(path.join(dir, 'other'));
    fs.writeFileSync(path.join(dir, 'tini-static'), '#!/bin/sh\n', { mode: 0o755 });
    fs.symlinkSync('../tini-static', path.join(dir, 'bin', 'docker-init'));
    fs.writeFileSync(path.join(dir, 'other', 'docker-init'), 'not executable', { mode: 0o644 });
    fs.writeFileSync(path.join(dir, 'other', 'my-init'), '#!/bin/sh\n', { mode: 0o755 });
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('docker-init on PATH, a link resolved to the file it names; a file that is not executable is passed over', () => {
    expect(findInitBinary(undefined, `${dir}/other:${dir}/bin`)).toBe(path.join(dir, 'tini-static'));
  });

  test('--init-path: an absolute path used as it is, a bare name looked up on PATH; missing or not executable: none', () => {
    expect(findInitBinary(path.join(dir, 'other', 'my-init'), '')).toBe(path.join(dir, 'other', 'my-init'));
    expect(findInitBinary('my-init', `${dir}/other`)).toBe(path.join(dir, 'other', 'my-init'));
    expect(findInitBinary(path.join(dir, 'missing'), `${dir}/bin`)).toBeUndefined();
    expect(findInitBinary(path.join(dir, 'other', 'docker-init'), `${dir}/bin`)).toBeUndefined();
  });

  test('nothing on PATH: undefined unless dockerd libexec directories hold one', () => {
    const found = findInitBinary(undefined, `${dir}/other`);
    const libexec = ['/usr/local/libexec/docker', '/usr/libexec/docker', '/usr/local/lib/docker', '/usr/lib/docker'].some((d) =>
      fs.existsSync(path.join(d, 'docker-init')),
    );
    expect(found === undefined).toBe(!libexec);
  });
});
