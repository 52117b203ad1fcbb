/** A container's /etc files are rewritten in place, never through a link, never onto a FIFO. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { writeEtcFile } from '../src/networks/etc-files';

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'getc-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

it('rewrites the same inode (what a running container has bind-mounted)', () => {
  const f = path.join(dir, 'hosts');
  writeEtcFile(f, 'a much longer first version\n');
  const ino = fs.statSync(f).ino;
  writeEtcFile(f, 'short\n');
  expect(fs.readFileSync(f, 'utf8')).toBe('short\n');
  expect(fs.statSync(f).ino).toBe(ino);
});

it('does not write through a symlink or onto a FIFO', () => {
  const marker = path.join(dir, 'marker');
  fs.writeFileSync(marker, 'HOST');
  fs.symlinkSync(marker, path.join(dir, 'resolv.conf'));
  expect(() => writeEtcFile(path.join(dir, 'resolv.conf'), 'nameserver 1.2.3.4\n')).toThrow(/ELOOP/);
  expect(fs.readFileSync(marker, 'utf8')).toBe('HOST');
  execFileSync('mkfifo', [path.join(dir, 'hostname')]);
  expect(() => writeEtcFile(path.join(dir, 'hostname'), 'x\n')).toThrow(/ENXIO|not a regular file/);
});
