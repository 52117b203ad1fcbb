/**
 * The builder's pure parts: POST /build's query, the JSON messages it streams (an error before
 * any output stays an HTTP error), and the builder store's records across a reload (a corrupt
 * one is quarantined and starts empty).
 */
import * as fs from 'node:fs';
import type { ServerResponse } from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { Logger } from '@gantry/linux';
import { BuilderStore } from '../src/build/builder-store';
import { BuildOutput } from '../src/build/output';
import { parseBuildQuery } from '../src/build/serve';

describe('POST /build query', () => {
  it('reads tags, flags, build args and labels as the docker CLI sends them', () => {
    const q = new URLSearchParams();
    q.append('t', 'app:v1');
    q.append('t', 'localhost:5000/app');
    q.set('q', '1');
    q.set('nocache', '1');
    q.set('pull', '0');
    q.set('target', 'build');
    q.set('dockerfile', 'sub/Dockerfile.dev');
    q.set('buildargs', JSON.stringify({ A: 'x', B: null }));
    q.set('labels', JSON.stringify({ 'org.x': 'y' }));
    q.set('networkmode', 'none');
    const r = parseBuildQuery(q);
    expect(r.tags).toEqual(['docker.io/library/app:v1', 'localhost:5000/app:latest']);
    expect(r.quiet).toBe(true);
    expect(r.dockerfile).toBe('sub/Dockerfile.dev');
    expect(r.opts).toEqual({ target: 'build', noCache: true, pull: false, buildArgs: { A: 'x', B: null }, labels: { 'org.x': 'y' }, networkMode: 'none' });
  });

  it('defaults: Dockerfile, the default network, no tags', () => {
    const r = parseBuildQuery(new URLSearchParams());
    expect(r).toEqual({
      tags: [],
      dockerfile: 'Dockerfile',
      quiet: false,
      opts: { noCache: false, pull: false, buildArgs: {}, labels: {}, networkMode: 'default' },
    });
  });

  it.each([
    ['t', 'UPPER:case', /repository name must be lowercase|invalid reference/],
    ['t', 'app@sha256:' + 'a'.repeat(64), /digest/],
    ['buildargs', '{"A": 1}', /invalid buildargs/],
    ['buildargs', 'not json', /invalid buildargs parameter: not JSON/],
    ['labels', '["a"]', /invalid labels/],
    ['remote', 'https://example.com/ctx.tar', /remote build contexts are not supported/],
    ['platform', 'linux/s390x', /not supported/],
  ])('%s=%s is a 400', (k, v, msg) => {
    const q = new URLSearchParams();
    q.set(k, v);
    let err: unknown;
    try {
      parseBuildQuery(q);
    } catch (e) {
      err = e;
    }
    expect((err as Error).message).toMatch(msg);
    expect((err as { kind?: string }).kind).toBe('invalid-argument');
  });
});

/** A ServerResponse stand-in recording what was written. */
function fakeResponse() {
  const rec = { status: 0, chunks: [] as string[], ended: false };
  const res = {
    get headersSent() {
      return rec.status !== 0;
    },
    writableEnded: false,
    destroyed: false,
    writeHead(status: number) {
      rec.status = status;
      return res;
    },
    write(s: string) {
      rec.chunks.push(s);
      return true;
    },
    end() {
      rec.ended = true;
      res.writableEnded = true;
    },
  };
  return { res: res as unknown as ServerResponse, rec };
}

describe('build output', () => {
  it('streams Docker JSON messages, one per line, starting the 200 with the first', () => {
    const { res, rec } = fakeResponse();
    const out = new BuildOutput(res, false);
    expect(out.started).toBe(false);
    out.stream('Step 1/2 : FROM busybox\n');
    expect(out.started).toBe(true);
    out.aux('sha256:abc');
    out.error("The command '/bin/sh -c false' returned a non-zero code: 1", 1);
    out.end();
    expect(rec.status).toBe(200);
    expect(rec.chunks.map((c) => JSON.parse(c) as unknown)).toEqual([
      { stream: 'Step 1/2 : FROM busybox\n' },
      { id: 'moby.image.id', aux: { ID: 'sha256:abc' } },
      {
        errorDetail: { code: 1, message: "The command '/bin/sh -c false' returned a non-zero code: 1" },
        error: "The command '/bin/sh -c false' returned a non-zero code: 1",
      },
    ]);
    expect(rec.chunks.every((c) => c.endsWith('\n') && !c.slice(0, -1).includes('\n'))).toBe(true);
    expect(rec.ended).toBe(true);
  });

  it('quiet: only the image ID (aux, then as text) and errors', () => {
    const { res, rec } = fakeResponse();
    const out = new BuildOutput(res, true);
    out.stream('Step 1/1 : FROM busybox\n');
    expect(out.started).toBe(false);
    out.aux('sha256:abc');
    out.quietResult('sha256:abc');
    expect(rec.chunks).toEqual([`${JSON.stringify({ id: 'moby.image.id', aux: { ID: 'sha256:abc' } })}\n`, `${JSON.stringify({ stream: 'sha256:abc\n' })}\n`]);
  });
});

describe('builder store', () => {
  let dir: string;
  const log = new Logger('error');
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gbs-'))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('keeps parents and cache entries across a reload', () => {
    const a = new BuilderStore(dir, log);
    a.setParent('sha256:child', 'sha256:parent');
    a.setCached('k1', 'sha256:child');
    a.setCached('k2', 'sha256:other');
    a.forgetCached('k2');
    const b = new BuilderStore(dir, log);
    expect(b.parentOf('sha256:child')).toBe('sha256:parent');
    expect(b.parentIds()).toEqual(new Set(['sha256:parent']));
    expect(b.cached('k1')).toBe('sha256:child');
    expect(b.cached('k2')).toBeUndefined();
    // no prototype keys leak in as entries
    expect(b.cached('__proto__')).toBeUndefined();
    expect(b.parentOf('constructor')).toBeUndefined();
  });

  it('a corrupt record is quarantined and the store starts empty', () => {
    fs.mkdirSync(path.join(dir, 'builder'));
    fs.writeFileSync(path.join(dir, 'builder', 'cache.json'), '{"k": 1');
    const s = new BuilderStore(dir, log);
    expect(s.cached('k')).toBeUndefined();
    expect(fs.existsSync(path.join(dir, 'builder', 'cache.json'))).toBe(false);
    s.setCached('k', 'sha256:x');
    expect(new BuilderStore(dir, log).cached('k')).toBe('sha256:x');
  });
});
