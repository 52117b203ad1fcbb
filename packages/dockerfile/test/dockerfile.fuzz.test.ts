/**
 * Property-based fuzzing of the Dockerfile parser, the word expander, .dockerignore and globs:
 * any text is a Dockerfile or a DockerfileSyntaxError (never another exception, never slow);
 * Dockerfiles built from the grammar parse to what they were built from; quoting round-trips
 * through expansion; any .dockerignore compiles or is refused, and its matcher never throws.
 * Pathological inputs of 1 MB parse or fail well under a second. Corpus:
 * test/fuzz-corpus/{dockerfile,dockerignore}/*.bin.
 */
import * as path from 'node:path';
import * as fc from 'fast-check';
import { corpusFiles, fuzz, fuzzTimeout } from '../../../tools/fuzz/support';
import {
  BadPatternError,
  compileDockerignore,
  DockerfileSyntaxError,
  DockerignoreError,
  expandWord,
  matchGlob,
  parseDockerfile,
  ShellExpansionError,
  type Dockerfile,
} from '../src';

const DF_CORPUS = path.join(__dirname, 'fuzz-corpus', 'dockerfile');
const IGNORE_CORPUS = path.join(__dirname, 'fuzz-corpus', 'dockerignore');

/** Parsed, or refused with a DockerfileSyntaxError; if parsed, the result is well-formed. */
function checkDockerfile(text: string): void {
  let df: Dockerfile;
  try {
    df = parseDockerfile(text);
  } catch (e) {
    if (!(e instanceof DockerfileSyntaxError)) throw e;
    expect(e.line).toBeGreaterThanOrEqual(1);
    return;
  }
  const lines = text.split('\n').length;
  expect(df.stages.length).toBeGreaterThan(0);
  // plain checks in the loop, one expect at the end: 100k expect() calls would be the slow part
  const bad: string[] = [];
  df.stages.forEach((s, i) => {
    if (s.index !== i) bad.push(`stage ${i} has index ${s.index}`);
    for (const instr of [s.from, ...s.instructions]) {
      if (!(instr.line >= 1 && instr.endLine >= instr.line && instr.endLine <= lines))
        bad.push(`${instr.kind} lines ${instr.line}-${instr.endLine} of ${lines}`);
      if (instr.original.includes('\n')) bad.push(`${instr.kind} original has a newline`);
    }
  });
  expect(bad.slice(0, 5)).toEqual([]);
}

function parseOrRefuse(text: string): void {
  try {
    parseDockerfile(text);
  } catch (e) {
    if (!(e instanceof DockerfileSyntaxError)) throw e;
  }
}

/** CPU time of f in ms: on this shared machine wall time measures the other tenants too. */
function cpuMs(f: () => void): number {
  const before = process.cpuUsage();
  f();
  const used = process.cpuUsage(before);
  return (used.user + used.system) / 1000;
}

/** Dockerfile-ish text: keywords, the characters the parser cares about, line breaks. */
const dockerfileText = fc.oneof(
  fc.string({ maxLength: 200 }),
  fc
    .array(
      fc.oneof(
        fc.constantFrom(
          'FROM ',
          'RUN ',
          'COPY ',
          'ADD ',
          'ENV ',
          'ARG ',
          'LABEL ',
          'CMD ',
          'ENTRYPOINT ',
          'ONBUILD ',
          'HEALTHCHECK ',
          'SHELL ',
          'EXPOSE ',
          'WORKDIR ',
        ),
        fc.constantFrom(
          '\n',
          '\r\n',
          ' ',
          '\t',
          '\\',
          '`',
          '#',
          '# escape=`',
          '$',
          '${',
          '}',
          ':-',
          '"',
          "'",
          '[',
          ']',
          '","',
          '=',
          '<<',
          '<<-',
          'EOF',
          '--from=',
          '--',
          'AS ',
          'a',
          'b',
        ),
        fc.string({ maxLength: 6 }),
      ),
      { maxLength: 60 },
    )
    .map((parts) => parts.join('')),
);

