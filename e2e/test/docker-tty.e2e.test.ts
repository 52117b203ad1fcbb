/**
 * Terminals through gantryd, driven the way a person does: the real docker CLI inside a tmux
 * session (a real pty), keys sent with send-keys, the screen read with capture-pane.
 */
import { spawn, spawnSync } from 'node:child_process';
import { type GantrydHarness, sharedGantryd } from '../src/gantryd';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('docker -it through a real terminal (tmux)', () => {
  let h: GantrydHarness;
  const sessions: string[] = [];

  const tmux = (...args: string[]): string => {
    const r = spawnSync('tmux', args, { encoding: 'utf8', timeout: 10000 });
    if (r.status !== 0) throw new Error(`tmux ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  /** A tmux session running `docker <args>`; when docker ends the pane shows `EXIT=<code>` and stays. */
  const session = (dockerArgs: string): string => {
    const name = `gtty-${process.pid}-${sessions.length}`;
    sessions.push(name);
    const env = h.env();
    tmux(
      'new-session',
      '-d',
      '-s',
      name,
      '-x',
      '120',
      '-y',
      '40',
      `env DOCKER_HOST=${env.DOCKER_HOST} DOCKER_CONFIG=${env.DOCKER_CONFIG} docker ${dockerArgs}; echo EXIT=$?; sleep 600`,
    );
    return name;
  };
  const screen = (s: string): string => tmux('capture-pane', '-p', '-t', s);
  const waitScreen = async (s: string, re: RegExp, timeoutMs = 20000): Promise<string> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const text = screen(s);
      if (re.test(text)) return text;
      if (Date.now() > deadline) throw new Error(`screen never matched ${re}:\n${text}\n${h.logTail()}`);
      await sleep(200);
    }
  };
  const type = (s: string, line: string) => tmux('send-keys', '-t', s, line, 'Enter');
  /** After a window resize: the client passes SIGWINCH on asynchronously, so ask until the shell sees the new size. */
  const waitSize = async (s: string, rows: number, cols: number, timeoutMs = 20000): Promise<void> => {
    const deadline = Date.now() + timeoutMs;
    for (let n = 0; ; n++) {
      type(s, `echo size${n} $(stty size)`);
      const text = await waitScreen(s, new RegExp(`^size${n} \\d+ \\d+\\s*$`, 'm'));
      if (new RegExp(`^size${n} ${rows} ${cols}\\s*$`, 'm').test(text)) return;
      if (Date.now() > deadline) throw new Error(`the shell never saw ${rows}x${cols}:\n${text}`);
    }
  };
  const state = (name: string) => JSON.parse(h.ok(['inspect', '--format', '{{json .State}}', name])) as { Running: boolean; ExitCode: number };

  beforeAll(async () => {
    h = await sharedGantryd();
  }, 120000);

  afterAll(async () => {
    for (const s of sessions) spawnSync('tmux', ['kill-session', '-t', s]);
    await h?.stop();
  }, 60000);

  it('docker run -it: shell works, sees the window size and its changes, detaches with ctrl-p ctrl-q', async () => {
    const s = session('run -it --name tty1 busybox sh');
    await waitScreen(s, /# ?$/m);
    type(s, 'echo $((6*7))');
    await waitScreen(s, /^42\s*$/m);
    type(s, 'stty size');
    await waitScreen(s, /^40 120\s*$/m);
    tmux('resize-window', '-t', s, '-x', '100', '-y', '30');
    await waitSize(s, 30, 100);
    tmux('send-keys', '-t', s, 'C-p', 'C-q');
    await waitScreen(s, /EXIT=0/);
    expect(state('tty1').Running).toBe(true);

    // back in with docker attach (interactive), then leave with an exit code
    const a = session('attach tty1');
    // attach replays nothing: a new prompt for an empty line shows the attach is live
    tmux('send-keys', '-t', a, 'Enter');
    await waitScreen(a, /# ?$/m);
    type(a, 'echo attached-$((2+3))');
    await waitScreen(a, /^attached-5\s*$/m);
    type(a, 'exit 3');
    await waitScreen(a, /EXIT=3/);
    expect(state('tty1')).toMatchObject({ Running: false, ExitCode: 3 });

    // docker start -ai brings the same terminal container back, interactive
    const b = session('start -ai tty1');
    await waitScreen(b, /# ?$/m);
    type(b, 'echo again-$((1+1))');
    await waitScreen(b, /^again-2\s*$/m);
    type(b, 'exit 4');
    await waitScreen(b, /EXIT=4/);
  }, 90000);

  it('docker exec -it: shell in a running container, window size, exit code', async () => {
    h.ok(['run', '-d', '--name', 'tty2', 'busybox', 'sleep', '1000']);
    const s = session('exec -it tty2 sh');
    await waitScreen(s, /# ?$/m);
    type(s, 'echo $((6*7))');
    await waitScreen(s, /^42\s*$/m);
    type(s, 'stty size');
    await waitScreen(s, /^40 120\s*$/m);
    tmux('resize-window', '-t', s, '-x', '90', '-y', '25');
    await waitSize(s, 25, 90);
    type(s, 'exit 3');
    await waitScreen(s, /EXIT=3/);
    expect(state('tty2').Running).toBe(true);
  }, 60000);

  it('docker run -t / exec -t: the first command already sees the console size (no resize needed)', async () => {
    // busybox stty fails ("stty: standard input") on a 0x0 terminal: the size must be set before the
    // process starts, from the ConsoleSize the CLI sends, not by its resize after the start
    const r = session('run -t --rm busybox stty size');
    await waitScreen(r, /^40 120\s*$/m);
    await waitScreen(r, /EXIT=0/);
    h.ok(['run', '-d', '--name', 'tty4', 'busybox', 'sleep', '1000']);
    const e = session('exec -t tty4 stty size');
    await waitScreen(e, /^40 120\s*$/m);
    await waitScreen(e, /EXIT=0/);
    // as with dockerd, the CLI refuses to attach to a stopped container (logs=1 replays are API-only)
    h.ok(['rm', '-f', 'tty4']);
    h.ok(['run', '--name', 'tty5', 'busybox', 'true']);
    const a = h.docker(['attach', 'tty5']);
    expect(a.status).not.toBe(0);
    expect(a.stderr).toContain('You cannot attach to a stopped container, start it first');
  }, 60000);

  it('docker attach to a running non-tty container streams its output', async () => {
    // it prints once it has read a line, which only an attached client can send: nothing is printed before the attach
    h.ok(['run', '-d', '-i', '--name', 'tty3', 'busybox', 'sh', '-c', 'read go; for i in 1 2 3; do echo line$i; done; echo err >&2']);
    const child = spawn('docker', ['attach', 'tty3'], { env: h.env(), stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.stdin.on('error', () => undefined);
    child.stdin.write('go\n'); // and stdin stays open: the client closing it would end the attach, as with dockerd
    const killer = setTimeout(() => child.kill('SIGKILL'), 30000);
    const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
    clearTimeout(killer);
    expect(code).toBe(0);
    expect(stdout).toBe('line1\nline2\nline3\n');
    expect(stderr).toBe('err\n');
  });
});
