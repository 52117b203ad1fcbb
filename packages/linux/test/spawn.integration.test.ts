/**
 * LinuxSys.spawn (posix_spawn through koffi), closeFrom (close_range) and getcwd (the raw syscall)
 * on the real kernel. spawn does not change the calling process, so it runs in the Jest worker;
 * the getcwd check moves its root, so it runs in a child `node`.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { LinuxSys } from '../src/linux-sys';
import { SysError } from '../src/errors';

const sys = new LinuxSys();
let dir: string;

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gantry-spawn-'));
});
afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

/** Wait for our child `pid` by polling waitpid(WNOHANG) on the event loop. */
async function reaped(pid: number): Promise<number> {
  for (;;) {
    const status = sys.reap(pid);
    if (status !== undefined) return status;
    await new Promise((r) => setImmediate(r));
  }
}

describe('LinuxSys.spawn', () => {
  it('starts the program in a new session with default signals, no mask and only the fds below closeFrom', async () => {
    const out = path.join(dir, 'report');
    // the Jest worker has many fds open (and ignores SIGPIPE, as Node does)
    const pid = sys.spawn({
      path: '/bin/sh',
      argv: ['sh', '-c', `{ echo "pid=$$"; cat /proc/self/stat; grep -E '^Sig(Ign|Blk):' /proc/self/status; ls /proc/self/fd; } > ${out}`],
      env: ['PATH=/bin:/usr/bin'],
      setsid: true,
      closeFrom: 3,
    });
    expect(await reaped(pid)).toBe(0);
    const report = fs.readFileSync(out, 'utf8');
    expect(report).toContain(`pid=${pid}`);
    const stat = report.split('\n')[1]!;
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    expect(fields[3]).toBe(String(pid)); // session id: its own
    expect(report).toMatch(/^SigIgn:\s+0000000000000000$/m);
    expect(report).toMatch(/^SigBlk:\s+0000000000000000$/m);
    // cat's fds as listed by ls: stdio, the redirect and ls's own directory fd; nothing of ours
    const fds = report.split('\n').slice(4).filter(Boolean).map(Number);
    expect(fds.every((fd) => fd <= 3)).toBe(true);
  });

  it('reports a missing program as ENOENT from posix_spawn', () => {
    expect(() => sys.spawn({ path: '/nonexistent/prog', argv: ['prog'], env: [], setsid: false })).toThrow(SysError);
    try {
      sys.spawn({ path: '/nonexistent/prog', argv: ['prog'], env: [], setsid: false });
    } catch (e) {
      expect((e as SysError).code).toBe('ENOENT');
      expect((e as SysError).syscall).toBe('posix_spawn');
    }
  });
});

describe('LinuxSys.getcwd and closeFrom in a child process', () => {
  it('getcwd answers "(unreachable)" for a cwd outside the root; close_range marks close-on-exec', () => {
    const distSys = path.resolve(__dirname, '../dist/linux-sys.js');
    const script = `
      const { LinuxSys } = require(${JSON.stringify(distSys)});
      const fs = require('fs');
      const sys = new LinuxSys();
      const out = {};
      const outside = fs.openSync(${JSON.stringify(dir)}, 'r');
      out.cloexecBefore = (sys.setCloexec(outside, false), fs.readFileSync('/proc/self/fdinfo/' + outside, 'utf8').match(/flags:\\s+(\\d+)/)[1]);
      sys.closeFrom(outside, true);
      out.cloexecAfter = fs.readFileSync('/proc/self/fdinfo/' + outside, 'utf8').match(/flags:\\s+(\\d+)/)[1];
      sys.unshare(0x200 /* CLONE_FS */);
      sys.chroot('/usr');
      sys.fchdir(outside);
      out.cwd = sys.getcwd();
      process.stdout.write(JSON.stringify(out));
    `;
    const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    const out = JSON.parse(r.stdout) as { cwd: string; cloexecBefore: string; cloexecAfter: string };
    expect(out.cwd).toBe(`(unreachable)${dir}`);
    expect(parseInt(out.cloexecBefore, 8) & 0o2000000).toBe(0);
    expect(parseInt(out.cloexecAfter, 8) & 0o2000000).toBe(0o2000000);
  });
});
