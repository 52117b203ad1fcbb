/**
 * Property-based fuzzing of the template engine, the tabwriter and float formatting: any text
 * parses or is refused with a TemplateParseError/TemplateLimitError (never another exception);
 * a parsed template over any JSON-like data executes or fails with a TemplateExecError/
 * TemplateLimitError; hostile templates and data stay within the limits' time. Corpus:
 * test/fuzz-corpus/template/*.bin (a template text; replayed over a fixed data value).
 */
import * as path from 'node:path';
import * as fc from 'fast-check';
import { corpusFiles, fuzz, fuzzTimeout } from '../../../tools/fuzz/support';
import { formatFloat, tabwrite, Template, TemplateExecError, TemplateLimitError, TemplateParseError } from '../src';

const CORPUS = path.join(__dirname, 'fuzz-corpus', 'template');
const LIMITS = { maxSteps: 20_000, maxOutput: 1 << 16 };

const DATA = { A: 'a', B: [1, 2, { C: 'c' }], M: { k: 'v', n: null }, N: 3, F: 1.5, T: true, E: [] as unknown[] };

/** Parse and run; only the engine's own errors are allowed. */
function check(text: string, data: unknown): void {
  let t: Template;
  try {
    t = Template.parse(text, { limits: LIMITS });
  } catch (e) {
    if (e instanceof TemplateParseError || e instanceof TemplateLimitError) return;
    throw e;
  }
  try {
    const out = t.execute(data);
    if (typeof out !== 'string' || out.length > LIMITS.maxOutput) throw new Error('output over the limit');
  } catch (e) {
    if (e instanceof TemplateExecError || e instanceof TemplateLimitError) return;
    throw e;
  }
}

const FRAGMENTS = [
  '{{',
  '}}',
  '{{- ',
  ' -}}',
  ' ',
  '.',
  '.A',
  '.B',
  '.M',
  '.M.k',
  '.N',
  '.Nope',
  '$',
  '$x',
  '$x := ',
  '$i, $v := ',
  '$x = ',
  '|',
  '(',
  ')',
  '"s"',
  '`r`',
  "'c'",
  '1',
  '-2',
  '1.5',
  '0x1f',
  'true',
  'nil',
  'if ',
  'else',
  'else if ',
  'end',
  'range ',
  'with ',
  'break',
  'continue',
  'define "t"',
  'template "t"',
  'block "b" .',
  'len ',
  'index ',
  'slice ',
  'printf "%v %d %s" ',
  'print ',
  'println ',
  'eq ',
  'lt ',
  'and ',
  'or ',
  'not ',
  'json ',
  'split ',
  'join ',
  'upper ',
  'pad ',
  'truncate ',
  'html ',
  'js ',
  'urlquery ',
  '/* c */',
  'text',
  '\n',
];
const grammarText = fc.array(fc.constantFrom(...FRAGMENTS), { maxLength: 40 }).map((a) => a.join(''));

const jsonValue = fc.letrec((tie) => ({
  v: fc.oneof(
    { depthSize: 'small' },
    fc.constant(null),
    fc.boolean(),
    fc.integer(),
    fc.double(),
    fc.string(),
    fc.array(tie('v'), { maxLength: 5 }),
    fc.dictionary(fc.constantFrom('A', 'B', 'M', 'N', 'k', 'x'), tie('v'), { maxKeys: 4 }),
  ),
})).v;

