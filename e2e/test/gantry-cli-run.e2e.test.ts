/**
 * gantry's container commands beside the docker CLI (28.x), both against one gantryd: exit
 * statuses of run (the container's, 125/126/127), outputs, and the inspect results of containers
 * each CLI created from the same flags.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { type CliResult, type GantrydHarness, sharedGantryd } from '../src/gantryd';

const GANTRY = join(__dirname, '..', '..', 'bin', 'gantry');

describe('gantry container commands beside the docker CLI', () => {
  let h: GantrydHarness;
  let dir: string;
  const tag = `gcr${process.pid}`;
  const made: string[] = [];

  beforeAll(async () => {
    h = await sharedGantryd();
    dir = fs.mkdtempSync('/tmp/gcli-run-');
  }, 120000);

  afterAll(async () => {
    if (made.length > 0) h?.docker(['rm', '-f', ...made]);
    if (dir !== undefined) fs.rmSync(dir, { recursive: true, force: true });
    await h?.stop();
  }, 60000);

  function gantry(args: string[], input?: string): CliResult {
    const r = spawnSync(GANTRY, args, { encoding: 'utf8', timeout: 60000, killSignal: 'SIGKILL', env: h.env(), input });
    return { status: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
  }

  /** The same command line through both CLIs (`NAME` replaced by a name of each's own): status and stdout equal. */
  function both(args: string[], input?: string, sameOutput = true): { d: CliResult; g: CliResult } {
    const sub = (who: string) => args.map((a) => a.replace('NAME', `${tag}-${who}`));
    made.push(`${tag}-d`, `${tag}-g`);
    const d = h.docker(sub('d'), input);
    const g = gantry(sub('g'), input);
    if (sameOutput) expect({ status: g.status, stdout: g.stdout }).toEqual({ status: d.status, stdout: d.stdout });
    // ids differ: both print one
    else expect([g.status, /^[0-9a-f]{64}\n$/.test(g.stdout)]).toEqual([d.status, /^[0-9a-f]{64}\n$/.test(d.stdout)]);
    return { d, g };
  }

  it('run: output, stdin, the container exit status, 125/126/127', () => {
    expect(both(['run', '--rm', 'busybox', 'sh', '-c', 'echo out; echo err >&2; exit 3']).g).toMatchObject({ status: 3, stdout: 'out\n', stderr: 'err\n' });
    expect(both(['run', '--rm', '-i', 'busybox', 'cat'], 'piped\n').g.stdout).toBe('piped\n');
    expect(both(['run', '--rm', 'busybox', 'nosuchcmd']).g.status).toBe(127);
    expect(both(['run', '--rm', 'busybox', '/etc/passwd']).g.status).toBe(126);
    const missing = both(['run', '--pull', 'never', `${tag}/none:v1`]);
    expect(missing.g.status).toBe(125);
    expect(missing.g.stderr).toBe(missing.d.stderr.replace(/docker/g, 'gantry'));
    expect(both(['run', '--bogus', 'busybox']).g.status).toBe(125);
    expect(both(['run', '--rm', '--restart', 'always', 'busybox']).g.status).toBe(125);
    expect(
      both(['run', '--rm', '-e', 'A=1', '-w', '/tmp', '-u', '1:2', '-h', 'hh', 'busybox', 'sh', '-c', 'echo $A $(pwd) $(id -u) $(hostname)']).g.stdout,
    ).toBe('1 /tmp 1 hh\n');
  }, 120000);

  it('run -d and create: inspect shows the same configuration', () => {
    fs.writeFileSync(join(dir, 'env.list'), 'FROMFILE=1\n');
    const flags = [
      '--name',
      'NAME',
      '-e',
      'A=1',
      '--env-file',
      join(dir, 'env.list'),
      '-l',
      'k=v',
      '-p',
      '127.0.0.1::80',
      '-P',
      '--expose',
      '90',
      '-v',
      `${dir}:/h:ro`,
      '-v',
      '/anon',
      '--mount',
      'type=tmpfs,target=/t',
      '--tmpfs',
      '/run:size=1m',
      '-w',
      '/w',
      '-u',
      '1',
      '--entrypoint',
      'sh',
      '--restart',
      'on-failure:2',
      '-m',
      '64m',
      '--cpus',
      '0.5',
      '--read-only',
      '--cap-add',
      'net_admin',
      '--cap-drop',
      'MKNOD',
      '-h',
      'hh',
      '--add-host',
      'a:1.2.3.4',
      '--dns',
      '10.0.0.1',
      '--health-cmd',
      'true',
      '--health-interval',
      '5s',
      '--stop-signal',
      'SIGINT',
      '--stop-timeout',
      '3',
    ];
    const fields =
      '{{json .Config.Env}} {{json .Config.Labels}} {{json .Config.ExposedPorts}} {{json .Config.Volumes}} {{.Config.WorkingDir}} {{.Config.User}} {{json .Config.Entrypoint}} {{json .Config.Cmd}} {{.Config.Hostname}} {{json .Config.Healthcheck}} {{.Config.StopSignal}} {{.Config.StopTimeout}} {{json .HostConfig.RestartPolicy}} {{.HostConfig.Memory}} {{.HostConfig.NanoCpus}} {{.HostConfig.ReadonlyRootfs}} {{json .HostConfig.CapAdd}} {{json .HostConfig.CapDrop}} {{json .HostConfig.ExtraHosts}} {{json .HostConfig.Dns}} {{json .HostConfig.Binds}} {{json .HostConfig.Tmpfs}} {{json .HostConfig.Mounts}} {{json .HostConfig.PortBindings}} {{.HostConfig.PublishAllPorts}} {{.Config.Tty}} {{.Config.OpenStdin}}';
    expect(both(['create', ...flags, 'busybox', '-c', 'sleep 100'], undefined, false).g.status).toBe(0);
    const d = h.ok(['inspect', '-f', fields, `${tag}-d`]);
    expect(h.ok(['inspect', '-f', fields, `${tag}-g`])).toBe(d);
    h.docker(['rm', '-f', `${tag}-d`, `${tag}-g`]);
    const r = both(['run', '-d', '-i', '-t', ...flags, 'busybox', '-c', 'sleep 100'], undefined, false);
    expect(r.g.status).toBe(0);
    expect(h.ok(['inspect', '-f', fields, `${tag}-g`])).toBe(h.ok(['inspect', '-f', fields, `${tag}-d`]));
    h.docker(['rm', '-f', `${tag}-d`, `${tag}-g`]);
  }, 120000);

  it('start -a, exec, top, port, diff, rename, pause, unpause, restart, update, stats, container ls', () => {
    const c = `${tag}-c`;
    made.push(c, `${c}2`);
    expect(gantry(['create', '--name', c, 'busybox', 'sh', '-c', 'echo started; exit 2']).status).toBe(0);
    expect(gantry(['start', '-a', c])).toMatchObject({ status: 2, stdout: 'started\n' });
    const up = `${tag}-up`;
    made.push(up, `${up}2`);
    expect(gantry(['run', '-d', '--name', up, '-p', '127.0.0.1:0:80', 'busybox', 'sleep', '1000']).status).toBe(0);
    expect(gantry(['exec', up, 'sh', '-c', 'echo in; exit 4'])).toMatchObject({ status: 4, stdout: 'in\n' });
    expect(gantry(['exec', '-i', '-e', 'X=5', '-w', '/etc', up, 'sh', '-c', 'cat; echo $X $(pwd)'], 'typed\n').stdout).toBe('typed\n5 /etc\n');
    expect(gantry(['exec', '-d', up, 'touch', '/tmp/made']).status).toBe(0);
    // ps's C column (recent CPU share) changes between two calls, so the default `top` is compared
    // without it and the ps options form with columns that cannot change while the container sleeps.
    const dropC = (out: string): string => out.replace(/^(\S+\s+\S+\s+\S+\s+)\S+\s+/gm, '$1');
    const top = gantry(['top', up]);
    const dtop = h.docker(['top', up]);
    expect({ ...top, stdout: dropC(top.stdout) }).toEqual({ ...dtop, stdout: dropC(dtop.stdout) });
    for (const args of [
      ['top', up, '-o', 'pid,ppid,user,args'],
      ['port', up],
      ['port', up, '80'],
      ['diff', up],
    ]) {
      expect(gantry(args)).toEqual(h.docker(args));
    }
    expect(gantry(['rename', up, `${up}2`]).status).toBe(0);
    expect(gantry(['pause', `${up}2`]).stdout).toBe(`${up}2\n`);
    expect(h.ok(['inspect', '-f', '{{.State.Paused}}', `${up}2`])).toBe('true\n');
    expect(gantry(['unpause', `${up}2`]).stdout).toBe(`${up}2\n`);
    expect(gantry(['update', '-m', '100m', '--restart', 'unless-stopped', `${up}2`]).stdout).toBe(`${up}2\n`);
    expect(h.ok(['inspect', '-f', '{{.HostConfig.Memory}} {{.HostConfig.RestartPolicy.Name}}', `${up}2`])).toBe('104857600 unless-stopped\n');
    expect(gantry(['restart', '-t', '1', `${up}2`]).stdout).toBe(`${up}2\n`);
    const fmt = '{{.Name}} {{.ID}} {{.PIDs}}';
    expect(gantry(['stats', '--no-stream', '--format', fmt, `${up}2`])).toEqual(h.docker(['stats', '--no-stream', '--format', fmt, `${up}2`]));
    expect(gantry(['container', 'ls', '-a', '--filter', `name=${tag}-c`, '--format', '{{.Names}}'])).toEqual(
      h.docker(['container', 'ls', '-a', '--filter', `name=${tag}-c`, '--format', '{{.Names}}']),
    );
    const stopped = gantry(['start', c, `${tag}-nope`]);
    expect(stopped.status).toBe(1);
    expect(stopped.stderr).toContain(`Error: failed to start containers: ${tag}-nope`);
  }, 120000);

  it('cp both ways, - for tar, export', () => {
    const c = `${tag}-cp`;
    made.push(c);
    expect(gantry(['run', '-d', '--name', c, 'busybox', 'sleep', '1000']).status).toBe(0);
    fs.writeFileSync(join(dir, 'f'), 'data\n');
    expect(gantry(['cp', join(dir, 'f'), `${c}:/tmp/renamed`]).status).toBe(0);
    expect(gantry(['cp', join(dir, 'f'), `${c}:/tmp/`]).status).toBe(0);
    expect(h.ok(['exec', c, 'cat', '/tmp/renamed', '/tmp/f'])).toBe('data\ndata\n');
    expect(gantry(['cp', `${c}:/etc/hostname`, join(dir, 'g')]).status).toBe(0);
    h.ok(['cp', `${c}:/etc/hostname`, join(dir, 'd')]);
    expect(fs.readFileSync(join(dir, 'g'), 'utf8')).toBe(fs.readFileSync(join(dir, 'd'), 'utf8'));
    fs.mkdirSync(join(dir, 'into'));
    expect(gantry(['cp', `${c}:/etc`, join(dir, 'into')]).status).toBe(0);
    expect(fs.existsSync(join(dir, 'into', 'etc', 'passwd'))).toBe(true);
    const tar = spawnSync(GANTRY, ['cp', `${c}:/etc/hostname`, '-'], { env: h.env() });
    expect(spawnSync('tar', ['t'], { input: tar.stdout, encoding: 'utf8' }).stdout).toBe('hostname\n');
    const back = spawnSync(GANTRY, ['cp', '-', `${c}:/root/`], { env: h.env(), input: tar.stdout });
    expect(back.status).toBe(0);
    expect(h.ok(['exec', c, 'ls', '/root'])).toBe('hostname\n');
    const missing = both(['cp', `${c}:/nonexist`, join(dir, 'x')]);
    expect(missing.g.stderr).toBe(missing.d.stderr);
    const exp = spawnSync(GANTRY, ['export', c], { env: h.env(), maxBuffer: 64 << 20 });
    expect(exp.status).toBe(0);
    expect(spawnSync('tar', ['t'], { input: exp.stdout, encoding: 'utf8', maxBuffer: 64 << 20 }).stdout).toMatch(/^bin\/busybox$/m);
  }, 120000);
});
