/**
 * `gantry run -it`, `attach`, `start -ai` and `exec -it` in a real terminal (tmux), driven as a
 * person does: keys with send-keys, the screen with capture-pane. Each session records `stty -g`
 * before and after gantry, so a terminal left raw (on exit, detach or a signal) fails the test.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { describeIf, needTool } from '@gantry/testkit';
import { type GantrydHarness, sharedGantryd } from '../src/gantryd';

const GANTRY = join(__dirname, '..', '..', 'bin', 'gantry');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describeIf(needTool('tmux'))('gantry -it through a real terminal (tmux)', () => {
  let h: GantrydHarness;
  let dir: string;
  const sessions: string[] = [];
  const names: string[] = [];

  const tmux = (...args: string[]): string => {
    const r = spawnSync('tmux', args, { encoding: 'utf8', timeout: 10000 });
    if (r.status !== 0) throw new Error(`tmux ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  /** A tmux session running `gantry <args>`; then the pane shows `EXIT=<code>` and whether `stty -g` came back the same. */
  const session = (args: string): string => {
    const name = `gcli-tty-${process.pid}-${sessions.length}`;
    sessions.push(name);
    const f = join(dir, name);
    tmux(
      'new-session',
      '-d',
      '-s',
      name,
      '-x',
      '120',
      '-y',
      '40',
      `export DOCKER_HOST=${h.env().DOCKER_HOST}; stty -g > ${f}.before; ${GANTRY} ${args}; echo EXIT=$?; stty -g > ${f}.after; cmp -s ${f}.before ${f}.after && echo TERMINAL=restored || echo TERMINAL=changed; sleep 600`,
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
  /** After a resize the CLI forwards SIGWINCH asynchronously: ask until the shell sees the new size. */
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
    dir = fs.mkdtempSync('/tmp/gcli-tty-');
  }, 120000);

  afterAll(async () => {
    for (const s of sessions) spawnSync('tmux', ['kill-session', '-t', s]);
    if (names.length > 0) h?.docker(['rm', '-f', ...names]);
    if (dir !== undefined) fs.rmSync(dir, { recursive: true, force: true });
    await h?.stop();
  }, 60000);

  it('run -it: a shell, the window size and its changes, detach with ctrl-p ctrl-q, attach, exit; the terminal restored each time', async () => {
    const c = `gtty1-${process.pid}`;
    names.push(c);
    const s = session(`run -it --name ${c} busybox sh`);
    await waitScreen(s, /# ?$/m);
    type(s, 'echo $((6*7))');
    await waitScreen(s, /^42\s*$/m);
    type(s, 'stty size');
    await waitScreen(s, /^40 120\s*$/m);
    tmux('resize-window', '-t', s, '-x', '100', '-y', '30');
    await waitSize(s, 30, 100);
    tmux('send-keys', '-t', s, 'C-p', 'C-q');
    await waitScreen(s, /EXIT=0\s+TERMINAL=restored/);
    expect(state(c).Running).toBe(true);

    const a = session(`attach ${c}`);
    tmux('send-keys', '-t', a, 'Enter');
    await waitScreen(a, /# ?$/m);
    type(a, 'echo attached-$((2+3))');
    await waitScreen(a, /^attached-5\s*$/m);
    type(a, 'exit 3');
    await waitScreen(a, /EXIT=3\s+TERMINAL=restored/);
    expect(state(c)).toMatchObject({ Running: false, ExitCode: 3 });

    const b = session(`start -ai ${c}`);
    await waitScreen(b, /# ?$/m);
    type(b, 'echo again-$((1+1))');
    await waitScreen(b, /^again-2\s*$/m);
    type(b, 'exit 4');
    await waitScreen(b, /EXIT=4\s+TERMINAL=restored/);
  }, 90000);

  it('exec -it: a shell in a running container, resize, exit code; a custom --detach-keys', async () => {
    const c = `gtty2-${process.pid}`;
    names.push(c);
    h.ok(['run', '-d', '--name', c, 'busybox', 'sleep', '1000']);
    const s = session(`exec -it ${c} sh`);
    await waitScreen(s, /# ?$/m);
    type(s, 'stty size');
    await waitScreen(s, /^40 120\s*$/m);
    tmux('resize-window', '-t', s, '-x', '90', '-y', '25');
    await waitSize(s, 25, 90);
    type(s, 'exit 3');
    await waitScreen(s, /EXIT=3\s+TERMINAL=restored/);

    const d = session(`run -it --rm --detach-keys ctrl-a,x busybox sh`);
    await waitScreen(d, /# ?$/m);
    tmux('send-keys', '-t', d, 'C-a', 'x');
    await waitScreen(d, /EXIT=0\s+TERMINAL=restored/);
  }, 60000);

  it('a signal to the CLI restores the terminal', async () => {
    const c = `gtty3-${process.pid}`;
    names.push(c);
    const s = session(`run -it --name ${c} busybox sh`);
    await waitScreen(s, /# ?$/m);
    const pid = spawnSync('pgrep', ['-f', `bundle/main.js run -it --name ${c}`], { encoding: 'utf8' })
      .stdout.trim()
      .split('\n')[0];
    expect(pid).toMatch(/^\d+$/);
    process.kill(Number(pid), 'SIGTERM');
    await waitScreen(s, /EXIT=143\s+TERMINAL=restored/);
  }, 60000);
});
