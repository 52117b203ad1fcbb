/**
 * gantry beside the docker CLI (28.x), both against one gantryd: `cp`'s closing line on a terminal
 * (run under `script`, which gives the command a pseudo-terminal), `import` of a tarball the daemon
 * downloads from a URL this test serves on loopback, and `system df -v`'s tables.
 */
import { execFile, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { describeIf, needTool } from '@gantry/testkit';
import { type CliResult, type GantrydHarness, sharedGantryd } from '../src/gantryd';

const GANTRY = join(__dirname, '..', '..', 'bin', 'gantry');

describeIf(needTool('script'))('gantry cp on a terminal, import from a URL, system df -v beside the docker CLI', () => {
  let h: GantrydHarness;
  let dir: string;
  let server: http.Server;
  let base: string;
  const tag = `gcpi${process.pid}`;
  const box = `${tag}-box`;

  beforeAll(async () => {
    h = await sharedGantryd();
    dir = fs.mkdtempSync('/tmp/gcli-cpi-');
    fs.writeFileSync(join(dir, 'f1500'), Buffer.alloc(1500, 7));
    // a one-file filesystem tar for import, and a server on loopback that serves it
    spawnSync('tar', ['-cf', join(dir, 'root.tar'), '-C', dir, 'f1500']);
    server = http.createServer((req, res) => {
      if (req.url === '/root.tar') fs.createReadStream(join(dir, 'root.tar')).pipe(res);
      else res.writeHead(404).end('nothing here');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    h.ok(['run', '-d', '--name', box, 'busybox', 'sleep', '600']);
  }, 120000);

  afterAll(async () => {
    h?.docker(['rm', '-f', box]);
    h?.docker(['rmi', `${tag}/imp:d`, `${tag}/imp:g`]);
    server?.close();
    if (dir !== undefined) fs.rmSync(dir, { recursive: true, force: true });
    await h?.stop();
  }, 60000);

  function run(bin: string, args: string[]): CliResult {
    const r = spawnSync(bin, args, { encoding: 'utf8', timeout: 60000, killSignal: 'SIGKILL', env: h.env() });
    return { status: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
  }

  /** As run(), without blocking this process (whose server the daemon downloads from). */
  function runAsync(bin: string, args: string[]): Promise<CliResult> {
    return new Promise((resolve) => {
      execFile(bin, args, { encoding: 'utf8', timeout: 60000, killSignal: 'SIGKILL', env: h.env() }, (e, stdout, stderr) => {
        const status = e === null ? 0 : typeof e.code === 'number' ? e.code : null;
        resolve({ status, stdout, stderr });
      });
    });
  }

  /** What a shell command line prints on a terminal (both streams), under script(1). */
  function onTerminal(line: string): string {
    const r = spawnSync('script', ['-q', '-e', '-c', line, '/dev/null'], { encoding: 'utf8', timeout: 60000, env: h.env() });
    expect(r.status).toBe(0);
    return r.stdout.replace(/\r\n/g, '\n');
  }

  it('cp prints "Successfully copied <tar size> to <dest>" when stdout is a terminal, as docker does', () => {
    const src = join(dir, 'f1500');
    for (const who of ['d', 'g']) {
      const bin = who === 'd' ? 'docker' : GANTRY;
      const to = onTerminal(`${bin} cp ${src} ${box}:/tmp/f-${who}`);
      const from = onTerminal(`${bin} cp ${box}:/tmp/f-${who} ${dir}/back-${who}`);
      // stdout piped: nothing, even with stderr on the terminal; -q: nothing
      const piped = onTerminal(`${bin} cp ${box}:/tmp/f-${who} ${dir}/piped-${who} | cat`);
      const quiet = onTerminal(`${bin} cp -q ${box}:/tmp/f-${who} ${dir}/quiet-${who}`);
      expect({ to, from, piped, quiet }).toEqual({
        to: `Successfully copied 3.07kB to ${box}:/tmp/f-${who}\n`,
        from: `Successfully copied 3.07kB to ${dir}/back-${who}\n`,
        piped: '',
        quiet: '',
      });
      expect(fs.readFileSync(join(dir, `back-${who}`))).toEqual(fs.readFileSync(src));
    }
  }, 120000);

  it('import from a URL: the daemon downloads it; output, history comment and errors as docker', async () => {
    const d = await runAsync('docker', ['import', `${base}/root.tar`, `${tag}/imp:d`]);
    const g = await runAsync(GANTRY, ['import', `${base}/root.tar`, `${tag}/imp:g`]);
    expect(g.status).toBe(0);
    expect(g.stdout).toMatch(new RegExp(`^Downloading from ${base}/root.tar\\nsha256:[0-9a-f]{64}\\n$`));
    expect(g.stdout.split('\n')[0]).toBe(d.stdout.split('\n')[0]);
    const comment = (ref: string): string => h.ok(['history', '--format', '{{.Comment}}', ref]);
    expect(comment(`${tag}/imp:g`)).toBe(`Imported from ${base}/root.tar\n`);
    expect(comment(`${tag}/imp:g`)).toBe(comment(`${tag}/imp:d`));
    const missing = [await runAsync('docker', ['import', `${base}/none.tar`]), await runAsync(GANTRY, ['import', `${base}/none.tar`])];
    expect(missing[1]).toEqual(missing[0]);
    expect(missing[1]!.stderr).toContain(`failed to GET ${base}/none.tar with status 404`);
  }, 120000);

  it('system df -v prints docker’s four tables', () => {
    // times can tick between the two calls: compared without the CREATED columns' words and the padding
    const norm = (s: string): string =>
      s.replace(/(Less than a second|About a minute|About an hour|\d+ (seconds?|minutes?|hours?)) ago/g, 'X ago').replace(/ {2,}/g, '  ');
    const d = run('docker', ['system', 'df', '-v']);
    const g = run(GANTRY, ['system', 'df', '-v']);
    expect(g.status).toBe(0);
    expect(norm(g.stdout)).toBe(norm(d.stdout));
    expect(g.stdout).toContain('Images space usage:\n\nREPOSITORY');
    expect(g.stdout).toContain(box);
  }, 120000);
});
