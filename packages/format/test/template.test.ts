import { Template, TemplateExecError, TemplateLimitError, TemplateParseError, goQuote } from '../src';

class Ctx {
  Name = 'web';
  trunc = true;
  get ID(): string {
    return 'abc123';
  }
  Label(k: string): string {
    return `label-${k}`;
  }
}

const run = (t: string, data: unknown): string => Template.parse(t).execute(data);

describe('template execution (Go semantics)', () => {
  const cases: [string, string, unknown, string][] = [
    ['field', '{{.Name}}', { Name: 'x' }, 'x'],
    ['nested field', '{{.State.Status}}', { State: { Status: 'running' } }, 'running'],
    ['missing map key', '{{.Nope}}', {}, '<no value>'],
    ['missing key chained', '{{.Nope.Deeper}}', {}, '<no value>'],
    ['null value', '{{.A}}', { A: null }, '<no value>'],
    ['dot', '{{.}}', 'hello', 'hello'],
    ['$ root', '{{range .L}}{{$.N}}{{end}}', { L: [1, 2], N: 'n' }, 'nn'],
    ['slice print', '{{.}}', ['a', 'b', 1], '[a b 1]'],
    ['map print sorted', '{{.}}', { b: 2, a: 1 }, 'map[a:1 b:2]'],
    ['struct print', '{{.}}', new Ctx(), '{web abc123}'],
    ['struct getter', '{{.ID}}', new Ctx(), 'abc123'],
    ['struct method with args', '{{.Label "x"}}', new Ctx(), 'label-x'],
    ['method with piped arg', '{{"y" | .Label}}', new Ctx(), 'label-y'],
    ['variables', '{{$x := .A}}{{$x}}{{$x = "b"}}{{$x}}', { A: 'a' }, 'ab'],
    ['range index/value', '{{range $i, $v := .}}{{$i}}={{$v}};{{end}}', ['a', 'b'], '0=a;1=b;'],
    ['range map sorted', '{{range $k, $v := .}}{{$k}}={{$v}};{{end}}', { z: 1, a: 2 }, 'a=2;z=1;'],
    ['range else', '{{range .}}x{{else}}empty{{end}}', [], 'empty'],
    ['range nil else', '{{range .M}}x{{else}}none{{end}}', {}, 'none'],
    ['range int', '{{range 3}}{{.}}{{end}}', null, '012'],
    ['range break', '{{range .}}{{if eq . 3}}{{break}}{{end}}{{.}}{{end}}', [1, 2, 3, 4], '12'],
    ['range continue', '{{range .}}{{if eq . 2}}{{continue}}{{end}}{{.}}{{end}}', [1, 2, 3], '13'],
    ['if else if else', '{{if eq .A 1}}one{{else if eq .A 2}}two{{else}}other{{end}}', { A: 2 }, 'two'],
    ['if falsy', '{{if .A}}y{{else}}n{{end}}', { A: '' }, 'n'],
    ['if empty map', '{{if .}}y{{else}}n{{end}}', {}, 'n'],
    ['if struct is true', '{{if .}}y{{end}}', new Ctx(), 'y'],
    ['with', '{{with .A}}{{.B}}{{end}}', { A: { B: 'b' } }, 'b'],
    ['with else', '{{with .A}}x{{else}}no{{end}}', { A: 0 }, 'no'],
    ['pipeline', '{{.A | printf "%s-%s" "z"}}', { A: 'a' }, 'z-a'],
    ['parens', '{{(index .L 1).N}}', { L: [{ N: 1 }, { N: 2 }] }, '2'],
    ['comments', 'a{{/* hi */}}b', null, 'ab'],
    ['trim markers', 'a  {{- "b" -}}  c', null, 'abc'],
    ['trim comment', 'a {{- /* x */ -}} b', null, 'ab'],
    ['negative number is not trim', '{{-3}}', null, '-3'],
    ['literals', '{{"s"}} {{`raw`}} {{true}} {{1.5}} {{0x10}} {{1_000}} {{\'a\'}}', null, 's raw true 1.5 16 1000 97'],
    ['and/or', '{{and 1 0}} {{and 1 2}} {{or 0 ""}} {{or 0 "x"}}', null, '0 2  x'],
    ['and short-circuits', '{{and false (index .L 9)}}', { L: [] }, 'false'],
    ['not', '{{not 0}} {{not "x"}}', null, 'true false'],
    ['len bytes', '{{len .}}', 'héllo', '6'],
    ['len slice and map', '{{len .L}} {{len .M}}', { L: [1, 2], M: { a: 1 } }, '2 1'],
    ['index map missing', '{{index .M "x"}}', { M: {} }, '<no value>'],
    ['index nested', '{{index .M "a" 1}}', { M: { a: [5, 6] } }, '6'],
    ['slice', '{{slice "abcdef" 1 3}} {{slice .L 1}}', { L: [1, 2, 3] }, 'bc [2 3]'],
    ['print spacing', '{{print 1 2 "a" 3 "b" "c"}}', null, '1 2a3bc'],
    ['println', '{{println 1 "x"}}', null, '1 x\n'],
    ['comparisons', '{{eq 1 1}} {{ne "a" "b"}} {{lt 1 2}} {{le 2 2}} {{gt "b" "a"}} {{ge 1 2}}', null, 'true true true true true false'],
    ['eq with several', '{{eq .S "a" "b" "c"}}', { S: 'c' }, 'true'],
    ['eq nil', '{{eq .Missing nil}}', {}, 'true'],
    ['html js urlquery', '{{html "<a&b>"}} {{js "it\'s"}} {{urlquery "a b&c"}}', null, "&lt;a&amp;b&gt; it\\'s a+b%26c"],
    ['define/template', '{{define "t"}}[{{.}}]{{end}}{{template "t" .A}}', { A: 1 }, '[1]'],
    ['block', '{{block "b" .}}<{{.}}>{{end}}', 'x', '<x>'],
    ['float printing', '{{.}}', 1234567.5, '1.2345675e+06'],
    ['json', '{{json .}}', { b: [1, 'x', null], a: { c: true } }, '{"a":{"c":true},"b":[1,"x",null]}'],
    ['json no html escape', '{{json .}}', '<&>', '"<&>"'],
    ['json struct', '{{json .}}', new Ctx(), '{"ID":"abc123","Name":"web"}'],
    ['split/join', '{{join (split .A ":") ","}}', { A: 'a:b:c' }, 'a,b,c'],
    ['title/lower/upper', '{{title "hello wORLD"}} {{lower "ABC"}} {{upper "abc"}}', null, 'Hello WORLD abc ABC'],
    ['pad', '[{{pad "x" 1 2}}][{{pad "" 1 2}}]', null, '[ x  ][]'],
    ['truncate', '{{truncate "abcdef" 3}} {{truncate "ab" 3}}', null, 'abc ab'],
  ];
  test.each(cases)('%s', (_name, t, data, want) => {
    expect(run(t, data)).toBe(want);
  });
});

