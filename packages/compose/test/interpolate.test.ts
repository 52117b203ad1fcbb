import { ComposeError, interpolateString, interpolateValue, parseDotenv } from '../src';

const env: Record<string, string> = { SET: 'value', EMPTY: '' };
const lookup = (n: string) => env[n];

describe('interpolation', () => {
  test.each([
    ['$SET and ${SET}', 'value and value'],
    ['${UNSET}|$UNSET', '|'],
    ['${UNSET:-d} ${EMPTY:-d} ${SET:-d}', 'd d value'],
    ['${UNSET-d} ${EMPTY-d} ${SET-d}', 'd  value'],
    ['${UNSET:+a} ${EMPTY:+a} ${SET:+a}', '  a'],
    ['${UNSET+a} ${EMPTY+a} ${SET+a}', ' a a'],
    ['$$SET costs $$5', '$SET costs $5'],
    ['${UNSET:-${SET}}', 'value'],
    ['${UNSET:-${ALSO_UNSET:-deep}}', 'deep'],
    ['${EMPTY?err}', ''],
    ['a $ b', 'a $ b'],
  ])('%s', (input, out) => {
    expect(interpolateString(input, lookup)).toBe(out);
  });

  test('required variables: ${VAR:?err} fails when unset or empty, ${VAR?err} only when unset', () => {
    expect(() => interpolateString('${EMPTY:?need it}', lookup, 'services.web.image')).toThrow(
      new ComposeError('required variable EMPTY is missing a value in services.web.image: need it'),
    );
    expect(() => interpolateString('${UNSET?}', lookup)).toThrow('required variable UNSET is missing a value');
    expect(interpolateString('${SET:?x}', lookup)).toBe('value');
  });

  test('a malformed reference is an error, not text', () => {
    expect(() => interpolateString('${SET', lookup)).toThrow('invalid interpolation format');
    expect(() => interpolateString('${1A}', lookup)).toThrow('invalid interpolation format');
  });

  test('values are interpolated, keys are not; an error names the path', () => {
    expect(interpolateValue({ $SET: ['${SET}', 1, true, null] }, lookup)).toEqual({ $SET: ['value', 1, true, null] });
    expect(() => interpolateValue({ services: { web: { environment: ['A=1', 'B=${X:?}'] } } }, lookup)).toThrow(
      'required variable X is missing a value in services.web.environment[1]',
    );
  });
});

describe('.env files', () => {
  test('quotes, comments, export, interpolation of earlier lines and the environment', () => {
    const text = ['# comment', 'export A=1', "B='literal $A'", 'C="line\\nnext $A"', 'D=${A}2 # trailing comment', 'E', 'F=', 'G=${OUTER:-none}'].join('\n');
    expect(parseDotenv(text, '.env', (n) => ({ E: 'from-env', OUTER: 'outer' })[n])).toEqual({
      A: '1',
      B: 'literal $A',
      C: 'line\nnext 1',
      D: '12',
      E: 'from-env',
      F: '',
      G: 'outer',
    });
  });

  test('a bad line names the file and line', () => {
    expect(() => parseDotenv('A=1\n=x\n', '/p/.env')).toThrow('/p/.env: line 2: unexpected character');
  });
});