describe('template fuzzing', () => {
  test(
    'any text parses or is refused; running it fails only with template errors',
    () => {
      fuzz(fc.string({ maxLength: 200 }), (s) => check(s, DATA), { numRuns: 3000, sampleTimeout: 1000, corpus: { dir: CORPUS, bytes: (s) => Buffer.from(s) } });
    },
    fuzzTimeout,
  );
  test(
    'templates from the grammar over random data',
    () => {
      fuzz(fc.tuple(grammarText, jsonValue), ([s, d]) => check(s, d), {
        numRuns: 3000,
        sampleTimeout: 1000,
        corpus: { dir: CORPUS, bytes: ([s]) => Buffer.from(s) },
      });
    },
    fuzzTimeout,
  );
  test('hostile inputs are refused or bounded quickly', () => {
    const hostile = [
      '{{' + '('.repeat(100_000),
      '{{if 1}}'.repeat(50_000),
      '{{range .B}}'.repeat(150) + '{{range $.B}}x{{end}}' + '{{end}}'.repeat(150),
      '{{define "a"}}{{template "a" .}}{{template "a" .}}{{end}}{{template "a" .}}',
      '{{/*' + 'x'.repeat(500_000),
      '{{"' + '\\'.repeat(500_000),
      '{{printf "%99999999s" "x"}}',
      '{{range 1000000000}}{{range 1000000000}}{{end}}{{end}}',
    ];
    for (const h of hostile) {
      const t0 = process.cpuUsage();
      check(h, DATA);
      const cpu = process.cpuUsage(t0);
      expect((cpu.user + cpu.system) / 1000).toBeLessThan(3000);
    }
  });
});

describe('tabwriter and float properties', () => {
  test(
    'tabwriter keeps every line and its text; second cells of consecutive lines start at one offset',
    () => {
      const cell = fc.string({ minLength: 1, maxLength: 8, unit: 'grapheme-ascii' }).map((s) => s.replace(/[\t\n ]/g, 'x'));
      const lines = fc.array(fc.array(cell, { minLength: 1, maxLength: 4 }), { maxLength: 8 });
      fuzz(
        lines,
        (ls) => {
          const out = tabwrite(ls.map((cells) => cells.join('\t')).join('\n')).split('\n');
          expect(out.length).toBe(ls.length === 0 ? 1 : ls.length);
          ls.forEach((cells, i) => expect(out[i].replace(/ /g, '')).toBe(cells.join('')));
          const secondCell = (i: number): number => {
            let p = ls[i][0].length;
            while (out[i][p] === ' ') p++;
            return p;
          };
          for (let i = 1; i < ls.length; i++) {
            if (ls[i].length < 2 || ls[i - 1].length < 2) continue;
            expect(secondCell(i)).toBe(secondCell(i - 1));
            expect(secondCell(i)).toBeGreaterThanOrEqual(Math.max(10, ls[i][0].length + 3));
          }
        },
        { numRuns: 500 },
      );
    },
    fuzzTimeout,
  );
  test(
    "formatFloat(v, 'g', -1) round-trips",
    () => {
      fuzz(
        fc.double({ noNaN: true, noDefaultInfinity: true }),
        (v) => {
          expect(Number(formatFloat(v, 'g', -1)) === v).toBe(true);
          expect(Number(formatFloat(v, 'e', -1)) === v).toBe(true);
        },
        { numRuns: 2000 },
      );
    },
    fuzzTimeout,
  );
});

describe('float rounding', () => {
  test(
    "formatFloat 'f' and 'e' with a precision agree with JS's exact rounding but on ties (Go rounds them to even)",
    () => {
      fuzz(
        fc.tuple(fc.double({ noNaN: true, noDefaultInfinity: true, min: -1e15, max: 1e15 }), fc.integer({ min: 0, max: 12 })),
        ([v, p]) => {
          const ours = formatFloat(v, 'f', p);
          const js = v.toFixed(p);
          // the same decimals, or one unit apart in the last place (a tie)
          const units = (x: string): bigint => BigInt(x.replace('.', ''));
          const diff = units(ours) - units(js);
          expect(diff >= -1n && diff <= 1n).toBe(true);
          const e = formatFloat(v, 'e', p);
          expect(Math.abs(Number(e) - v)).toBeLessThanOrEqual(Math.abs(v) * 10 ** -p + Number.MIN_VALUE);
        },
        { numRuns: 2000 },
      );
    },
    fuzzTimeout,
  );
});

describe('fuzz corpus replay', () => {
  const files = corpusFiles(CORPUS);
  test.each(files.length > 0 ? files.map((f) => [f.name, f.bytes] as const) : [['(empty)', Buffer.alloc(0)] as const])('%s', (_n, bytes) => {
    check(bytes.toString('utf8'), DATA);
  });
});
