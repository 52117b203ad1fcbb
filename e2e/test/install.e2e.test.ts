/**
 * tools/install.sh into a staging root (DESTDIR): every installed command runs from the copied
 * tree, the units pass `systemd-analyze verify` with their ExecStart= paths looked up under that
 * root, the installed gantryd serves the Engine API on a socket systemd-socket-activate passes it
 * as fd 3 (`-H fd://`), and --uninstall leaves exactly the files that were there before.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import { join, resolve } from 'node:path';
import { describeIf, needRoot, needTool, waitFor } from '@gantry/testkit';
import { unixRequest } from '../src/http';
import { bundleTool, repoRoot } from '../src/paths';

const INSTALL = join(repoRoot, 'tools', 'install.sh');
const UNITS = ['gantry-containerd.service', 'gantryd.service', 'gantryd.socket'];

/** Every path under `root` with its kind (and a symlink's target), sorted. */
function listTree(root: string): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    for (const e of fs.readdirSync(join(root, rel), { withFileTypes: true })) {
      const p = join(rel, e.name);
      if (e.isSymbolicLink()) out.push(`${p} -> ${fs.readlinkSync(join(root, p))}`);
      else if (e.isDirectory()) {
        out.push(`${p}/`);
        walk(p);
      } else out.push(p);
    }
  };
  walk('');
  return out.sort();
}

const d = describeIf(needRoot(), needTool('systemd-analyze', 'systemd'), needTool('systemd-socket-activate', 'systemd'), needTool('docker', 'docker.io'));

