import { commandLineOrExit, FlagError, flagsHelp, parseFlags, type CommandSpec, type FlagDefs } from '../src/flags';

const SPEC = {
  program: 'demo',
  flags: {
    host: { type: 'string', short: 'H', arg: 'ADDR', multiple: true, help: 'where to listen,\nrepeatable' },
    root: { type: 'string', arg: 'DIR', help: 'state' },
    debug: { type: 'boolean', short: 'D', help: 'log more' },
  },
} as const satisfies CommandSpec<FlagDefs>;

const parse = (...argv: string[]) => {
  const c = parseFlags(SPEC, argv);
  if (c === 'help') throw new Error('unexpected help');
  return c;
};

describe('parseFlags', () => {
  it('reads values with = or as the next word, long and short', () => {
    expect(parse('--root=/a').flags.root).toBe('/a');
    expect(parse('--root', '/b').flags.root).toBe('/b');
    expect(parse('--root=').flags.root).toBe('');
    expect(parse('-H', 'x', '-H=y', '-Hz', '--host', 'w', '--host=v').flags.host).toEqual(['x', 'y', 'z', 'w', 'v']);
  });

  it('leaves absent flags undefined and absent repeatable flags empty', () => {
    expect(parse().flags).toEqual({ host: [], root: undefined, debug: undefined });
  });

  it('takes the last of a flag given twice', () => {
    expect(parse('--root', '/a', '--root', '/b').flags.root).toBe('/b');
  });

  it('reads booleans bare or as =true/=false/=1/=0, and refuses other values', () => {
    expect(parse('--debug').flags.debug).toBe(true);
    expect(parse('-D').flags.debug).toBe(true);
    expect(parse('--debug=false').flags.debug).toBe(false);
    expect(parse('--debug=0').flags.debug).toBe(false);
    expect(parse('--debug=1').flags.debug).toBe(true);
    expect(() => parse('--debug=maybe')).toThrow('invalid argument "maybe" for "--debug" flag: takes true or false');
  });

  it('takes the next word as a value even when it looks like a flag, as pflag does', () => {
    expect(parse('--root', '--debug').flags).toMatchObject({ root: '--debug', debug: undefined });
  });

  it('refuses unknown flags, missing values and stray words in one line', () => {
    expect(() => parse('--foo')).toThrow(new FlagError('unknown flag: --foo'));
    expect(() => parse('-x')).toThrow(new FlagError('unknown flag: -x'));
    expect(() => parse('--root')).toThrow(new FlagError('flag needs an argument: --root'));
    expect(() => parse('-H')).toThrow(new FlagError('flag needs an argument: -H'));
    expect(() => parse('serve')).toThrow(new FlagError('unexpected argument "serve"'));
  });

  it('keeps words that are not flags when the command takes them, and everything after --', () => {
    const c = parseFlags({ ...SPEC, positionals: true }, ['serve', '--root', '/r', '--', '--debug']);
    expect(c !== 'help' && [c.positionals, c.flags.root, c.flags.debug]).toEqual([['serve', '--debug'], '/r', undefined]);
  });

  it('answers help for -h and --help wherever they are', () => {
    expect(parseFlags(SPEC, ['--root', '/a', '--help'])).toBe('help');
    expect(parseFlags(SPEC, ['-h'])).toBe('help');
  });
});

describe('flagsHelp', () => {
  it('lists every flag, aligned, with continuation lines', () => {
    expect(flagsHelp(SPEC)).toBe(
      [
        'usage: demo [options]',
        '  -H, --host ADDR  where to listen,',
        '                   repeatable',
        '      --root DIR   state',
        '  -D, --debug      log more',
        '  -h, --help       print this help',
        '',
      ].join('\n'),
    );
  });
});

describe('commandLineOrExit', () => {
  class Exit extends Error {
    constructor(readonly status: number | string | null | undefined) {
      super(`exit ${String(status)}`);
    }
  }
  const spec = { program: 'demo', flags: { root: { type: 'string', help: 'state' } } } as const satisfies CommandSpec<FlagDefs>;
  const run = (...argv: string[]) => {
    const out = { stdout: '', stderr: '', status: undefined as number | string | null | undefined, value: undefined as unknown };
    const exit = jest.spyOn(process, 'exit').mockImplementation((code) => {
      throw new Exit(code);
    });
    const stdout = jest.spyOn(process.stdout, 'write').mockImplementation((s) => ((out.stdout += String(s)), true));
    const stderr = jest.spyOn(process.stderr, 'write').mockImplementation((s) => ((out.stderr += String(s)), true));
    try {
      out.value = commandLineOrExit(spec, argv, (c) => {
        if (c.flags.root === 'bad') throw new FlagError('bad root');
        return c.flags;
      });
    } catch (e) {
      if (!(e instanceof Exit)) throw e;
      out.status = e.status;
    } finally {
      exit.mockRestore();
      stdout.mockRestore();
      stderr.mockRestore();
    }
    return out;
  };

  it('returns the checked values', () => {
    expect(run('--root', '/a')).toEqual({ stdout: '', stderr: '', status: undefined, value: { root: '/a' } });
  });

  it('prints the help and exits 0', () => {
    expect(run('--help')).toMatchObject({
      status: 0,
      stderr: '',
      stdout: 'usage: demo [options]\n      --root VALUE  state\n  -h, --help        print this help\n',
    });
  });

  it('prints one error line and exits 1, for parse errors and for checks', () => {
    expect(run('--foo')).toMatchObject({ status: 1, stdout: '', stderr: 'demo: unknown flag: --foo\n' });
    expect(run('--root=bad')).toMatchObject({ status: 1, stdout: '', stderr: 'demo: bad root\n' });
  });
});