describe('printf (Go fmt verbs)', () => {
  const cases: [string, string][] = [
    ['{{printf "%s|%v|%d" "a" "b" 42}}', 'a|b|42'],
    ['{{printf "%5d|%-5d|%05d|%+d" 42 42 42 42}}', '   42|42   |00042|+42'],
    ['{{printf "%x %X %o %b %c %U" 255 255 8 5 65 65}}', 'ff FF 10 101 A U+0041'],
    ['{{printf "%q %q" "hi\\n" 97}}', '"hi\\n" \'a\''],
    ['{{printf "%t %v" true false}}', 'true false'],
    ['{{printf "%.2f %f %e %g" 3.14159 1.5 1234.5678 0.000012}}', '3.14 1.500000 1.234568e+03 1.2e-05'],
    ['{{printf "%.3s|%8.3f" "abcdef" 3.14159}}', 'abc|   3.142'],
    ['{{printf "%x" "hi"}}', '6869'],
    ['{{printf "%d" "x"}}', '%!d(string=x)'],
    ['{{printf "%d %d" 1}}', '1 %!d(MISSING)'],
    ['{{printf "%d" 1 2}}', '1%!(EXTRA int=2)'],
    ['{{printf "%s" .}}', '[a b]'],
    ['{{printf "%v" .}}', '[a b]'],
    ['{{printf "%q" .}}', '["a" "b"]'],
    ['{{printf "100%%"}}', '100%'],
    ['{{printf "%.0f %.0f" 0.5 1.5}}', '0 2'],
    ['{{printf "%*d" 4 7}}', '   7'],
  ];
  test.each(cases)('%s', (t, want) => {
    expect(run(t, ['a', 'b'])).toBe(want);
  });
});

