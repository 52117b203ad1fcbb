/** Shell completion generated from the command tree (run in bash), and the context store with docker's precedence. */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../src/run';
import { ContextStore, resolveEndpoint } from '../src/contexts';

async function run(env: NodeJS.ProcessEnv, ...argv: string[]): Promise<{ status: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const status = await runCli(argv, {
    stdout: { write: (s) => (out += String(s)) },
    stderr: { write: (s) => (err += String(s)) },
    env,
    client: () => {
      throw new Error('no daemon in unit tests');
    },
  });
  return { status, out, err };
}

describe('completion', () => {
  let script: string;
  beforeAll(async () => {
    script = (await run({}, 'completion', 'bash')).out;
  });

  /** What bash's completion function offers for the words typed (the last one being completed). */
  function complete(...words: string[]): string[] {
    const body = `${script}\n__fake() { echo "names-of-$2"; }\nCOMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}\n_gantry_run() { COMP_WORDS[0]=__fake; _gantry; }; _gantry_run; printf '%s\\n' "\${COMPREPLY[@]}"`;
    const r = spawnSync('bash', ['-c', body], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    return r.stdout.split('\n').filter(Boolean);
  }

  it('completes commands, subcommands (with aliases) and flags from the command tree', () => {
    expect(complete('gantry', 'netw')).toEqual(['network']);
    expect(complete('gantry', 'volume', '')).toEqual(['create', 'ls', 'list', 'inspect', 'rm', 'remove', 'prune']);
    expect(complete('gantry', 'history', '--n')).toEqual(['--no-human', '--no-trunc']);
    expect(complete('gantry', 'image', 'list', '--d')).toEqual(['--digests']);
  });

  it('asks the daemon (gantry __complete KIND) for names where docker completes them', () => {
    expect(complete('gantry', 'rmi', '')).toEqual(['names-of-images']);
    expect(complete('gantry', 'image', 'remove', '')).toEqual(['names-of-images']);
    expect(complete('gantry', 'stop', '')).toEqual(['names-of-containers']);
    expect(complete('gantry', 'network', 'rm', '')).toEqual(['names-of-networks']);
    expect(complete('gantry', 'pull', '')).toEqual([]);
  });

  it('zsh gets the same tables and its own entry point; another shell is refused', async () => {
    const zsh = (await run({}, 'completion', 'zsh')).out;
    expect(zsh.startsWith('#compdef gantry\n')).toBe(true);
    expect(zsh).toContain("'network') echo 'create ls list inspect rm remove connect disconnect prune' ;;");
    expect(zsh).not.toContain('__complete)');
    expect(await run({}, 'completion', 'fish')).toEqual({ status: 1, out: '', err: 'unsupported shell "fish": bash or zsh\n' });
  });
});

describe('contexts', () => {
  let dir: string;
  let env: NodeJS.ProcessEnv;
  beforeEach(() => {
    dir = fs.mkdtempSync(join(tmpdir(), 'gantry-ctx-'));
    env = { GANTRY_CONFIG: dir };
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('create, ls, use, show, inspect and rm through the commands', async () => {
    expect(await run(env, 'context', 'create', 'remote', '--description', 'a box', '--docker', 'host=tcp://10.0.0.9:2375')).toEqual({
      status: 0,
      out: 'remote\n',
      err: 'Successfully created context "remote"\n',
    });
    expect((await run(env, 'context', 'create', 'remote', '--docker', 'host=unix:///x')).err).toBe('context "remote" already exists\n');
    expect((await run(env, 'context', 'ls', '--format', '{{.Name}}|{{.DockerEndpoint}}|{{.Current}}')).out).toBe(
      'default *|unix:///run/gantry/gantry.sock|true\nremote|tcp://10.0.0.9:2375|false\n',
    );
    expect((await run(env, 'context', 'use', 'remote')).out).toBe('remote\n');
    expect((await run(env, 'context', 'show')).out).toBe('remote\n');
    expect((await run(env, 'context', 'inspect', '-f', '{{.Endpoints.docker.Host}} {{.Metadata.Description}}')).out).toBe('tcp://10.0.0.9:2375 a box\n');
    expect((await run(env, 'context', 'use', 'nope')).status).toBe(1);
    expect((await run(env, 'context', 'rm', 'remote')).out).toBe('remote\n');
    expect((await run(env, 'context', 'show')).out).toBe('default\n');
    expect((await run(env, 'context', 'rm', 'default')).status).toBe(1);
  });

  it("resolves the endpoint in docker's order: -H, --context, GANTRY_CONTEXT, GANTRY_HOST/DOCKER_HOST, the current context", () => {
    const store = new ContextStore(dir);
    store.create({ Name: 'aa', Description: '', Host: 'unix:///a.sock' });
    store.create({ Name: 'bb', Description: '', Host: 'unix:///b.sock' });
    store.setCurrent('aa');
    expect(resolveEndpoint({}, env)).toEqual({ host: 'unix:///a.sock', context: 'aa' });
    expect(resolveEndpoint({}, { ...env, DOCKER_HOST: 'unix:///d.sock' })).toEqual({ context: 'default' });
    expect(resolveEndpoint({}, { ...env, GANTRY_CONTEXT: 'bb', DOCKER_HOST: 'unix:///d.sock' })).toEqual({ host: 'unix:///b.sock', context: 'bb' });
    expect(resolveEndpoint({ context: 'bb' }, { ...env, GANTRY_CONTEXT: 'aa' })).toEqual({ host: 'unix:///b.sock', context: 'bb' });
    expect(resolveEndpoint({ host: 'unix:///h.sock' }, env)).toEqual({ host: 'unix:///h.sock', context: 'default' });
    expect(() => resolveEndpoint({ host: 'unix:///h.sock', context: 'aa' }, env)).toThrow('conflicting options: cannot specify both --host and --context');
  });
});
