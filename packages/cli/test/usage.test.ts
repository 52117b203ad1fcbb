/** Parsing and exit statuses without a daemon (docker's statuses: 125 flag errors, 1 otherwise, 64 bad inspect template). */
import { API_VERSION, EngineClient } from '@gantry/client';
import { needsCompose, runCli } from '../src/run';
import { sinceValue } from '../src/commands/logs';
import { splitReference } from '../src/commands/image-ops';
import { toFilters } from '../src/options';

async function run(...argv: string[]): Promise<{ status: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const status = await runCli(argv, {
    stdout: { write: (s) => (out += String(s)) },
    stderr: { write: (s) => (err += String(s)) },
    env: {},
    client: () => {
      throw new Error('no daemon in unit tests');
    },
  });
  return { status, out, err };
}

describe('usage errors', () => {
  // the texts are docker 28's (checked against it by hand: `docker run --memory`, `docker tag a`, ...)
  it('flag errors: the message, the usage line and a pointer to --help, status 125', async () => {
    const usage = (line: string, path: string) => `\n\nUsage:  ${line}\n\nRun '${path} --help' for more information\n`;
    const runUsage = usage('gantry run [OPTIONS] IMAGE [COMMAND] [ARG...]', 'gantry run');
    expect(await run('ps', '--bogus')).toMatchObject({ status: 125, err: `unknown flag: --bogus${usage('gantry ps [OPTIONS]', 'gantry ps')}` });
    // the nearest flag is named, as for commands
    expect((await run('run', '--nme', 'x', 'busybox')).err.split('\n')[0]).toBe('unknown flag: --nme (did you mean --name?)');
    expect(await run('ps', '-z')).toMatchObject({ status: 125, err: `unknown shorthand flag: 'z' in -z${usage('gantry ps [OPTIONS]', 'gantry ps')}` });
    expect(await run('run', '--memory')).toMatchObject({ status: 125, err: `flag needs an argument: --memory${runUsage}` });
    expect(await run('run', '-m')).toMatchObject({ status: 125, err: `flag needs an argument: 'm' in -m${runUsage}` });
    expect(await run('run', '-m', 'xx', 'busybox')).toMatchObject({
      status: 125,
      err: `invalid argument "xx" for "-m, --memory" flag: invalid size: 'xx'${runUsage}`,
    });
    expect((await run('stop', '-t', 'x', 'c')).err.split('\n')[0]).toBe(
      'invalid argument "x" for "-t, --timeout" flag: strconv.ParseInt: parsing "x": invalid syntax',
    );
  });

  it('argument counts: as cobra words them, status 1', async () => {
    expect(await run('ps', 'extra')).toMatchObject({
      status: 1,
      err: "gantry: 'gantry ps' accepts no arguments\n\nUsage:  gantry ps [OPTIONS]\n\nRun 'gantry ps --help' for more information\n",
    });
    expect((await run('tag', 'a')).err).toBe(
      "gantry: 'gantry tag' requires 2 arguments\n\nUsage:  gantry tag SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]\n\nRun 'gantry tag --help' for more information\n",
    );
    expect((await run('port', 'a', 'b', 'c')).err.split('\n')[0]).toBe("gantry: 'gantry port' requires at least 1 and at most 2 arguments");
    expect((await run('image', 'ls', 'a', 'b')).err.split('\n')[0]).toBe("gantry: 'gantry image ls' requires at most 1 argument");
    expect((await run('rm')).err).toBe(
      "gantry: 'gantry rm' requires at least 1 argument\n\nUsage:  gantry rm [OPTIONS] CONTAINER [CONTAINER...]\n\nSee 'gantry rm --help' for more information\n",
    );
  });

  it("compose's commands are parsed by the same rules", async () => {
    expect(await run('compose', 'up', '--bogus')).toMatchObject({
      status: 125,
      err: expect.stringMatching(/^unknown flag: --bogus\n\nUsage: {2}gantry compose up /),
    });
  });

  it('an unknown command suggests the nearest, status 1', async () => {
    const r = await run('psx');
    expect(r.status).toBe(1);
    expect(r.err.split('\n')[0]).toBe('gantry: unknown command: gantry psx (did you mean ps?)');
  });

  it('missing arguments, status 1', async () => {
    const r = await run('rm');
    expect(r.status).toBe(1);
    expect(r.err.split('\n')[0]).toBe("gantry: 'gantry rm' requires at least 1 argument");
  });

  it('a bad --format never reaches the daemon: list commands status 1, inspect status 64', async () => {
    expect(await run('ps', '--format', '{{.Foo')).toMatchObject({ status: 1, err: 'failed to parse template: template: :1: unclosed action\n' });
    expect(await run('inspect', '-f', '{{.Foo', 'x')).toMatchObject({ status: 64, err: 'template parsing error: template: :1: unclosed action\n' });
  });

  it('bundled short flags and repeated options parse (-aq, -f twice) before the client is asked for', async () => {
    const r = await run('ps', '-aq', '-f', 'status=exited', '-f', 'label=a=b');
    expect(r).toMatchObject({ status: 1, err: 'no daemon in unit tests\n' });
  });

  it('an invalid --type is a usage error', async () => {
    expect((await run('inspect', '--type', 'volume', 'x')).status).toBe(125);
  });
});

