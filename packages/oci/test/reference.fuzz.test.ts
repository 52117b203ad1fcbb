/**
 * Property-based fuzzing of the image reference parser (src/reference.ts): any string is
 * a reference or a InvalidReferenceError; normalising is idempotent and its output is a full reference
 * (domain/path[:tag][@digest]); the familiar form normalises back; references built from the
 * grammar's parts are accepted as written. Corpus: test/fuzz-corpus/reference/*.bin.
 */
import * as path from 'node:path';
import * as fc from 'fast-check';
import { corpusFiles, fuzz, fuzzTimeout } from '../../../tools/fuzz/support';
import { familiarReference, normalizeReference, parseReference, InvalidReferenceError } from '../src/reference';

const CORPUS = path.join(__dirname, 'fuzz-corpus', 'reference');
const FULL = /^[a-zA-Z0-9.:[\]-]+\/[a-z0-9._/-]+(:[\w][\w.-]{0,127})?(@[a-z0-9.+_-]+:[a-zA-Z0-9=_-]{32,})?$/;

/** Normalised, or refused with a InvalidReferenceError; if normalised, the properties hold. */
function check(input: string): void {
  let norm: string;
  try {
    norm = normalizeReference(input);
  } catch (e) {
    if (e instanceof InvalidReferenceError) return;
    throw e;
  }
  expect(norm).toMatch(FULL);
  expect(normalizeReference(norm)).toBe(norm);
  const familiar = familiarReference(norm);
  // Docker's familiar form has one ambiguity, kept as Docker has it: docker.io/a.b/c shows as
  // "a.b/c", which reads back as registry a.b
  const first = familiar.split('/')[0]!;
  const ambiguous = norm.startsWith('docker.io/') && familiar.includes('/') && (first.includes('.') || first.includes(':') || first === 'localhost');
  if (!ambiguous) expect(normalizeReference(familiar)).toBe(norm);
}

const lower = fc.string({ unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz0123456789'.split('')), minLength: 1, maxLength: 10 });
const component = fc
  .tuple(lower, fc.array(fc.tuple(fc.constantFrom('.', '_', '__', '-', '--'), lower), { maxLength: 2 }))
  .map(([h, t]) => h + t.map(([s, x]) => s + x).join(''));
const domain = fc.oneof(
  fc.constantFrom('docker.io', 'localhost', 'localhost:5000', 'example.com', 'reg.example.com:443', '[::1]:5000'),
  fc.tuple(lower, lower).map(([a, b]) => `${a}.${b}`),
);
const tag = fc.stringMatching(/^[\w][\w.-]{0,30}$/);
const digest = fc.string({ unit: fc.constantFrom(...'0123456789abcdef'.split('')), minLength: 64, maxLength: 64 }).map((h) => `sha256:${h}`);

describe('reference fuzzing', () => {
  it(
    'any string is a reference (normalised idempotently) or a InvalidReferenceError',
    () => {
      const text = fc.oneof(
        fc.string({ maxLength: 80 }),
        fc.string({ unit: fc.constantFrom(...'abcAB09./:@_-[]'.split('')), maxLength: 60, size: 'max' }),
        fc.constantFrom('', '/', ':', '@', 'a@', 'a:', 'A/b', 'a/B', 'docker.io/library/busybox:latest', 'localhost/x@sha256:' + '0'.repeat(64)),
      );
      fuzz(text, check, { numRuns: 2000, corpus: { dir: CORPUS, bytes: (s) => Buffer.from(s) } });
    },
    fuzzTimeout,
  );

  it(
    'references built from the grammar are accepted with their parts',
    () => {
      const ref = fc
        .record({
          domain: fc.option(domain, { nil: undefined }),
          path: fc.array(component, { minLength: 1, maxLength: 3 }),
          tag: fc.option(tag, { nil: undefined }),
          digest: fc.option(digest, { nil: undefined }),
        })
        // without a domain, a first component that looks like a host ("a.b", "localhost") is one
        .filter((r) => r.domain !== undefined || r.path.length === 1 || !(r.path[0]!.includes('.') || r.path[0] === 'localhost'));
      fuzz(
        ref,
        (r) => {
          const text = `${r.domain ? `${r.domain}/` : ''}${r.path.join('/')}${r.tag ? `:${r.tag}` : ''}${r.digest ? `@${r.digest}` : ''}`;
          if (text.length > 255) return;
          const p = parseReference(text);
          const dom = r.domain === undefined || r.domain === 'index.docker.io' ? 'docker.io' : r.domain;
          expect(p.domain).toBe(dom);
          expect(p.path).toBe(dom === 'docker.io' && r.path.length === 1 ? `library/${r.path[0]}` : r.path.join('/'));
          expect(p.tag).toBe(r.tag ?? (r.digest ? undefined : 'latest'));
          expect(p.digest).toBe(r.digest);
          check(text);
        },
        { numRuns: 1000, corpus: { dir: CORPUS, bytes: (r) => Buffer.from(JSON.stringify(r)) } },
      );
    },
    fuzzTimeout,
  );
});

describe('reference fuzz corpus replay', () => {
  const files = corpusFiles(CORPUS);
  it('has entries', () => expect(files.length).toBeGreaterThan(0));
  for (const f of files) it(`${f.name}: a reference or a InvalidReferenceError`, () => check(f.bytes.toString('utf8')));
});
