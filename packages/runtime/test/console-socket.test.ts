import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

// The compiled module, in a child: what is tested is that the process can exit.
const DIST = path.resolve(__dirname, '../dist/console-socket.js');

describe('ConsoleSocket', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gantry-consock-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('closed while nobody ever connected: the pending receive rejects and the process exits', () => {
    expect(fs.existsSync(DIST)).toBe(true); // npx tsc -b packages/runtime/tsconfig.json
    const script = `
      const { ConsoleSocket } = require(${JSON.stringify(DIST)});
      const sock = ConsoleSocket.listen(${JSON.stringify(path.join(dir, 's.sock'))});
      sock.receive().then(() => console.log('received'), (e) => console.log('rejected', e.code || e.message));
      setImmediate(() => { sock.close(); setTimeout(() => process.exit(0), 200); });
    `;
    const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 15_000, killSignal: 'SIGKILL' });
    expect(r.signal).toBeNull(); // killed at the timeout: it hung in a worker's accept()
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^rejected /);
    expect(fs.existsSync(path.join(dir, 's.sock'))).toBe(false);
  });
});
