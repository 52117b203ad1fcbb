/**
 * User namespaces on the real kernel: a busybox bundle with uid/gid mappings runs as root of its
 * own user namespace (host uid 100000), with pid, mount and other namespaces owned by it, /proc
 * mounted, a bind of a directory only host root may enter, and `exec` joining all of it.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describeRoot, useHarness, type Json } from './helpers';

const HOST_ID = 100000;

function withUserns(c: Json): void {
  c.linux.namespaces.push({ type: 'user' });
  c.linux.uidMappings = [{ containerID: 0, hostID: HOST_ID, size: 65534 }];
  c.linux.gidMappings = [{ containerID: 0, hostID: HOST_ID, size: 65534 }];
}

/** The Uid/Gid lines of /proc/<pid>/status as the host sees them: real, effective, saved, fs. */
function hostIds(pid: number): { uid: string; gid: string } {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  return { uid: /^Uid:\s+(.*)$/m.exec(status)![1]!.trim(), gid: /^Gid:\s+(.*)$/m.exec(status)![1]!.trim() };
}

describeRoot('user namespaces (root integration)', () => {
  const H = useHarness('userns');
  let secret: string;

  beforeAll(() => {
    const h = H();
    // The container's root is host uid 100000: the rootfs' parents must be searchable by others
    // (runc's suite does the same chmod a+x), while the bind source below stays root-only.
    for (const d of [path.dirname(path.dirname(h.rootfs)), path.dirname(h.rootfs)]) fs.chmodSync(d, 0o711);
    secret = h.file('secret-src');
    fs.mkdirSync(path.join(secret, 'dir'), { recursive: true });
    fs.writeFileSync(path.join(secret, 'dir', 'foo.txt'), 'only root of the host can reach me\n');
    fs.chmodSync(secret, 0o700);
  });

  it('runs the process as root of its own user namespace, with the mappings, pid 1 and /proc', () => {
    const h = H();
    const b = h.bundleFor(['sh', '-c', 'id; cat /proc/self/uid_map /proc/self/gid_map; echo $$; stat -c "%u:%g" /; ls /proc/1/ns/user'], withUserns);
    const r = h.cli(['run', '-b', b, h.id()]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const lines = r.stdout
      .trim()
      .split('\n')
      .map((l) => l.trim().split(/\s+/).join(' '));
    expect(lines[0]).toMatch(/^uid=0\(root\) gid=0\(root\)/);
    expect(lines[1]).toBe(`0 ${HOST_ID} 65534`);
    expect(lines[2]).toBe(`0 ${HOST_ID} 65534`);
    expect(lines[3]).toBe('1');
    // the rootfs belongs to host root, which is unmapped inside: the overflow id, as with runc
    expect(lines[4]).toBe('65534:65534');
    expect(lines[5]).toBe('/proc/1/ns/user');
  });

  it('binds a source only host root can reach, and exec joins the user namespace', () => {
    const h = H();
    const id = h.id('exec');
    const b = h.bundleFor(['sleep', '300'], (c) => {
      withUserns(c);
      c.mounts.push({ source: path.join(secret, 'dir'), destination: '/tmp/mount-1', options: ['bind'] });
    });
    h.runDetached(id, b);
    const init: number = h.state(id).pid;
    // the init as the host sees it: uid and gid 100000, in a user namespace other than ours
    expect(hostIds(init)).toEqual({ uid: `${HOST_ID}\t${HOST_ID}\t${HOST_ID}\t${HOST_ID}`, gid: `${HOST_ID}\t${HOST_ID}\t${HOST_ID}\t${HOST_ID}` });
    const userns = fs.readlinkSync(`/proc/${init}/ns/user`);
    expect(userns).not.toBe(fs.readlinkSync('/proc/self/ns/user'));

    expect(h.ok(['exec', id, 'cat', '/tmp/mount-1/foo.txt'])).toBe('only root of the host can reach me\n');
    const out = h
      .ok(['exec', id, 'sh', '-c', 'id; cat /proc/self/uid_map; readlink /proc/self/ns/user; readlink /proc/self/ns/pid; echo $$'])
      .trim()
      .split('\n');
    expect(out[0]).toMatch(/^uid=0\(root\) gid=0\(root\)/);
    expect(out[1]!.trim().split(/\s+/)).toEqual(['0', String(HOST_ID), '65534']);
    expect(out[2]).toBe(userns);
    expect(out[3]).toBe(fs.readlinkSync(`/proc/${init}/ns/pid`));
    expect(Number(out[4])).toBeGreaterThan(1);

    // a non-root user of the container is mapped too
    expect(h.ok(['exec', '-u', '1000:1000', id, 'id']).trim()).toMatch(/^uid=1000\b.* gid=1000\b/);
    // and the container cannot write what host root owns (the rootfs' /etc here)
    const denied = h.cli(['exec', id, 'sh', '-c', 'echo x > /etc/gantry-userns-probe']);
    expect(denied.status).not.toBe(0);
    expect(fs.existsSync(path.join(h.rootfs, 'etc/gantry-userns-probe'))).toBe(false);
  });

  it('fails create with a clear error when a mapping is missing', () => {
    const h = H();
    const b = h.bundleFor(['true'], (c) => {
      c.linux.namespaces.push({ type: 'user' });
      c.linux.uidMappings = [{ containerID: 0, hostID: HOST_ID, size: 65534 }];
    });
    const r = h.cli(['run', '-b', b, h.id()]);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/no gid mappings/);
  });
});
