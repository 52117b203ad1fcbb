/**
 * A CNI runtime (spec 1.0): runs plugin binaries with the CNI_* environment and a network
 * configuration on stdin, chains a configuration list (each plugin gets the previous result as
 * `prevResult`), runs DEL in reverse order, and turns the plugin's JSON error into a CniError.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

export const CNI_VERSION = '1.0.0';
export const DEFAULT_CNI_PATH = ['/usr/lib/cni', '/opt/cni/bin'];

export interface CniPluginConf {
  type: string;
  /** Runtime capabilities the plugin takes from runtimeConfig (portMappings, ips, ...). */
  capabilities?: Record<string, boolean>;
  [key: string]: unknown;
}

export interface CniConfList {
  cniVersion: string;
  name: string;
  plugins: CniPluginConf[];
}

export interface CniInterface {
  name: string;
  mac?: string;
  sandbox?: string;
}

export interface CniIpConfig {
  /** CIDR: the address and its prefix length. */
  address: string;
  gateway?: string;
  interface?: number;
}

export interface CniResult {
  cniVersion: string;
  interfaces?: CniInterface[];
  ips?: CniIpConfig[];
  routes?: { dst: string; gw?: string }[];
  dns?: Record<string, unknown>;
}

export interface RuntimeConf {
  containerId: string;
  /** Path of the network namespace file. */
  netns: string;
  ifName: string;
  /** CNI_ARGS key/value pairs. */
  args?: [string, string][];
  /** Values for plugins declaring the matching capability (portMappings, ips, mac...). */
  capabilityArgs?: Record<string, unknown>;
}

export class CniError extends Error {
  override name = 'CniError';
  constructor(
    readonly plugin: string,
    readonly code: number,
    readonly msg: string,
    readonly details = '',
  ) {
    super(`plugin type="${plugin}" failed (code ${code}): ${msg}${details ? `: ${details}` : ''}`);
  }
}

type Command = 'ADD' | 'DEL' | 'CHECK' | 'VERSION';

/** The raw result of running one binary. */
export interface ExecOutput {
  code: number | null;
  stdout: string;
  stderr: string;
}

export type PluginExec = (binary: string, env: NodeJS.ProcessEnv, stdin: string) => Promise<ExecOutput>;

export const spawnPlugin: PluginExec = (binary, env, stdin) =>
  new Promise((resolve, reject) => {
    const child = spawn(binary, [], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() }));
    child.stdin.on('error', () => undefined);
    child.stdin.end(stdin);
  });

export class CniInvoker {
  constructor(
    readonly pluginDirs: string[] = DEFAULT_CNI_PATH,
    private readonly exec: PluginExec = spawnPlugin,
  ) {}

  /** The plugin binary's path in the first plugin directory that has it. */
  findPlugin(type: string): string {
    if (!/^[A-Za-z0-9._-]+$/.test(type)) throw new CniError(type, 4, 'invalid plugin type');
    for (const dir of this.pluginDirs) {
      const p = path.join(dir, type);
      if (fs.existsSync(p)) return p;
    }
    throw new CniError(type, 4, `failed to find plugin "${type}" in path [${this.pluginDirs.join(' ')}]`);
  }

  /** The stdin configuration of one plugin of a list: its own keys, the list's name and version, runtimeConfig, prevResult. */
  pluginConfig(list: CniConfList, plugin: CniPluginConf, rt: RuntimeConf, prevResult?: CniResult): Record<string, unknown> {
    const conf: Record<string, unknown> = { ...plugin, name: list.name, cniVersion: list.cniVersion };
    const runtimeConfig: Record<string, unknown> = {};
    for (const [cap, on] of Object.entries(plugin.capabilities ?? {})) {
      if (on && rt.capabilityArgs && cap in rt.capabilityArgs) runtimeConfig[cap] = rt.capabilityArgs[cap];
    }
    if (Object.keys(runtimeConfig).length > 0) conf.runtimeConfig = runtimeConfig;
    if (prevResult) conf.prevResult = prevResult;
    return conf;
  }

  private async run(command: Command, type: string, conf: Record<string, unknown>, rt: RuntimeConf): Promise<CniResult | undefined> {
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin',
      CNI_COMMAND: command,
      CNI_CONTAINERID: rt.containerId,
      CNI_NETNS: rt.netns,
      CNI_IFNAME: rt.ifName,
      CNI_PATH: this.pluginDirs.join(':'),
    };
    if (rt.args?.length) env.CNI_ARGS = rt.args.map(([k, v]) => `${k}=${v}`).join(';');
    const out = await this.exec(this.findPlugin(type), env, JSON.stringify(conf));
    if (out.code !== 0) {
      let parsed: { code?: unknown; msg?: unknown; details?: unknown } = {};
      try {
        const doc: unknown = JSON.parse(out.stdout);
        // the CNI error object; anything else a plugin prints is reported as text
        if (doc !== null && typeof doc === 'object' && !Array.isArray(doc)) parsed = doc as typeof parsed;
      } catch {
        // not JSON: report what the plugin printed
      }
      const code = typeof parsed.code === 'number' ? parsed.code : 999;
      const msg = typeof parsed.msg === 'string' ? parsed.msg : out.stderr.trim() || out.stdout.trim() || `exit status ${out.code}`;
      throw new CniError(type, code, msg, typeof parsed.details === 'string' ? parsed.details : '');
    }
    if (command !== 'ADD') return undefined;
    let result: unknown;
    try {
      result = JSON.parse(out.stdout);
    } catch {
      throw new CniError(type, 999, `invalid result: ${out.stdout.slice(0, 200)}`);
    }
    if (result === null || typeof result !== 'object' || Array.isArray(result)) throw new CniError(type, 999, `invalid result: ${out.stdout.slice(0, 200)}`);
    return result as CniResult;
  }

  /** ADD each plugin in order, each seeing the previous one's result; the last result is the list's. */
  async add(list: CniConfList, rt: RuntimeConf): Promise<CniResult> {
    let prev: CniResult | undefined;
    for (const p of list.plugins) {
      prev = (await this.run('ADD', p.type, this.pluginConfig(list, p, rt, prev), rt)) ?? prev;
    }
    return prev ?? { cniVersion: list.cniVersion };
  }

  /** DEL in reverse order with the ADD result as prevResult; every plugin runs, the first error is thrown after. */
  async del(list: CniConfList, rt: RuntimeConf, prevResult?: CniResult): Promise<void> {
    let first: { error: unknown } | undefined;
    for (const p of [...list.plugins].reverse()) {
      try {
        await this.run('DEL', p.type, this.pluginConfig(list, p, rt, prevResult), rt);
      } catch (e) {
        first ??= { error: e };
      }
    }
    if (first) throw first.error;
  }

  /** CHECK each plugin in order against the ADD result. */
  async check(list: CniConfList, rt: RuntimeConf, prevResult: CniResult): Promise<void> {
    for (const p of list.plugins) await this.run('CHECK', p.type, this.pluginConfig(list, p, rt, prevResult), rt);
  }
}
