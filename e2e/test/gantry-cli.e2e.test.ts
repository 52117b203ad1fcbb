/**
 * The gantry CLI's first commands beside the docker CLI (28.x), both against one gantryd: the same
 * scenario through each, and their key outputs compared (ids, names, exit codes, logs, --format).
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { type CliResult, type GantrydHarness, sharedGantryd } from '../src/gantryd';

const GANTRY = join(__dirname, '..', '..', 'bin', 'gantry');

describe('gantry CLI beside the docker CLI', () => {
  let h: GantrydHarness;
  const tag = `gcli${process.pid}`;

  beforeAll(async () => {
    h = await sharedGantryd();
  }, 120000);

  afterAll(async () => {
    h?.docker(['rm', '-f', `${tag}-up`, `${tag}-done`, `${tag}-err`]);
    h?.docker(['rmi', `${tag}/copy:v1`]);
    await h?.stop();
  }, 60000);

  function gantry(args: string[]): CliResult {
    const r = spawnSync(GANTRY, args, { encoding: 'utf8', timeout: 60000, killSignal: 'SIGKILL', env: h.env() });
    return { status: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
  }

  /** The same command through both CLIs: both succeed and print the same. */
  function same(args: string[]): string {
    const d = h.docker(args);
    const g = gantry(args);
    expect({ status: g.status, stdout: g.stdout }).toEqual({ status: d.status, stdout: d.stdout });
    if (d.status !== 0) throw new Error(`docker ${args.join(' ')}: ${d.stderr}`);
    return g.stdout;
  }

  it('ps, inspect, logs, wait and --format print what docker prints', () => {
    const up = h.ok(['run', '-d', '--name', `${tag}-up`, '--label', `t=${tag}`, 'busybox', 'sleep', '1000']).trim();
    expect(h.docker(['run', '--name', `${tag}-done`, '--label', `t=${tag}`, 'busybox', 'sh', '-c', 'echo out; echo err >&2; exit 3']).status).toBe(3);
    same(['ps', '-aq', '--filter', `label=t=${tag}`]);
    expect(same(['ps', '-q', '--no-trunc', '--filter', `label=t=${tag}`]).trim()).toBe(up);
    same(['ps', '-a', '--filter', `label=t=${tag}`, '--format', '{{.ID}} {{.Names}} {{.Image}} {{.Command}} {{.Labels}}']);
    same(['ps', '-a', '--filter', `label=t=${tag}`, '--format', 'table {{.Names}}\t{{.Image}}']);
    same(['inspect', '-f', '{{.Id}} {{.Name}} {{.State.ExitCode}} {{json .Config.Cmd}}', `${tag}-up`, `${tag}-done`]);
    expect(same(['wait', `${tag}-done`])).toBe('3\n');
    const d = h.docker(['logs', `${tag}-done`]);
    const g = gantry(['logs', `${tag}-done`]);
    expect([g.stdout, g.stderr]).toEqual([d.stdout, d.stderr]);
    expect(g.stdout).toBe('out\n');
    expect(g.stderr).toBe('err\n');
  }, 120000);

  it('version --format reads the same server fields', () => {
    same(['version', '--format', '{{.Server.APIVersion}} {{.Server.Os}}/{{.Server.Arch}} {{.Server.Version}}']);
  });

  it('images, tag and rmi', () => {
    same(['images', 'busybox', '--format', '{{.Repository}}:{{.Tag}} {{.ID}}']);
    expect(gantry(['tag', 'busybox', `${tag}/copy:v1`]).status).toBe(0);
    // only the tag that matched, as dockerd lists it (not busybox:latest, the same image's other name)
    expect(same(['images', `${tag}/copy`, '--format', '{{.Repository}}:{{.Tag}} {{.ID}}'])).toMatch(new RegExp(`^${tag}/copy:v1 [0-9a-f]{12}\\n$`));
    const rmi = gantry(['rmi', `${tag}/copy:v1`]);
    expect(rmi.status).toBe(0);
    expect(rmi.stdout).toBe(`Untagged: ${tag}/copy:v1\n`);
    expect(h.ok(['images', '-q', `${tag}/copy`])).toBe('');
  }, 60000);

  it('stop, kill and rm act on the daemon; errors name the object and exit 1', () => {
    expect(gantry(['stop', '-t', '1', `${tag}-up`]).stdout).toBe(`${tag}-up\n`);
    expect(h.ok(['inspect', '-f', '{{.State.Running}}', `${tag}-up`])).toBe('false\n');
    const missing = gantry(['rm', `${tag}-nope`]);
    const dm = h.docker(['rm', `${tag}-nope`]);
    expect(missing.status).toBe(dm.status);
    expect(missing.stderr.trim()).toBe(dm.stderr.trim());
    expect(gantry(['rm', `${tag}-up`, `${tag}-done`]).stdout).toBe(`${tag}-up\n${tag}-done\n`);
    expect(h.ok(['ps', '-aq', '--filter', `label=t=${tag}`])).toBe('');
  }, 60000);

  it('bad input: unknown flag (125), unknown command, bad template, unreachable daemon', () => {
    const flag = gantry(['ps', '--bogus']);
    expect(flag.status).toBe(125);
    expect(flag.stderr).toMatch(/unknown flag: --bogus/);
    expect(gantry(['psx']).status).not.toBe(0);
    const tpl = gantry(['ps', '--format', '{{.Foo']);
    expect(tpl.status).toBe(h.docker(['ps', '--format', '{{.Foo']).status);
    expect(tpl.stderr).toMatch(/template/);
    const r = spawnSync(GANTRY, ['ps'], { encoding: 'utf8', env: { ...h.env(), DOCKER_HOST: 'unix:///tmp/gantry-cli-none.sock' } });
    expect(r.status).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain('/tmp/gantry-cli-none.sock');
  });
});