d('tools/install.sh', () => {
  let dir: string;
  let stage: string;
  let before: string[];
  const install = (...args: string[]) => spawnSync('sh', [INSTALL, ...args], { encoding: 'utf8', env: { ...process.env, DESTDIR: stage } });

  beforeAll(() => {
    dir = fs.mkdtempSync('/tmp/ginst-');
    stage = join(dir, 'root');
    // what a real root has before: a command and a unit of someone else's (left alone), and
    // systemd's own units, which `systemd-analyze verify --root` needs (sysinit.target…)
    fs.mkdirSync(join(stage, 'usr/local/bin'), { recursive: true });
    fs.writeFileSync(join(stage, 'usr/local/bin/other-tool'), '#!/bin/sh\n', { mode: 0o755 });
    fs.mkdirSync(join(stage, 'etc/systemd/system'), { recursive: true });
    fs.writeFileSync(join(stage, 'etc/systemd/system/other.service'), '[Service]\nExecStart=/bin/true\n');
    fs.mkdirSync(join(stage, 'usr/lib/systemd'), { recursive: true });
    fs.cpSync('/usr/lib/systemd/system', join(stage, 'usr/lib/systemd/system'), { recursive: true, verbatimSymlinks: true });
    before = listTree(stage);
  });

  afterAll(() => {
    // a gantry-containerd or shim left behind by a failed test names the directory on its command line
    for (const pid of fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
      try {
        if (fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(dir)) process.kill(Number(pid), 'SIGKILL');
      } catch {
        // gone
      }
    }
    spawnSync('sh', ['-c', `grep -o " ${dir}[^ ]*" /proc/self/mounts | sort -r | xargs -r -n1 umount -l`]);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('installs (twice: the same result) the commands, the tree and the units', () => {
    const first = install();
    expect(first.stderr).toBe('');
    expect(first.status).toBe(0);
    const once = listTree(stage);
    const second = install();
    expect(second.status).toBe(0);
    expect(listTree(stage)).toEqual(once);
    for (const name of ['gantryd', 'gantry-containerd', 'gantry-shim', 'gantry-runtime']) {
      expect(fs.readlinkSync(join(stage, 'usr/local/bin', name))).toBe(`../lib/gantry/bin/${name}`);
    }
    for (const u of UNITS) expect(fs.existsSync(join(stage, 'etc/systemd/system', u))).toBe(true);
    // every entry of bin/ is installed (the gantry CLI once it exists, too)
    for (const name of fs.readdirSync(join(repoRoot, 'bin'))) expect(fs.existsSync(join(stage, 'usr/local/bin', name))).toBe(true);
  });

  it('installed commands run from the copied tree, not the checkout', () => {
    const run = (name: string, arg: string) => spawnSync(join(stage, 'usr/local/bin', name), [arg], { encoding: 'utf8' });
    const v = run('gantry-runtime', '--version');
    expect(v.status).toBe(0);
    expect(v.stdout).toMatch(/^gantry-runtime version \d+\.\d+\.\d+/);
    for (const name of ['gantryd', 'gantry-containerd', 'gantry-shim']) {
      const h = run(name, '--help');
      expect({ name, status: h.status }).toEqual({ name, status: 0 });
      expect(h.stdout).toContain(`usage: ${name}`);
    }
    const tree = join(stage, 'usr/local/lib/gantry');
    expect(fs.existsSync(join(tree, 'node_modules/koffi'))).toBe(true);
    expect(fs.existsSync(join(tree, 'node_modules/jest'))).toBe(false); // production dependencies only
    expect(fs.existsSync(join(tree, 'packages/testkit'))).toBe(false);
  });

  it('units pass systemd-analyze verify with their ExecStart paths under the staging root', () => {
    const units = UNITS.map((u) => join(stage, 'etc/systemd/system', u));
    const r = spawnSync('systemd-analyze', ['verify', `--root=${stage}`, ...units], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const service = fs.readFileSync(units[1]!, 'utf8');
    expect(service).toMatch(/^ExecStart=\/usr\/local\/bin\/gantryd -H fd:\/\/ /m);
    expect(service).toMatch(/^Requires=gantryd\.socket$/m);
    expect(service).toMatch(/^Delegate=yes$/m);
    expect(fs.readFileSync(units[0]!, 'utf8')).toMatch(/^KillMode=process$/m);
    expect(fs.readFileSync(units[2]!, 'utf8')).toMatch(/^SocketMode=0660\nSocketUser=root\nSocketGroup=docker$/m);
    // the check has teeth: a unit whose command is missing fails it
    const gantryd = join(stage, 'usr/local/bin/gantryd');
    fs.renameSync(gantryd, `${gantryd}.away`);
    try {
      const bad = spawnSync('systemd-analyze', ['verify', `--root=${stage}`, units[1]!], { encoding: 'utf8' });
      expect(bad.status).not.toBe(0);
      expect(bad.stderr).toContain('/usr/local/bin/gantryd is not executable');
    } finally {
      fs.renameSync(`${gantryd}.away`, gantryd);
    }
  });

  describe('the installed gantryd, socket-activated', () => {
    let daemon: ChildProcess | undefined;
    let containerd: ChildProcess | undefined;
    const sock = () => join(dir, 'api.sock');
    const log = () => join(dir, 'gantryd.log');
    const logTail = () => (fs.existsSync(log()) ? fs.readFileSync(log(), 'utf8').split('\n').slice(-15).join('\n') : '');

    afterAll(async () => {
      for (const p of [daemon, containerd]) {
        if (p && p.exitCode === null && p.signalCode === null) {
          p.kill('SIGTERM');
          await new Promise((r) => p.once('exit', r));
        }
      }
    });

    it('serves /_ping and the docker CLI on fd 3 (-H fd://), keeps the socket mode, and passes neither the fd nor LISTEN_* to its children', async () => {
      const out = fs.openSync(log(), 'a');
      daemon = spawn(
        'systemd-socket-activate',
        [
          '-l',
          sock(),
          '--fdname=gantryd.socket',
          join(stage, 'usr/local/bin/gantryd'),
          '-H',
          'fd://',
          '--data-root',
          join(dir, 'data'),
          '--exec-root',
          join(dir, 'run'),
        ],
        { stdio: ['ignore', out, out] },
      );
      fs.closeSync(out);
      await waitFor('systemd-socket-activate to listen', () => fs.existsSync(sock()));
      fs.chmodSync(sock(), 0o640);
      // the first connection makes systemd-socket-activate exec gantryd; it waits in the backlog
      const ping = await waitFor(
        `gantryd to answer on the passed socket\n${logTail()}`,
        async () => {
          if (daemon!.exitCode !== null) throw new Error(`gantryd exited ${daemon!.exitCode}: ${logTail()}`);
          const r = await unixRequest(sock(), 'GET', '/_ping');
          return r.status === 200 && r.body.toString();
        },
        90_000,
      );
      expect(ping).toBe('OK');
      expect(fs.readFileSync(log(), 'utf8')).toContain('"host":"fd://3"');
      const v = spawnSync('docker', ['version', '--format', '{{.Server.Os}}'], {
        encoding: 'utf8',
        timeout: 30000,
        env: { ...process.env, DOCKER_HOST: `unix://${sock()}`, DOCKER_CONFIG: join(dir, 'cfg'), DOCKER_CLI_HINTS: 'false' },
      });
      expect({ status: v.status, stdout: v.stdout.trim(), stderr: v.stderr }).toEqual({ status: 0, stdout: 'linux', stderr: '' });
      expect(fs.statSync(sock()).mode & 0o777).toBe(0o640);

      // gantry-containerd, which this gantryd started: no LISTEN_* and no copy of the API socket
      const gantrydPid = daemon.pid!;
      const apiSocket = fs.readlinkSync(`/proc/${gantrydPid}/fd/3`);
      expect(apiSocket).toMatch(/^socket:\[\d+\]$/);
      const child = fs
        .readdirSync('/proc')
        .filter((p) => /^\d+$/.test(p))
        .find((p) => {
          try {
            return (
              fs.readFileSync(`/proc/${p}/cmdline`, 'utf8').includes('containerd/dist/main.js') && fs.readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(dir)
            );
          } catch {
            return false;
          }
        });
      expect(child).toBeDefined();
      expect(
        fs
          .readFileSync(`/proc/${child}/environ`, 'utf8')
          .split('\0')
          .filter((e) => e.startsWith('LISTEN_')),
      ).toEqual([]);
      const childFds = fs.readdirSync(`/proc/${child}/fd`).map((fd) => {
        try {
          return fs.readlinkSync(`/proc/${child}/fd/${fd}`);
        } catch {
          return '';
        }
      });
      expect(childFds).not.toContain(apiSocket);

      daemon.kill('SIGTERM');
      await new Promise((r) => daemon!.once('exit', r));
    }, 120_000);

    it('runs a container as the units run the daemons: gantry-containerd on its own, gantryd -H fd:// --containerd', async () => {
      const made = spawnSync('bash', [bundleTool, join(dir, 'b'), '--args', 'sh', '--docker-archive', join(dir, 'bb.tar'), '--name', 'busybox:latest'], {
        encoding: 'utf8',
      });
      expect(made.stderr).not.toMatch(/error/i);
      expect(made.status).toBe(0);
      const cdSock = join(dir, 'cd', 'containerd.sock');
      const out = fs.openSync(log(), 'a');
      containerd = spawn(join(stage, 'usr/local/bin/gantry-containerd'), ['--address', cdSock, '--root', join(dir, 'cd-root'), '--state', join(dir, 'cd')], {
        stdio: ['ignore', out, out],
      });
      const api = join(dir, 'api2.sock');
      daemon = spawn(
        'systemd-socket-activate',
        [
          '-l',
          api,
          join(stage, 'usr/local/bin/gantryd'),
          '-H',
          'fd://',
          `--containerd=${cdSock}`,
          '--data-root',
          join(dir, 'data2'),
          '--exec-root',
          join(dir, 'run2'),
        ],
        { stdio: ['ignore', out, out] },
      );
      fs.closeSync(out);
      await waitFor('systemd-socket-activate to listen', () => fs.existsSync(api));
      const docker = (...args: string[]) =>
        spawnSync('docker', args, {
          encoding: 'utf8',
          timeout: 90000,
          env: { ...process.env, DOCKER_HOST: `unix://${api}`, DOCKER_CONFIG: join(dir, 'cfg'), DOCKER_CLI_HINTS: 'false' },
        });
      const loaded = docker('load', '-i', join(dir, 'bb.tar'));
      expect({ status: loaded.status, stderr: loaded.stderr, tail: loaded.status === 0 ? '' : logTail() }).toEqual({ status: 0, stderr: '', tail: '' });
      const run = docker('run', '--rm', 'busybox', 'sh', '-c', 'echo from-the-installed-tree; exit 3');
      expect({ status: run.status, stdout: run.stdout, tail: run.status === 3 ? '' : logTail() }).toEqual({
        status: 3,
        stdout: 'from-the-installed-tree\n',
        tail: '',
      });
      // both daemons run from the installed tree (and gantry-containerd finds gantry-shim beside itself there)
      const tree = join(stage, 'usr/local/lib/gantry/packages');
      const argv = (pid: number | undefined) =>
        fs
          .readFileSync(`/proc/${pid}/cmdline`, 'utf8')
          .split('\0')
          .filter(Boolean)
          .map((a) => resolve(a));
      expect(argv(containerd.pid)).toContain(join(tree, 'containerd/dist/main.js'));
      expect(argv(daemon.pid)).toContain(join(tree, 'engine/dist/main.js'));
    }, 180_000);
  });

  it('--uninstall leaves exactly what was there before, and a second one is harmless', () => {
    const r = install('--uninstall');
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(listTree(stage)).toEqual(before);
    expect(install('--uninstall').status).toBe(0);
    expect(listTree(stage)).toEqual(before);
  });

  it('creates group docker when it is missing and removes it again; keeps one that was there (in a mount namespace with a copy of /etc)', () => {
    const etc = join(dir, 'etc');
    const script = `
      set -e
      cp -a /etc ${etc}
      mount --bind ${etc} /etc
      sed -i '/^docker:/d' /etc/group /etc/gshadow
      p=${dir}/grp-prefix u=${dir}/grp-units
      sh ${INSTALL} --prefix $p --unitdir $u >/dev/null
      echo "created: $(getent group docker | cut -d: -f1) manifest: $(grep '^group' $p/lib/gantry/install-manifest)"
      sh ${INSTALL} --prefix $p --unitdir $u --uninstall >/dev/null
      echo "after uninstall: $(getent group docker || echo none)"
      groupadd --system docker
      sh ${INSTALL} --prefix $p --unitdir $u >/dev/null
      echo "present before: $(grep -c '^group' $p/lib/gantry/install-manifest || true)"
      sh ${INSTALL} --prefix $p --unitdir $u --uninstall >/dev/null
      echo "kept: $(getent group docker | cut -d: -f1)"
    `;
    const r = spawnSync('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', script], { encoding: 'utf8' });
    expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: '' });
    expect(r.stdout.trim().split('\n')).toEqual(['created: docker manifest: group docker', 'after uninstall: none', 'present before: 0', 'kept: docker']);
    expect(fs.existsSync(join(dir, 'grp-prefix'))).toBe(false);
  });

  it('refuses clearly: a relative prefix, an unknown flag, a command of someone else in the way', () => {
    expect(install('--prefix', 'usr').stderr).toContain('--prefix must be an absolute path');
    expect(install('--frobnicate').stderr).toContain('unknown argument --frobnicate');
    fs.writeFileSync(join(stage, 'usr/local/bin/gantryd'), '#!/bin/sh\n');
    try {
      const r = install();
      expect(r.status).not.toBe(0);
      expect(r.stderr).toContain('gantryd exists and is not Gantry');
      expect(listTree(stage)).toEqual([...before, 'usr/local/bin/gantryd'].sort()); // checked before writing anything
    } finally {
      fs.rmSync(join(stage, 'usr/local/bin/gantryd'));
    }
    const nonRoot = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', 'sh', INSTALL], {
      encoding: 'utf8',
      env: { PATH: process.env.PATH },
    });
    expect(nonRoot.status).not.toBe(0);
    expect(nonRoot.stderr).toContain('run as root');
  });
});
