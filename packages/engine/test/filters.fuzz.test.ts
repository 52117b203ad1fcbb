/**
 * Property-based fuzzing of the engine's query parsers: both `filters` parsers (images', and the
 * containers/networks/volumes/events one), reference glob patterns, time filters and image names.
 * Any input gives a result or an invalid-argument error (400), never another exception; a well-formed filter
 * document reads back as written; a glob answers in bounded time whatever the pattern.
 * Corpus: test/fuzz-corpus/filters/*.bin (JSON filter documents that once broke a parser).
 */
import * as path from 'node:path';
import * as fc from 'fast-check';
import { corpusFiles, fuzz, fuzzTimeout } from '../../../tools/fuzz/support';
import { errdefs, KindError } from '@gantry/linux';
import { globToRegExp, parseTimeFilter } from '../src/images/filters';
import { normalizeOrBadRequest, repoTagReference } from '../src/images/names';
import { parseFilters } from '../src/routes/list-filters';

const CORPUS = path.join(__dirname, 'fuzz-corpus', 'filters');
const IMAGE_KEYS = ['dangling', 'label', 'reference', 'before', 'since', 'until'];

/** `f()` returns, or throws an invalid-argument error; anything else fails the property. */
function okOr400<T>(f: () => T): T | undefined {
  try {
    return f();
  } catch (e) {
    if (e instanceof KindError && errdefs.isInvalidArgument(e)) return undefined;
    throw e;
  }
}

const key = fc.oneof(fc.constantFrom(...IMAGE_KEYS, '__proto__', 'constructor', 'toString', 'status', 'label'), fc.string({ maxLength: 12 }));
const value = fc.string({ maxLength: 20 });
/** A filter document in either of Docker's forms, as JSON text. */
const filterDoc = fc.dictionary(key, fc.oneof(fc.array(value, { maxLength: 3 }), fc.dictionary(value, fc.boolean(), { maxKeys: 3 })), { maxKeys: 4 });
/** Any JSON, or text that is almost JSON. */
const anyFilterText = fc.oneof(
  filterDoc.map((d) => JSON.stringify(d)),
  fc.json({ maxDepth: 3 }),
  fc.string({ maxLength: 60 }),
  filterDoc.chain((d) => fc.nat().map((n) => JSON.stringify(d).slice(0, n))),
);

function replay(text: string): void {
  const f = okOr400(() => parseFilters(text, IMAGE_KEYS));
  for (const p of f?.reference ?? []) okOr400(() => globToRegExp(p).test('docker.io/library/busybox:latest'));
  okOr400(() => parseFilters(new URLSearchParams({ filters: text })));
}

describe('engine filter fuzzing', () => {
  it(
    "the filters parser with a route's names (images) returns or answers 400, and reads a well-formed document back",
    () => {
      fuzz(anyFilterText, (t) => void okOr400(() => parseFilters(t, IMAGE_KEYS)), { numRuns: 500, corpus: { dir: CORPUS, bytes: (t) => Buffer.from(t) } });
      fuzz(
        filterDoc,
        (d) => {
          const f = okOr400(() => parseFilters(JSON.stringify(d), IMAGE_KEYS));
          const keys = Object.keys(d);
          if (keys.some((k) => !IMAGE_KEYS.includes(k))) return expect(f).toBeUndefined();
          expect(f && Object.keys(f).sort()).toEqual(keys.sort());
          // the map form's keys whatever their value, as moby's filters.Args.Get returns them
          for (const k of keys) {
            const v = d[k]!;
            expect(f![k]).toEqual(Array.isArray(v) ? v : Object.keys(v));
          }
        },
        { numRuns: 300, corpus: { dir: CORPUS, bytes: (d) => Buffer.from(JSON.stringify(d)) } },
      );
    },
    fuzzTimeout,
  );

  it(
    'the list filters parser (containers, networks, volumes, events) keeps every key as an own key',
    () => {
      fuzz(anyFilterText, (t) => void okOr400(() => parseFilters(new URLSearchParams({ filters: t }))), {
        numRuns: 500,
        corpus: { dir: CORPUS, bytes: (t) => Buffer.from(t) },
      });
      fuzz(
        filterDoc,
        (d) => {
          const f = parseFilters(new URLSearchParams({ filters: JSON.stringify(d) }));
          // "__proto__" included: a key, never the object's prototype
          expect(Object.keys(f).sort()).toEqual(Object.keys(d).sort());
          expect(Object.getPrototypeOf(f)).toBeNull();
        },
        { numRuns: 300, corpus: { dir: CORPUS, bytes: (d) => Buffer.from(JSON.stringify(d)) } },
      );
    },
    fuzzTimeout,
  );

  it(
    'a reference glob compiles or is a 400, and matches a long name in bounded time',
    () => {
      const pattern = fc.string({ unit: fc.constantFrom('*', '?', '[', ']', '^', '-', '\\', '/', 'a', 'b', ':', '.'), maxLength: 40, size: 'max' });
      const subject = fc.string({ unit: fc.constantFrom('a', 'b', '/', ':', '.', '-'), maxLength: 300, size: 'max' });
      fuzz(
        fc.tuple(pattern, subject),
        ([p, s]) => {
          const g = okOr400(() => globToRegExp(p));
          if (!g) return;
          const started = performance.now();
          g.test(s);
          expect(performance.now() - started).toBeLessThan(250);
        },
        { numRuns: 500 },
      );
      // the classic catastrophic case for a backtracking matcher
      const g = globToRegExp(`${'*a'.repeat(30)}b`);
      const started = performance.now();
      expect(g.test('a'.repeat(300))).toBe(false);
      expect(performance.now() - started).toBeLessThan(250);
    },
    fuzzTimeout,
  );

  it('glob semantics: literal, *, ?, classes, escapes; * never crosses "/"', () => {
    const cases: [string, string, boolean][] = [
      ['busybox:*', 'busybox:latest', true],
      ['busybox*', 'busybox/x', false],
      ['*/*', 'a/b', true],
      ['b?sybox', 'busybox', true],
      ['[a-c]x', 'bx', true],
      ['[^a-c]x', 'bx', false],
      ['\\*', '*', true],
      ['\\*', 'a', false],
      ['a.b', 'axb', false],
    ];
    for (const [p, s, want] of cases) expect({ p, s, got: globToRegExp(p).test(s) }).toEqual({ p, s, got: want });
    for (const p of ['[', '[]', '[z-a]', 'a\\']) expect(() => globToRegExp(p)).toThrow(KindError);
  });

  it(
    'time filters and image names return or answer 400',
    () => {
      fuzz(fc.string({ maxLength: 40 }), (v) => void okOr400(() => parseTimeFilter(v, 'until')), { numRuns: 500 });
      fuzz(fc.oneof(fc.string({ maxLength: 80 }), fc.stringMatching(/^[a-z0-9.:/@_-]{0,80}$/)), (v) => void okOr400(() => normalizeOrBadRequest(v)), {
        numRuns: 500,
      });
      fuzz(fc.tuple(fc.string({ maxLength: 60 }), fc.string({ maxLength: 20 })), ([r, t]) => void okOr400(() => repoTagReference(r, t)), { numRuns: 500 });
    },
    fuzzTimeout,
  );
});

describe('engine filters fuzz corpus replay', () => {
  const files = corpusFiles(CORPUS);
  it('has entries', () => expect(files.length).toBeGreaterThan(0));
  for (const f of files) it(`${f.name}: parsed or a 400`, () => replay(f.bytes.toString('utf8')));
});
