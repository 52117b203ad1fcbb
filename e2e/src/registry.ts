/**
 * Debian's docker-registry (distribution 2.8) started by a test on 127.0.0.1:<free port> with
 * filesystem storage in a temp dir, optionally behind htpasswd (bcrypt) basic auth.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import { join } from 'node:path';
import { freePort } from '@gantry/testkit';

export const REGISTRY_BIN = '/usr/bin/docker-registry';


export class LocalRegistry {
  private proc?: ChildProcess;

  private constructor(
    readonly dir: string,
    readonly port: number,
  ) {}

  get host(): string {
    return `127.0.0.1:${this.port}`;
  }

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
      fs.writeFileSync(join(dir, 'htpasswd'), `${lines.join('\n')}\n`);
      auth = `auth:\n  htpasswd:\n    realm: gantry-e2e\n    path: ${join(dir, 'htpasswd')}\n`;
    }
    const config = join(dir, 'config.yml');
    fs.writeFileSync(config, `version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: ${join(dir, 'data')}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:${reg.port}\n${auth}`);
    const log = fs.openSync(join(dir, 'registry.log'), 'a');
    reg.proc = spawn(REGISTRY_BIN, ['serve', config], { stdio: ['ignore', log, log] });
    fs.closeSync(log);
    const deadline = Date.now() + 20000;
    for (;;) {
      const up = await new Promise<boolean>((resolve) => http.get(`http://${reg.host}/v2/`, (res) => (res.resume(), resolve(true))).on('error', () => resolve(false)));
      if (up) return reg;
      if (reg.proc.exitCode !== null || Date.now() > deadline) throw new Error(`docker-registry did not start: ${fs.readFileSync(join(dir, 'registry.log'), 'utf8')}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  async stop(): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const gone = new Promise((r) => p.once('exit', r));
    p.kill('SIGTERM');
    await gone;
  }
}