describe('Dockerfile fuzzing', () => {
  it(
    'any text is a Dockerfile or a DockerfileSyntaxError',
    () => {
      fuzz(dockerfileText, checkDockerfile, { numRuns: 3000, sampleTimeout: 1000, corpus: { dir: DF_CORPUS, bytes: (s) => Buffer.from(s) } });
    },
    fuzzTimeout,
  );

  it(
    'Dockerfiles built from the grammar parse to what they were built from',
    () => {
      const name = fc.stringMatching(/^[a-z][a-z0-9_]{0,8}$/);
      const value = fc.string({ maxLength: 12 }).filter((v) => !/[\n\r]/.test(v));
      const instr = fc.oneof(
        fc.tuple(name, value).map(([k, v]) => gen('ENV', `ENV ${k}=${dq(v)}`, k, v)),
        fc.tuple(name, value).map(([k, v]) => gen('LABEL', `LABEL ${dq(k)}=${dq(v)}`, k, v)),
        fc.array(value, { minLength: 1, maxLength: 3 }).map((argv) => gen('RUN', `RUN ${JSON.stringify(argv)}`, '', '', argv)),
        fc.tuple(name, name).map(([a, b]) => gen('COPY', `COPY ${a} \\\n    /${b}`, a, `/${b}`)),
      );
      fuzz(
        fc.array(instr, { minLength: 1, maxLength: 8 }),
        (instrs) => {
          const df = parseDockerfile(['FROM scratch', ...instrs.map((i) => i.text)].join('\n'));
          const got = df.stages[0]!.instructions;
          expect(got.map((g) => g.kind)).toEqual(instrs.map((i) => i.kind));
          let line = 2;
          got.forEach((g, n) => {
            const want = instrs[n]!;
            expect(g.line).toBe(line);
            line = g.endLine + 1;
            if (g.kind === 'ENV' || g.kind === 'LABEL') {
              expect(expandWord(g.pairs[0]!.key, {})).toBe(want.key);
              expect(expandWord(g.pairs[0]!.value, {})).toBe(want.value);
            } else if (g.kind === 'RUN') expect(g.command).toEqual({ form: 'exec', argv: want.argv });
            else if (g.kind === 'COPY') expect([g.sources, g.dest]).toEqual([[want.key], want.value]);
          });
        },
        { numRuns: 1000, corpus: { dir: DF_CORPUS, bytes: (v) => Buffer.from(JSON.stringify(v)) } },
      );
    },
    fuzzTimeout,
  );

  it(
    'any word expands or is a ShellExpansionError; plain words and quoted text expand to themselves',
    () => {
      const env = { A: 'x', EMPTY: '' };
      fuzz(
        fc.oneof(
          fc.string({ maxLength: 60 }),
          fc.array(fc.constantFrom('$', '{', '}', 'A', ':', '-', '+', '?', '#', '%', '/', '"', "'", '\\', 'a', ' '), { maxLength: 30 }).map((a) => a.join('')),
        ),
        (w) => {
          try {
            expect(typeof expandWord(w, env)).toBe('string');
          } catch (e) {
            if (!(e instanceof ShellExpansionError)) throw e;
          }
          if (!/[$'"\\<]/.test(w)) expect(expandWord(w, env)).toBe(w);
          if (!w.includes("'")) expect(expandWord(`'${w}'`, env)).toBe(w);
          expect(expandWord(dq(w), env)).toBe(w);
        },
        { numRuns: 3000, corpus: { dir: DF_CORPUS, bytes: (s) => Buffer.from(s) } },
      );
    },
    fuzzTimeout,
  );
});

/** One generated instruction and what it should parse to. */
function gen(
  kind: string,
  text: string,
  key: string,
  value: string,
  argv: string[] = [],
): { kind: string; text: string; key: string; value: string; argv: string[] } {
  return { kind, text, key, value, argv };
}

/** A value written as a double-quoted Dockerfile word that expands back to itself. */
function dq(v: string): string {
  return `"${v.replace(/[\\"$]/g, '\\$&')}"`;
}

describe('.dockerignore and glob fuzzing', () => {
  const pathArb = fc.array(fc.constantFrom('a', 'b', 'ab', '.x', 'a*', 'c.go', '..'), { minLength: 1, maxLength: 5 }).map((p) => p.join('/'));
  const patternText = fc.oneof(
    fc.string({ maxLength: 80 }),
    fc
      .array(fc.oneof(fc.constantFrom('*', '**', '?', '!', '/', '[', ']', '^', '-', '\\', '#', '\n', ' ', '.', 'a', 'b'), pathArb), { maxLength: 25 })
      .map((a) => a.join('')),
  );

  it(
    'any .dockerignore compiles or is refused, and its matcher never throws',
    () => {
      fuzz(
        fc.tuple(patternText, fc.array(pathArb, { maxLength: 5 })),
        ([text, paths]) => {
          let m;
          try {
            m = compileDockerignore(text);
          } catch (e) {
            if (e instanceof DockerignoreError) return;
            throw e;
          }
          for (const p of paths) {
            expect(typeof m(p)).toBe('boolean');
            expect(typeof m.mustWalk(p)).toBe('boolean');
          }
        },
        { numRuns: 2000, sampleTimeout: 1000, corpus: { dir: IGNORE_CORPUS, bytes: ([t]) => Buffer.from(t) } },
      );
    },
    fuzzTimeout,
  );

  it(
    'a literal path pattern excludes the path and everything under it; a later exception takes it back',
    () => {
      const literal = fc.array(fc.stringMatching(/^[a-z0-9_.-]{1,6}$/), { minLength: 1, maxLength: 4 }).filter((a) => a.every((s) => s !== '.' && s !== '..'));
      fuzz(
        literal,
        (parts) => {
          const p = parts.join('/');
          const m = compileDockerignore(`${p}\n`);
          expect(m(p)).toBe(true);
          expect(m(`${p}/child`)).toBe(true);
          expect(compileDockerignore(`${p}\n!${p}\n`)(p)).toBe(false);
          expect(matchGlob(p, p)).toBe(true);
        },
        { numRuns: 1000 },
      );
    },
    fuzzTimeout,
  );

  it(
    'matchGlob answers or refuses the pattern',
    () => {
      fuzz(
        fc.tuple(patternText, pathArb),
        ([pattern, name]) => {
          try {
            expect(typeof matchGlob(pattern, name)).toBe('boolean');
          } catch (e) {
            if (!(e instanceof BadPatternError)) throw e;
          }
        },
        { numRuns: 2000, sampleTimeout: 1000 },
      );
    },
    fuzzTimeout,
  );
});

describe('pathological inputs (1 MB)', () => {
  const MB = 1 << 20;
  const cases: [string, () => string][] = [
    ['one instruction continued over 1 MB of lines', () => 'FROM a\nRUN x \\\n' + 'y \\\n'.repeat(MB / 4)],
    ['100k instructions', () => 'FROM a\n' + 'RUN x\n'.repeat(MB / 6)],
    ['comment lines', () => '#\n'.repeat(MB / 2) + 'FROM a'],
    ['blank continuation lines', () => 'FROM a\nRUN x\\\n' + ' \n'.repeat(MB / 2)],
    ['a 1 MB line', () => 'FROM a\nRUN ' + 'x'.repeat(MB)],
    ['lines just under 64 KiB', () => 'FROM a\n' + `RUN ${'$'.repeat(65000)}\n`.repeat(16)],
    ['nested substitutions in ENV', () => 'FROM a\nENV A=' + '${a:-\\\n'.repeat(MB / 8)],
    ['JSON brackets', () => 'FROM a\nCMD ' + '[\\\n'.repeat(MB / 3)],
    ['heredoc openers', () => 'FROM a\nRUN ' + '<<E \\\n'.repeat(MB / 7)],
    ['a long heredoc', () => 'FROM a\nRUN <<EOF\n' + 'line\n'.repeat(MB / 5) + 'EOF\n'],
    ['quotes in ENV words', () => 'FROM a\nENV A="' + '\\"x'.repeat(MB / 3) + '"'],
    ['flags', () => 'FROM a\nCOPY ' + '--from=x \\\n'.repeat(MB / 11) + 'a b'],
    ['directive-like first line', () => `# escape=${' '.repeat(60000)}x\nFROM a`],
  ];
  it.each(cases)('%s: parses or fails within a second', (_name, make) => {
    const text = make();
    // the parse alone is timed; the checks after it are the test's
    expect(cpuMs(() => parseOrRefuse(text))).toBeLessThan(1000);
    checkDockerfile(text);
  });

  it('a hostile .dockerignore stays fast on long paths', () => {
    const m = compileDockerignore(`${'*a'.repeat(20)}b\n${'**/'.repeat(30)}x*y*z\n!${'?'.repeat(50)}`);
    const longPath = ['a'.repeat(3000), 'a'.repeat(1000)].join('/');
    expect(cpuMs(() => expect(m(longPath)).toBe(false))).toBeLessThan(1000);
  });

  it('a hostile ${VAR#pattern} stays fast on a long value', () => {
    const ms = cpuMs(() => {
      expect(expandWord(`\${V##${'*a'.repeat(20)}b}`, { V: 'a'.repeat(20000) })).toBe('a'.repeat(20000));
      expect(expandWord(`\${V//${'*a'.repeat(20)}b/x}`, { V: 'a'.repeat(5000) })).toBe('a'.repeat(5000));
    });
    expect(ms).toBeLessThan(1000);
  });
});

describe('fuzz corpus replay', () => {
  const dfFiles = corpusFiles(DF_CORPUS);
  const ignoreFiles = corpusFiles(IGNORE_CORPUS);
  it('has entries', () => expect(dfFiles.length + ignoreFiles.length).toBeGreaterThan(0));
  for (const f of dfFiles) it(`dockerfile/${f.name}: a Dockerfile or a DockerfileSyntaxError`, () => checkDockerfile(f.bytes.toString('utf8')));
  for (const f of ignoreFiles)
    it(`dockerignore/${f.name}: compiles or is refused`, () => {
      try {
        const m = compileDockerignore(f.bytes.toString('utf8'));
        expect(typeof m('a/b')).toBe('boolean');
      } catch (e) {
        expect(e).toBeInstanceOf(DockerignoreError);
      }
    });
});
