/**
 * The gantry CLI's image, network, volume and system commands beside the docker CLI (28.x), both
 * against one gantryd, outputs compared; then a registry round trip (login, build, push, pull) and
 * pull's progress drawn on a real terminal (tmux) versus piped.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { describeIf, LocalRegistry, needRegistry, needRoot, needTool, waitFor } from '@gantry/testkit';
import { type CliResult, type GantrydHarness, sharedGantryd } from '../src/gantryd';

const GANTRY = join(__dirname, '..', '..', 'bin', 'gantry');

describe('gantry image, network, volume and system commands beside the docker CLI', () => {
  let h: GantrydHarness;
  const tag = `gimg${process.pid}`;

  beforeAll(async () => {
    h = await sharedGantryd();
  }, 120000);

  afterAll(async () => {
    h?.docker(['rmi', `${tag}/built:v1`, `${tag}/imp:v1`]);
    h?.docker(['network', 'rm', `${tag}-net`]);
    h?.docker(['volume', 'rm', `${tag}-vol`]);
    await h?.stop();
  }, 60000);

  function gantry(args: string[], input?: string): CliResult {
    const r = spawnSync(GANTRY, args, { encoding: 'utf8', input, timeout: 60000, killSignal: 'SIGKILL', env: h.env() });
    return { status: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
  }

  /** The same command through both CLIs: same status, stdout and stderr. */
  function same(args: string[]): string {
    const d = h.docker(args);
    const g = gantry(args);
    expect({ status: g.status, stdout: g.stdout, stderr: g.stderr }).toEqual({ status: d.status, stdout: d.stdout, stderr: d.stderr });
    return g.stdout;
  }

  it('history, image ls/inspect and save print what docker prints', () => {
    same(['history', 'busybox']);
    same(['history', '--human=false', '--no-trunc', 'busybox']);
    same(['history', '-q', 'busybox']);
    same(['image', 'ls', 'busybox', '--format', '{{.Repository}}:{{.Tag}} {{.ID}}']);
    same(['image', 'inspect', '-f', '{{.Id}} {{.Os}}', 'busybox']);
    same(['image', 'inspect', `${tag}-nope`]);
    const out = join(h.dir, `${tag}.tar`);
    expect(gantry(['save', '-o', out, 'busybox']).status).toBe(0);
    expect(gantry(['load', '-i', out]).stdout).toBe('Loaded image: busybox:latest\n');
    fs.rmSync(out);
  });

  it('build sends the context without what .dockerignore excludes; -q prints the ID; import and commit make images', () => {
    const ctxDir = fs.mkdtempSync(join(h.dir, `${tag}-ctx`));
    fs.mkdirSync(join(ctxDir, 'skip'));
    fs.writeFileSync(join(ctxDir, 'skip', 'secret'), 's');
    fs.writeFileSync(join(ctxDir, 'keep.txt'), 'k');
    fs.writeFileSync(join(ctxDir, 'x.log'), 'l');
    fs.writeFileSync(join(ctxDir, '.dockerignore'), 'skip\n*.log\n');
    fs.writeFileSync(join(ctxDir, 'Dockerfile'), 'FROM busybox\nARG V=1\nCOPY . /ctx/\nRUN echo $V > /v\n');
    const b = gantry(['build', '-t', `${tag}/built:v1`, '--build-arg', 'V=7', '--label', `t=${tag}`, ctxDir]);
    expect(b.status).toBe(0);
    expect(b.stdout).toMatch(/Step 1\/5 : FROM busybox/);
    expect(b.stdout).toContain(`Successfully tagged ${tag}/built:v1`);
    expect(h.ok(['run', '--rm', `${tag}/built:v1`, 'sh', '-c', 'cd /ctx && find . | sort && cat /v'])).toBe(
      '.\n./.dockerignore\n./Dockerfile\n./keep.txt\n7\n',
    );
    expect(h.ok(['image', 'inspect', '-f', '{{index .Config.Labels "t"}}', `${tag}/built:v1`])).toBe(`${tag}\n`);
    const q = gantry(['build', '-q', ctxDir]);
    expect(q.stdout).toMatch(/^sha256:[0-9a-f]{64}\n$/);
    const stdin = gantry(['build', '-q', '-'], 'FROM busybox\nCMD ["echo", "from stdin"]\n');
    expect(stdin.status).toBe(0);
    const id = stdin.stdout.trim();
    expect(h.ok(['run', '--rm', id])).toBe('from stdin\n');
    const cid = h.ok(['create', 'busybox', 'true']).trim();
    const exported = join(h.dir, `${tag}-exp.tar`);
    h.ok(['export', '-o', exported, cid]);
    h.ok(['rm', cid]);
    const imp = gantry(['import', '-m', 'imported', '-c', 'CMD ["echo","imported"]', exported, `${tag}/imp:v1`]);
    expect(imp.stdout).toMatch(/^sha256:[0-9a-f]{64}\n$/);
    expect(h.ok(['run', '--rm', `${tag}/imp:v1`])).toBe('imported\n');
    h.ok(['rmi', id, q.stdout.trim()]);
    fs.rmSync(exported);
    fs.rmSync(ctxDir, { recursive: true });
  }, 120000);

  it('network and volume commands: same output, same errors', () => {
    const id = gantry(['network', 'create', '--label', `t=${tag}`, `${tag}-net`]).stdout.trim();
    expect(id).toMatch(/^[0-9a-f]{64}$/);
    same(['network', 'ls', '--filter', `label=t=${tag}`]);
    same(['network', 'ls', '-q', '--no-trunc', '--filter', `label=t=${tag}`]);
    same(['network', 'ls', '--format', 'json', '--filter', `label=t=${tag}`]);
    same(['network', 'inspect', '-f', '{{.Name}} {{.Driver}}', `${tag}-net`]);
    same(['network', 'inspect', `${tag}-nope`]);
    same(['network', 'rm', `${tag}-nope`]);
    expect(gantry(['volume', 'create', '--label', `t=${tag}`, `${tag}-vol`]).stdout).toBe(`${tag}-vol\n`);
    same(['volume', 'ls', '--filter', `label=t=${tag}`]);
    same(['volume', 'ls', '--format', 'json', '--filter', `label=t=${tag}`]);
    same(['volume', 'inspect', '-f', '{{.Name}} {{.Driver}}', `${tag}-vol`]);
    same(['volume', 'rm', `${tag}-nope`]);
    expect(gantry(['volume', 'rm', `${tag}-vol`]).stdout).toBe(`${tag}-vol\n`);
    expect(gantry(['network', 'rm', `${tag}-net`]).stdout).toBe(`${tag}-net\n`);
  });

  it('system df, info -f and events print what docker prints', () => {
    same(['system', 'df', '--format', '{{.Type}} {{.TotalCount}}']);
    same(['info', '-f', '{{.ServerVersion}} {{.NCPU}} {{.Driver}}']);
    const since = String(Math.floor(Date.now() / 1000) - 600);
    const until = String(Math.floor(Date.now() / 1000));
    same(['events', '--since', since, '--until', until]);
    same(['events', '--since', since, '--until', until, '--format', '{{.Type}} {{.Action}} {{.Actor.ID}}']);
    same(['events', '--since', since, '--until', until, '--format', 'json', '-f', 'type=network']);
  });
});

