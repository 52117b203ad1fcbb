/**
 * Debian's docker-registry (distribution 2.8) started by a test on 127.0.0.1:<free port>, with
 * filesystem storage under a directory of the test's, optionally behind htpasswd (bcrypt) basic auth.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { freePort } from './net';
import { needFile, type Unmet } from './requirements';
import { waitFor } from './wait';

export const REGISTRY_BIN = '/usr/bin/docker-registry';

/** The requirement for suites that run a LocalRegistry. */
export const needRegistry = (): Unmet => needFile(REGISTRY_BIN, 'Debian package docker-registry; tools/install-deps.sh installs it');

/** Whether anything answers HTTP at `url` (any status). */
const answers = (url: string) =>
  new Promise<boolean>((resolve) => {
    http
      .get(url, (res) => {
        res.resume();
        resolve(true);
      })
      .on('error', () => resolve(false));
  });

export class LocalRegistry {
  private proc?: ChildProcess;

  private constructor(
    readonly dir: string,
    readonly port: number,
  ) {}

  get host(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** `docker-registry serve`; `users` (name to password) turns on htpasswd auth. */
  static async start(dir: string, users?: Record<string, string>): Promise<LocalRegistry> {
    fs.mkdirSync(dir, { recursive: true });
    const reg = new LocalRegistry(dir, await freePort());
    let auth = '';
    if (users) {
      const lines = Object.entries(users).map(([u, p]) => {
        const r = spawnSync('htpasswd', ['-Bbn', u, p], { encoding: 'utf8' });
        if (r.status !== 0) throw new Error(`htpasswd: ${r.stderr}`);
        return r.stdout.trim();
      });
      fs.writeFileSync(path.join(dir, 'htpasswd'), `${lines.join('\n')}\n`);
      auth = `auth:\n  htpasswd:\n    realm: gantry-test\n    path: ${path.join(dir, 'htpasswd')}\n`;
    }
    const config = path.join(dir, 'config.yml');
    const storage = path.join(dir, 'data');
    fs.writeFileSync(
      config,
      `version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: ${storage}\n  delete:\n    enabled: true\nhttp:\n  addr: ${reg.host}\n${auth}`,
    );
    const logFile = path.join(dir, 'registry.log');
    const log = fs.openSync(logFile, 'a');
    const proc = spawn(REGISTRY_BIN, ['serve', config], { stdio: ['ignore', log, log] });
    reg.proc = proc;
    fs.closeSync(log);
    const exited = new Promise<never>((_, reject) => proc.once('exit', () => reject(new Error(`docker-registry exited: ${fs.readFileSync(logFile, 'utf8')}`))));
    exited.catch(() => undefined);
    await Promise.race([waitFor('docker-registry to answer', () => answers(`http://${reg.host}/v2/`)), exited]);
    return reg;
  }

  async stop(): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const gone = new Promise((r) => p.once('exit', r));
    p.kill('SIGTERM');
    await gone;
  }
}
