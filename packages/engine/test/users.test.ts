/**
 * `-u name` looks the name up in the image's /etc/passwd and /etc/group, opened inside the image's
 * root: an image whose /etc/passwd is a link to a host file gets its own (missing) file, never the
 * host's, and a FIFO or device there is refused instead of blocking or streaming forever.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { linuxSys, openRoot } from '@gantry/linux';
import { itIf, needRoot } from '@gantry/testkit';
import type { Containerd } from '../src/containerd/client';
import { readUserDb, resolveUserSpec, userResolver } from '../src/containers/users';

const sys = linuxSys();
let tmp: string;
let image: string;
let marker: string;

beforeEach(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'gantry-users-'));
  image = path.join(tmp, 'image');
  marker = path.join(tmp, 'host', 'passwd');
  fs.mkdirSync(path.dirname(marker));
  // the host's file the image points at: a user the image does not have
  fs.writeFileSync(marker, 'hostuser:x:4242:4242::/:/bin/sh\n');
  fs.mkdirSync(path.join(image, 'etc'), { recursive: true });
  fs.symlinkSync(marker, path.join(image, 'etc', 'passwd'));
  fs.writeFileSync(path.join(image, 'etc', 'group'), 'staff:x:50:hostuser\n');
});

afterEach(() => {
  expect(fs.readFileSync(marker, 'utf8')).toBe('hostuser:x:4242:4242::/:/bin/sh\n');
  fs.rmSync(tmp, { recursive: true, force: true });
});

it('reads /etc/passwd inside the image root, not the host file it links to', () => {
  // what following the link on the host would give
  expect(resolveUserSpec('hostuser', fs.readFileSync(path.join(image, 'etc', 'passwd'), 'utf8'), '').uid).toBe(4242);
  const fd = openRoot(sys, image);
  try {
    const db = readUserDb(sys, fd);
    expect(db).toEqual({ passwd: '', group: 'staff:x:50:hostuser\n' });
    expect(() => resolveUserSpec('hostuser', db.passwd, db.group)).toThrow(/unable to find user hostuser/);
    // the same link with the target made inside the image is that file
    fs.mkdirSync(path.join(image, path.dirname(marker)), { recursive: true });
    fs.writeFileSync(path.join(image, marker), 'app:x:1000:1000::/:/bin/sh\n');
    expect(resolveUserSpec('app', readUserDb(sys, fd).passwd, '').uid).toBe(1000);
  } finally {
    sys.close(fd);
  }
});

it('refuses a FIFO as /etc/group instead of waiting on it', () => {
  fs.rmSync(path.join(image, 'etc', 'group'));
  sys.mknod(path.join(image, 'etc', 'group'), 0o010600, 0, 0);
  const fd = openRoot(sys, image);
  try {
    expect(() => readUserDb(sys, fd)).toThrow(/not a regular file/);
  } finally {
    sys.close(fd);
  }
});

itIf(needRoot())('userResolver on the mounted snapshot does not see the host user', async () => {
  const resolve = await userResolver({} as Containerd, [{ type: 'bind', source: image, target: '', options: ['rbind', 'ro'] }], tmp);
  expect(() => resolve('hostuser')).toThrow(/unable to find user hostuser/);
  expect(resolve('0:0')).toEqual({ uid: 0, gid: 0, additionalGids: [] });
  expect(fs.readdirSync(tmp).filter((n) => n.startsWith('.userns-'))).toEqual([]);
});