describeIf(
  needRoot(),
  needRegistry(),
  needTool('tmux'),
)('gantry login, push and pull through a registry; progress on a terminal', () => {
  let h: GantrydHarness;
  let reg: LocalRegistry;
  let repo: string;
  const session = `gantry-cli-img-${process.pid}`;

  beforeAll(async () => {
    h = await sharedGantryd();
    reg = await LocalRegistry.start(join(h.dir, `reg-${process.pid}`), { dana: 's3cret' });
    repo = `${reg.host}/cli/big`;
  }, 60000);

  afterAll(async () => {
    spawnSync('tmux', ['kill-session', '-t', session]);
    h?.docker(['rmi', `${repo}:v1`]);
    await reg?.stop();
    fs.rmSync(join(h.dir, `reg-${process.pid}`), { recursive: true, force: true });
    fs.rmSync(join(h.dir, 'cfg'), { recursive: true, force: true });
    await h?.stop();
  }, 60000);

  function gantry(args: string[], input?: string): CliResult {
    const r = spawnSync(GANTRY, args, { encoding: 'utf8', input, timeout: 60000, killSignal: 'SIGKILL', env: h.env() });
    return { status: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
  }

  it('login stores docker-compatible credentials that push uses; pull piped prints plain lines', () => {
    expect(gantry(['login', '-u', 'dana', '--password-stdin', reg.host], 'wrong\n').status).toBe(1);
    const ok = gantry(['login', '-u', 'dana', '--password-stdin', reg.host], 's3cret\n');
    expect(ok.stdout).toBe('Login Succeeded\n');
    // a layer of its own (3 MB of random bytes), so the pull below downloads it
    const b = gantry(['build', '-q', '-t', `${repo}:v1`, '-'], 'FROM busybox\nRUN head -c 3000000 /dev/urandom > /blob\n');
    expect(b.status).toBe(0);
    const push = gantry(['push', `${repo}:v1`]);
    expect(push.status).toBe(0);
    expect(push.stdout).toMatch(/[0-9a-f]{12}: Pushed\n/);
    expect(push.stdout.endsWith(`${repo}:v1\n`)).toBe(true);
    expect(push.stdout).not.toContain('\x1b[');
    h.ok(['rmi', `${repo}:v1`]);
    const pull = gantry(['pull', `${repo}:v1`]);
    expect(pull.status).toBe(0);
    expect(pull.stdout).toContain('v1: Pulling from cli/big');
    expect(pull.stdout).toMatch(/[0-9a-f]{12}: Pull complete\n/);
    expect(pull.stdout).not.toContain('\x1b[');
    expect(pull.stdout).not.toContain('Downloading [');
    expect(pull.stdout.endsWith(`${repo}:v1\n`)).toBe(true);
  }, 120000);

  it('on a terminal, pull draws per-layer lines with bars, redrawn in place', async () => {
    h.ok(['rmi', `${repo}:v1`]);
    const raw = join(h.dir, `${session}.raw`);
    const env = h.env();
    const cmd = `DOCKER_HOST=${env.DOCKER_HOST ?? ''} DOCKER_CONFIG=${env.DOCKER_CONFIG ?? ''} ${GANTRY} pull ${repo}:v1; echo "exit=$?"`;
    expect(spawnSync('tmux', ['new-session', '-d', '-s', session, '-x', '160', '-y', '40', 'bash', '--norc']).status).toBe(0);
    spawnSync('tmux', ['pipe-pane', '-t', session, '-o', `cat > ${raw}`]);
    spawnSync('tmux', ['send-keys', '-t', session, cmd, 'Enter']);
    const pane = (): string => spawnSync('tmux', ['capture-pane', '-p', '-t', session], { encoding: 'utf8' }).stdout;
    await waitFor('the pull to finish in tmux', () => /exit=\d+/.test(pane()), 60000);
    const screen = pane();
    expect(screen).toContain('exit=0');
    expect(screen).toMatch(/[0-9a-f]{12}: Pull complete/);
    const drawn = fs.readFileSync(raw, 'latin1');
    // per-layer lines redrawn in place: cursor up, erase line, `<id>: Downloading [==>  ] 1.2MB/3MB`
    // eslint-disable-next-line no-control-regex -- the terminal's escapes are what is checked
    expect(drawn).toMatch(/\x1b\[\d+A\x1b\[2K\r[0-9a-f]{12}: (Downloading|Extracting) \[=*>\s*\]\s+[\d.]+[kM]?B\/[\d.]+[kM]?B/);
    fs.rmSync(raw, { force: true });
  }, 120000);

  it("run's implicit pull: the same bars on a terminal, plain lines piped, with the stored credentials", async () => {
    h.ok(['rmi', `${repo}:v1`]);
    const piped = gantry(['run', '--rm', `${repo}:v1`, 'true']);
    expect(piped.status).toBe(0);
    expect(piped.stderr).toContain(`Unable to find image '${repo}:v1' locally\nv1: Pulling from cli/big\n`);
    expect(piped.stderr).toMatch(/[0-9a-f]{12}: Pull complete\n/);
    expect(piped.stderr).not.toContain('\x1b[');
    h.ok(['rmi', `${repo}:v1`]);
    const raw = join(h.dir, `${session}-run.raw`);
    const env = h.env();
    spawnSync('tmux', ['pipe-pane', '-t', session]);
    spawnSync('tmux', ['send-keys', '-t', session, 'clear', 'Enter']);
    spawnSync('tmux', ['pipe-pane', '-t', session, '-o', `cat > ${raw}`]);
    const cmd = `DOCKER_HOST=${env.DOCKER_HOST ?? ''} DOCKER_CONFIG=${env.DOCKER_CONFIG ?? ''} ${GANTRY} run --rm ${repo}:v1 echo ran; echo "exit=$?"`;
    spawnSync('tmux', ['send-keys', '-t', session, cmd, 'Enter']);
    const pane = (): string => spawnSync('tmux', ['capture-pane', '-p', '-t', session], { encoding: 'utf8' }).stdout;
    await waitFor('the run to finish in tmux', () => /exit=\d+/.test(pane()), 60000);
    const screen = pane();
    expect(screen).toContain('exit=0');
    expect(screen).toContain(`Unable to find image '${repo}:v1' locally`);
    expect(screen).toMatch(/[0-9a-f]{12}: Pull complete/);
    expect(screen).toContain('\nran\n');
    // eslint-disable-next-line no-control-regex -- the terminal's escapes are what is checked
    expect(fs.readFileSync(raw, 'latin1')).toMatch(/\x1b\[\d+A\x1b\[2K\r[0-9a-f]{12}: (Downloading|Extracting) \[=*>\s*\]\s+[\d.]+[kM]?B\/[\d.]+[kM]?B/);
    fs.rmSync(raw, { force: true });
    expect(gantry(['logout', reg.host]).stdout).toBe(`Removing login credentials for ${reg.host}\n`);
    expect(gantry(['logout', reg.host]).stdout).toBe(`Not logged in to ${reg.host}\n`);
  }, 120000);
});