describe('option values', () => {
  it('filters group by key', () => {
    expect(toFilters(['status=exited', 'label=a=b', 'label=c'])).toEqual({ status: ['exited'], label: ['a=b', 'c'] });
    expect(() => toFilters(['nokey'])).toThrow('bad format of filter');
  });

  it('--since takes Go durations relative to now, passes timestamps on', () => {
    expect(sinceValue('1m30s', 100_000)).toBe('10.000000000');
    expect(sinceValue('2026-01-02T13:23:37Z')).toBe('2026-01-02T13:23:37Z');
  });

  it('tag targets split at the colon after the last slash', () => {
    expect(splitReference('localhost:5000/app')).toEqual({ repo: 'localhost:5000/app', tag: 'latest' });
    expect(splitReference('app:v1')).toEqual({ repo: 'app', tag: 'v1' });
  });
});

describe('version without a daemon', () => {
  it("prints the client's own API version and the connection error, status 1", async () => {
    let out = '';
    let err = '';
    const status = await runCli(['version'], {
      stdout: { write: (s) => (out += String(s)) },
      stderr: { write: (s) => (err += String(s)) },
      env: {},
      client: () => new EngineClient({ host: 'unix:///nonexistent/gantry-cli-test.sock', env: {} }),
    });
    expect(status).toBe(1);
    expect(out).toMatch(new RegExp(`API version: +${API_VERSION.replace('.', '\\.')}\\n`));
    expect(err).toContain('/nonexistent/gantry-cli-test.sock');
  });
});

describe('start-up without @gantry/compose', () => {
  it('only command lines that may run compose (or list every command) load it', () => {
    expect(needsCompose(['ps', '-a'])).toBe(false);
    expect(needsCompose(['-H', 'unix:///x.sock', 'version'])).toBe(false);
    expect(needsCompose(['-H', 'unix:///x.sock', 'compose', 'up'])).toBe(true);
    expect(needsCompose(['completion', 'bash'])).toBe(true);
    expect(needsCompose(['help', 'compose'])).toBe(true);
  });

  it('`--help` lists compose as the loaded command does; `compose --help` is the real one', async () => {
    const top = await run('--help');
    expect(top.out).toMatch(/\n {2}compose \[options\] +Define and run multi-container applications\n/);
    const compose = await run('compose', '--help');
    expect(compose.status).toBe(0);
    expect(compose.out).toContain('Usage: gantry compose [options] [command]');
    expect(compose.out).toMatch(/\n {2}up /);
  });
});