describe('errors have the shape of Go`s', () => {
  const exec: [string, unknown, string][] = [
    ['{{.Foo}}', new Ctx(), 'template: :1:2: executing "" at <.Foo>: can\'t evaluate field Foo in type Ctx'],
    ['{{.trunc}}', new Ctx(), 'template: :1:2: executing "" at <.trunc>: trunc is an unexported field of struct type Ctx'],
    ['{{.Name "x"}}', new Ctx(), 'template: :1:2: executing "" at <.Name>: Name has arguments but cannot be invoked as function'],
    ['{{.A.B}}', { A: 'str' }, 'template: :1:4: executing "" at <.A.B>: can\'t evaluate field B in type string'],
    ['{{.A.B}}', { A: null }, 'template: :1:4: executing "" at <.A.B>: nil pointer evaluating interface {}.B'],
    ['{{index .A 5}}', { A: [1] }, 'template: :1:2: executing "" at <index .A 5>: error calling index: index out of range: 5'],
    ['x\n {{len 3}}', null, 'template: :2:3: executing "" at <len 3>: error calling len: len of type int'],
    ['{{join .A ","}}', { A: [1] }, 'template: :1:7: executing "" at <.A>: wrong type for value; expected []string; got []interface {}'],
    ['{{upper .Missing}}', {}, 'template: :1:8: executing "" at <.Missing>: invalid value; expected string'],
    ['{{lt true false}}', null, 'template: :1:2: executing "" at <lt true false>: error calling lt: invalid type for comparison'],
    ['{{eq 1 "a"}}', null, 'template: :1:2: executing "" at <eq 1 "a">: error calling eq: incompatible types for comparison'],
    ['{{len}}', null, 'template: :1:2: executing "" at <len>: wrong number of args for len: want 1 got 0'],
    ['{{range .}}{{end}}', 'abc', 'template: :1:8: executing "" at <.>: range can\'t iterate over abc'],
    ['{{.ID "x"}}', new Ctx(), 'template: :1:2: executing "" at <.ID>: wrong number of args for ID: want 0 got 1'],
    ['{{upper 3}}', null, 'template: :1:8: executing "" at <3>: expected string; found 3'],
    ['{{truncate "x" "y"}}', null, 'template: :1:15: executing "" at <"y">: expected integer; found "y"'],
    ['{{.A.B.C}}', { A: { B: 1 } }, 'template: :1:4: executing "" at <.A.B.C>: can\'t evaluate field C in type int'],
    ['{{template "x"}}', null, 'template: :1:11: executing "" at <{{template "x"}}>: template "x" not defined'],
    ['{{1 2}}', null, 'template: :1:2: executing "" at <1>: can\'t give argument to non-function 1'],
  ];
  test.each(exec)('%s', (t, data, msg) => {
    let err: unknown;
    try {
      run(t, data);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(TemplateExecError);
    expect((err as Error).message).toBe(msg);
  });

  const parse: [string, string][] = [
    ['{{nope}}', 'template: :1: function "nope" not defined'],
    ['{{.A', 'template: :1: unclosed action'],
    ['{{if .A}}x', 'template: :1: unexpected EOF'],
    ['{{end}}', 'template: :1: unexpected {{end}}'],
    ['{{else}}', 'template: :1: unexpected {{else}}'],
    ['{{$x}}', 'template: :1: undefined variable "$x"'],
    ['{{if}}{{end}}', 'template: :1: missing value for if'],
    ['{{"abc}}', 'template: :1: unterminated quoted string'],
    ['{{/* x }}', 'template: :1: unclosed comment'],
    ['{{.A | 3}}', 'template: :1: non executable command in pipeline stage 2'],
    ['{{break}}', 'template: :1: {{break}} outside {{range}}'],
    ['{{3k}}', 'template: :1: illegal number syntax: "3k"'],
    ['a\n{{)}}', "template: :2: unexpected right paren U+0029 ')'"],
    ['{{.A %}}', "template: :1: unrecognized character in action: U+0025 '%'"],
  ];
  test.each(parse)('parse %s', (t, msg) => {
    expect(() => Template.parse(t)).toThrow(TemplateParseError);
    expect(() => Template.parse(t)).toThrow(msg);
  });

  test('missingkey=error and =zero', () => {
    expect(() => Template.parse('{{.A}}', { missingKey: 'error' }).execute({})).toThrow('map has no entry for key "A"');
    expect(Template.parse('{{.A}}', { missingKey: 'zero' }).execute({})).toBe('<no value>');
  });

  test('user functions and their errors', () => {
    const t = Template.parse('{{double .N}} {{boom}}', {
      funcs: {
        double: (n) => Number(n) * 2,
        boom: () => {
          throw new Error('bad');
        },
      },
    });
    expect(() => t.execute({ N: 2 })).toThrow('error calling boom: bad');
    expect(Template.parse('{{double .N}}', { funcs: { double: (n) => Number(n) * 2 } }).execute({ N: 2 })).toBe('4');
  });

  test('without docker functions, json is not defined', () => {
    expect(() => Template.parse('{{json .}}', { dockerFuncs: false })).toThrow('function "json" not defined');
  });
});

describe('limits', () => {
  test('output', () => {
    expect(() => Template.parse('{{range .}}xxxxxxxxxx{{end}}', { limits: { maxOutput: 1000 } }).execute(new Array(200).fill(0))).toThrow(TemplateLimitError);
  });
  test('steps', () => {
    expect(() => Template.parse('{{range .}}{{range $}}{{end}}{{end}}', { limits: { maxSteps: 10_000 } }).execute(new Array(1000).fill(0))).toThrow(/maxSteps/);
  });
  test('range over a huge int stops at the step limit', () => {
    expect(() => run('{{range 1000000000000}}{{end}}', null)).toThrow(/maxSteps/);
  });
  test('recursive templates', () => {
    expect(() => run('{{define "r"}}{{template "r" .}}{{end}}{{template "r" .}}', null)).toThrow('exceeded maximum template depth (100)');
  });
  test('nesting when parsing', () => {
    expect(() => Template.parse('{{if 1}}'.repeat(500) + '{{end}}'.repeat(500))).toThrow(/maxNesting/);
    expect(() => Template.parse('{{' + '('.repeat(1000) + '1' + ')'.repeat(1000) + '}}')).toThrow(/maxNesting/);
  });
  test('template length', () => {
    expect(() => Template.parse('x'.repeat(100), { limits: { maxTemplateLength: 10 } })).toThrow(/maxTemplateLength/);
  });
  test('printf width and pad counts', () => {
    expect(() => run('{{printf "%999999999d" 1}}', null)).toThrow(/maxOutput/);
    expect(() => run('{{pad "x" 999999999 0}}', null)).toThrow(/maxOutput/);
  });
  test('cyclic data', () => {
    const a: Record<string, unknown> = {};
    a.self = a;
    expect(() => run('{{.}}', a)).toThrow(/maxDepth/);
    expect(run('[{{json .}}]', a)).toBe('[]');
  });
});

describe('goQuote (Go strconv.Quote)', () => {
  it.each([
    ['plain', '"plain"'],
    ['a"b\\c', '"a\\"b\\\\c"'],
    ['\x07\b\f\n\r\t\v', '"\\a\\b\\f\\n\\r\\t\\v"'],
    ['\x01\x7f', '"\\x01\\x7f"'],
    ['\u00a0\u0085\u00ad\u200b\ufeff', '"\\u00a0\\u0085\\u00ad\\u200b\\ufeff"'],
    ['héllo ✓ 日本', '"héllo ✓ 日本"'],
  ])('%j', (input, quoted) => {
    expect(goQuote(input)).toBe(quoted);
  });
});
