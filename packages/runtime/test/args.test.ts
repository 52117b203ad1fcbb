import { parseArgs, parseBytes, parseDuration, UsageError } from '../src/cli/args';

describe('parseArgs', () => {
  const specs = [
    { name: 'bundle', alias: 'b', type: 'string' as const },
    { name: 'detach', alias: 'd', type: 'bool' as const },
    { name: 'env', alias: 'e', type: 'multi' as const },
  ];
  it('takes --flag value, --flag=value, -f value and bools', () => {
    const p = parseArgs(['--bundle', '/b', '-d', '-e', 'A=1', '--env=B=2', 'id'], specs);
    expect(p.flags.get('bundle')).toBe('/b');
    expect(p.flags.get('detach')).toBe(true);
    expect(p.flags.get('env')).toEqual(['A=1', 'B=2']);
    expect(p.positional).toEqual(['id']);
  });
  it('stops at the first positional for exec command lines', () => {
    const p = parseArgs(['-d', 'id', 'sh', '-c', 'echo -d'], specs, true);
    expect(p.positional).toEqual(['id', 'sh', '-c', 'echo -d']);
  });
  it('refuses unknown flags and missing values', () => {
    expect(() => parseArgs(['--nope'], specs)).toThrow(UsageError);
    expect(() => parseArgs(['--bundle'], specs)).toThrow(/needs an argument/);
  });
});

describe('sizes and durations', () => {
  it('parses docker-style sizes', () => {
    expect(parseBytes('512')).toBe(512);
    expect(parseBytes('64m')).toBe(64 * 1024 * 1024);
    expect(parseBytes('1G')).toBe(1024 ** 3);
    expect(parseBytes('-1')).toBe(-1);
    expect(() => parseBytes('lots')).toThrow(UsageError);
  });
  it('parses Go durations', () => {
    expect(parseDuration('5s')).toBe(5000);
    expect(parseDuration('1m30s')).toBe(90000);
    expect(parseDuration('250ms')).toBe(250);
    expect(() => parseDuration('5 s')).toThrow(UsageError);
  });
});
