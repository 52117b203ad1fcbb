import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { freezeAt, waitFor } from '../src';

describe('freezeAt: a process stopped at a call the test chooses', () => {
  let dir: string;
  const kills: (() => void)[] = [];
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gtestkit-'))));
  afterEach(() => {
    // a frozen child never exits by itself
    for (const kill of kills.splice(0)) kill();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  /** Writes and renames three files in turn (the second and third to names ending in /address), then prints done. */
  function run(nodeArgs: string[], env: Record<string, string>): { exited: Promise<string>; kill: () => void } {
    const f = (n: string) => JSON.stringify(path.join(dir, n));
    for (const d of ['x', 'y']) {
      fs.rmSync(path.join(dir, d), { recursive: true, force: true });
      fs.mkdirSync(path.join(dir, d));
    }
    const script = `const fs = require('node:fs');
      for (const [from, to] of [[${f('1')}, ${f('one')}], [${f('2')}, ${f('x/address')}], [${f('3')}, ${f('y/address')}]]) {
        fs.writeFileSync(from, '');
        fs.renameSync(from, to);
      }
      process.stdout.write('done');`;
    const child = spawn(process.execPath, [...nodeArgs, '-e', script], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    const kill = () => child.kill('SIGKILL');
    kills.push(kill);
    return { exited: new Promise((resolve) => child.once('close', () => resolve(out))), kill };
  }

  it('freezes before the n-th matching call, until killed; a process started after that runs through', async () => {
    const freeze = freezeAt(dir, { call: 'fs.renameSync', arg: '/address', nth: 2 });
    const p = run(freeze.nodeArgs, freeze.env);
    await waitFor('the freeze', freeze.frozen);
    expect(fs.existsSync(path.join(dir, 'x', 'address'))).toBe(true);
    expect(fs.existsSync(path.join(dir, 'y', 'address'))).toBe(false);
    p.kill();
    expect(await p.exited).toBe('');
    // the mark is there: a restarted process is not stopped again
    expect(await run(freeze.nodeArgs, freeze.env).exited).toBe('done');
  });

  it('freezes right after the call; only in the process whose script matches', async () => {
    const freeze = freezeAt(dir, { call: 'fs.renameSync', arg: '/address', when: 'after', script: 'some-daemon.js' });
    // NODE_OPTIONS reaches every node process; this one is not the daemon
    expect(await run([], { ...freeze.env, NODE_OPTIONS: freeze.nodeOptions }).exited).toBe('done');
    expect(freeze.frozen()).toBe(false);
    const again = freezeAt(dir, { call: 'fs.renameSync', arg: '/address', when: 'after' });
    const p = run([], { ...again.env, NODE_OPTIONS: again.nodeOptions });
    await waitFor('the freeze', again.frozen);
    expect(fs.existsSync(path.join(dir, 'x', 'address'))).toBe(true);
    expect(fs.existsSync(path.join(dir, 'y', 'address'))).toBe(false);
    p.kill();
    expect(await p.exited).toBe('');
  });
});
