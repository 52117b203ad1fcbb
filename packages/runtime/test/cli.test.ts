import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { defaultSpec } from '../src/spec/default-spec';

// The built CLI, as users and containerd run it (npm run build makes it).
const CLI = path.resolve(__dirname, '../dist/bundle/main.js');

function cli(args: string[], cwd?: string) {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', cwd, timeout: 20000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('gantry-runtime CLI (no containers)', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gantry-cli-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('spec writes the default config.json and refuses to overwrite it', () => {
    expect(cli(['spec'], dir).status).toBe(0);
    expect(JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'))).toEqual(defaultSpec());
    const again = cli(['spec'], dir);
    expect(again.status).toBe(1);
    expect(again.stderr.trim().split('\n')).toHaveLength(1);
    expect(again.stderr).toMatch(/config.json exists/);
  });

  it('features reports hooks, namespaces and libseccomp', () => {
    const r = cli(['features']);
    expect(r.status).toBe(0);
    const f = JSON.parse(r.stdout) as { hooks: string[]; linux: { namespaces: string[]; seccomp: { enabled: boolean; actions: string[] } } };
    expect(f.hooks).toEqual(expect.arrayContaining(['createRuntime', 'poststop']));
    expect(f.linux.namespaces).toEqual(expect.arrayContaining(['pid', 'network', 'mount', 'cgroup']));
    expect(f.linux.seccomp.enabled).toBe(true);
    expect(f.linux.seccomp.actions).toContain('SCMP_ACT_ERRNO');
  });

  it('answers bad usage with one line on stderr and exit status 1', () => {
    for (const args of [
      ['frobnicate'],
      ['--root', dir, 'state'],
      ['--root', dir, 'kill', 'x', 'SIGNOPE'],
      ['--root', dir, 'start', '--bogus', 'x'],
      ['--log-format', 'xml', 'list'],
    ]) {
      const r = cli(args);
      expect({ args, status: r.status }).toEqual({ args, status: 1 });
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
    }
  });

  it('state of an unknown container is an error, list of an empty root is a header', () => {
    const r = cli(['--root', dir, 'state', 'nope']);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/container nope does not exist/);
    const l = cli(['--root', dir, 'list']);
    expect(l.status).toBe(0);
    expect(l.stdout.trim()).toBe('ID  PID  STATUS  BUNDLE  CREATED  OWNER');
    expect(cli(['--root', dir, 'list', '--format', 'json']).stdout.trim()).toBe('[]');
  });

  it("prints help pages in runc's layout, for the program and for every command", () => {
    for (const args of [['-h'], ['--help'], ['help']]) {
      const r = cli(args);
      expect(r.status).toBe(0);
      const lines = r.stdout.split('\n').filter((l) => l !== '');
      expect(lines[0]).toBe('NAME:');
      expect(lines[1]).toMatch(/^ {3}gantry-runtime - .*runc - Open Container Initiative runtime/);
      expect(r.stdout).toMatch(/^COMMANDS:$/m);
      expect(r.stdout).toMatch(/^ {3}checkpoint +checkpoint a running container$/m);
    }
    for (const cmd of [
      'checkpoint',
      'create',
      'delete',
      'events',
      'exec',
      'kill',
      'list',
      'pause',
      'ps',
      'restore',
      'resume',
      'run',
      'spec',
      'start',
      'state',
      'update',
      'features',
    ]) {
      for (const args of cmd === 'exec'
        ? [
            [cmd, '-h'],
            [cmd, '--help'],
            ['help', cmd],
          ]
        : [[cmd, '-h']]) {
        const r = cli(args);
        expect({ args, status: r.status }).toEqual({ args, status: 0 });
        const lines = r.stdout.split('\n').filter((l) => l !== '');
        expect(lines[0]).toBe('NAME:');
        expect(lines[1]).toMatch(new RegExp(`^ {3}gantry-runtime ${cmd} - .*\\(as runc ${cmd}\\)$`));
        expect(r.stdout).toMatch(new RegExp(`^USAGE:\\n {3}gantry-runtime ${cmd}`, 'm'));
      }
    }
    expect(cli(['update', '-h']).stdout).toMatch(/^ {3}--cpu-share value, --cpu-shares value +CPU shares/m);
  });

  it('has no help for an unknown command', () => {
    for (const args of [['foo', '-h'], ['help', 'foo'], ['foo']]) {
      const r = cli(args);
      expect(r.status).not.toBe(0);
      expect(r.stderr).toMatch(/No help topic for 'foo'/);
    }
  });

  it('prints the version in the three lines runc prints (version, commit, spec)', () => {
    for (const flag of ['-v', '--version']) {
      const r = cli([flag]);
      expect(r.status).toBe(0);
      const lines = r.stdout.trim().split('\n');
      expect(lines[0]).toMatch(/^gantry-runtime version \d+\.\d+\.\d+ \(runc version 1\.1\.5 compatible\)$/);
      expect(lines[1]).toMatch(/^commit: /);
      expect(lines[2]).toMatch(/^spec: \d+\.\d+\.\d+/);
    }
  });

  it('checks the number of arguments before acting, as runc does', () => {
    const r = cli(['--root', dir, 'state', 'a', 'b']);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/"state" requires exactly 1 argument\(s\)/);
    expect(cli(['--root', dir, 'kill']).stderr).toMatch(/"kill" requires 1 to 2 argument\(s\)/);
    expect(cli(['--root', dir, 'exec']).stderr).toMatch(/"exec" requires a minimum of 1 argument\(s\)/);
  });

  it('fails checkpoint and restore as runc does without CRIU', () => {
    expect(cli(['--root', dir, 'checkpoint', 'nope']).stderr).toMatch(/container nope does not exist/);
    const r = cli(['--root', dir, 'restore', 'nope']);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/criu/);
  });

  it('writes errors to --log as JSON lines when asked', () => {
    const log = path.join(dir, 'log.json');
    cli(['--root', dir, '--log', log, '--log-format', 'json', 'state', 'nope']);
    const line = JSON.parse(fs.readFileSync(log, 'utf8').trim()) as { level: string; msg: string; time: string };
    expect(line.level).toBe('error');
    expect(line.msg).toMatch(/does not exist/);
    expect(Number.isNaN(Date.parse(line.time))).toBe(false);
  });
});
