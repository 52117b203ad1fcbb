import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CRASH_HOOK, crashAtEachPoint, runChild } from '../src';

describe('kill -9 at a point the child reports', () => {
  let dir: string;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gtestkit-'))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('crashAtEachPoint stops the child before each file-system call once, then lets it finish', async () => {
    const a = path.join(dir, 'a');
    const b = path.join(dir, 'b');
    // three changing calls: write a, write b, rename b over a
    const script = `${CRASH_HOOK}
      const fs = require('node:fs');
      __crash.arm();
      fs.writeFileSync(${JSON.stringify(a)}, 'old');
      fs.writeFileSync(${JSON.stringify(b)}, 'new');
      fs.renameSync(${JSON.stringify(b)}, ${JSON.stringify(a)});
      process.stdout.write('done ' + __crash.disarm() + '\\n');
    `;
    const states: string[] = [];
    const calls = await crashAtEachPoint(script, ({ n, finished }) => {
      const read = (f: string) => (fs.existsSync(f) ? fs.readFileSync(f, 'utf8') : '-');
      states.push(`${n}${finished ? ' done' : ''}: a=${read(a)} b=${read(b)}`);
      fs.rmSync(a, { force: true });
      fs.rmSync(b, { force: true });
    });
    expect(calls).toEqual(['fs.writeFileSync', 'fs.writeFileSync', 'fs.renameSync']);
    expect(states).toEqual(['1: a=- b=-', '2: a=old b=-', '3: a=old b=new', '4 done: a=new b=-']);
  });

  it('runChild kills the child when the test says so (it never reaches the end)', async () => {
    const r = await runChild(`for (let i = 0; ; i++) { require('node:fs').writeSync(1, 'line ' + i + '\\n'); }`, { killWhen: (l) => l === 'line 5' });
    expect(r.killed).toBe(true);
    expect(r.lines.slice(0, 6)).toEqual(['line 0', 'line 1', 'line 2', 'line 3', 'line 4', 'line 5']);
  });
});
