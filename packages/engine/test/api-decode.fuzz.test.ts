/**
 * Property-based fuzzing of the Engine API request decoders: the create body (validateCreate), the
 * exec and update bodies (decode against EXEC_BODY / UPDATE_BODY), the network create, volume
 * create and /auth bodies (api/bodies.ts) and the stop/kill query
 * parameters. Any JSON value gives a result or an error the router answers 400 with a non-empty one-line message,
 * never another exception, never a change to Object.prototype, in bounded time; unknown fields are
 * ignored and known fields with valid values come back unchanged.
 * Corpus: test/fuzz-corpus/api-decode/*.bin (JSON bodies, `{"target": ..., "body": ...}`).
 */
import * as path from 'node:path';
import * as fc from 'fast-check';
import { corpusFiles, fuzz, fuzzTimeout } from '../../../tools/fuzz/support';
import { decodeAuth, decodeNetworkCreate, decodeVolumeCreate } from '../src/api/bodies';
import { decode } from '../src/containers/decode';
import { healthSettings } from '../src/containers/health';
import { EXEC_BODY, EXEC_START_BODY, NETWORK_CONNECT_BODY, NETWORK_DISCONNECT_BODY, UPDATE_BODY, validateCreate } from '../src/containers/validate';
import { KindError } from '@gantry/linux';
import { toHttpError } from '../src/http/errors';
import { stopGraceMs } from '../src/containers/stop';
import { signalParam, stopTimeout } from '../src/routes/query-params';

const CORPUS = path.join(__dirname, 'fuzz-corpus', 'api-decode');
type Target = 'create' | 'exec' | 'update' | 'execStart' | 'connect' | 'disconnect' | 'networkCreate' | 'volumeCreate' | 'auth';
const TARGETS: Target[] = ['create', 'exec', 'update', 'execStart', 'connect', 'disconnect', 'networkCreate', 'volumeCreate', 'auth'];

const run: Record<Target, (body: unknown) => unknown> = {
  create: (b) => validateCreate(b, null, { cpuCount: 2 }),
  exec: (b) => decode(b, EXEC_BODY, 'ExecOptions'),
  update: (b) => decode(b, UPDATE_BODY, 'UpdateConfig'),
  execStart: (b) => decode(b, EXEC_START_BODY, 'ExecStartOptions'),
  connect: (b) => decode(b, NETWORK_CONNECT_BODY, 'ConnectOptions'),
  disconnect: (b) => decode(b, NETWORK_DISCONNECT_BODY, 'DisconnectOptions'),
  networkCreate: decodeNetworkCreate,
  volumeCreate: decodeVolumeCreate,
  auth: decodeAuth,
};

/** `f()` returns, or throws an error the router answers 400 with a one-line message; anything else fails. */
function okOr400<T>(f: () => T): T | undefined {
  try {
    return f();
  } catch (e) {
    const answer = e instanceof KindError ? toHttpError(e) : undefined;
    if (answer?.status === 400) {
      expect(answer.message).not.toBe('');
      expect(answer.message).not.toMatch(/[\r\n]/);
      return undefined;
    }
    throw e;
  }
}

/** Decode a body with each target; Object.prototype stays as it was; each decode is quick. */
function check(target: Target, body: unknown): void {
  const started = performance.now();
  okOr400(() => run[target](body));
  expect(performance.now() - started).toBeLessThan(1000);
  expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  expect(Object.keys(Object.prototype)).toEqual([]);
}

const VALID_CREATE = {
  Image: 'busybox',
  Cmd: ['sh', '-c', 'true'],
  Env: ['A=1'],
  Labels: { a: 'b' },
  Tty: false,
  WorkingDir: '/srv',
  ExposedPorts: { '80/tcp': {} },
  Healthcheck: { Test: ['CMD', 'true'], Interval: 2_000_000_000, Retries: 3 },
  StopSignal: 'SIGTERM',
  HostConfig: {
    Memory: 64 << 20,
    Binds: ['/tmp:/mnt:ro'],
    PortBindings: { '80/tcp': [{ HostIp: '127.0.0.1', HostPort: '8080' }] },
    RestartPolicy: { Name: 'on-failure', MaximumRetryCount: 2 },
    CapAdd: ['NET_ADMIN'],
    Tmpfs: { '/run': 'size=1m' },
    Ulimits: [{ Name: 'nofile', Soft: 1024, Hard: 2048 }],
    ConsoleSize: [24, 80],
    Mounts: [{ Type: 'tmpfs', Target: '/scratch', TmpfsOptions: { SizeBytes: 1 << 20 } }],
  },
  NetworkingConfig: { EndpointsConfig: { net1: { Aliases: ['web'], IPAMConfig: { IPv4Address: '10.0.0.2' } } } },
};
const VALID_EXEC = {
  Cmd: ['ls', '-l'],
  AttachStdout: true,
  AttachStderr: true,
  Tty: false,
  Env: ['X=y'],
  User: 'root',
  WorkingDir: '/',
  ConsoleSize: [24, 80],
  DetachKeys: 'ctrl-p',
};
const VALID_UPDATE = {
  Memory: 64 << 20,
  CpuShares: 512,
  PidsLimit: 100,
  RestartPolicy: { Name: 'always', MaximumRetryCount: 0 },
  Ulimits: [{ Name: 'nofile', Soft: 1, Hard: 2 }],
};
const VALID: Record<Target, Record<string, unknown>> = {
  create: VALID_CREATE,
  exec: VALID_EXEC,
  update: VALID_UPDATE,
  execStart: { Detach: false, Tty: true, ConsoleSize: [24, 80] },
  connect: { Container: 'web', EndpointConfig: { Aliases: ['a'], IPAMConfig: { IPv4Address: '10.0.0.2' } } },
  disconnect: { Container: 'web', Force: true },
  networkCreate: {
    Name: 'n1',
    Driver: 'bridge',
    Internal: false,
    Attachable: true,
    IPAM: { Driver: 'default', Config: [{ Subnet: '10.9.0.0/24', Gateway: '10.9.0.1', IPRange: '10.9.0.128/25' }], Options: {} },
    Options: { 'com.docker.network.bridge.name': 'br9' },
    Labels: { a: 'b' },
  },
  volumeCreate: { Name: 'v1', Driver: 'local', DriverOpts: { type: 'tmpfs', device: 'tmpfs' }, Labels: { a: 'b' } },
  auth: { username: 'u', password: 'p', email: '', serveraddress: 'localhost:5000' },
};

const nasty = fc.oneof(
  fc.constantFrom(
    2 ** 53,
    2 ** 64,
    -(2 ** 63) - 4096,
    1e308,
    -1e308,
    0.5,
    -0,
    Number.MAX_SAFE_INTEGER,
    '',
    'x'.repeat(100_000),
    '\n',
    '\u0000',
    true,
    null,
    [],
    {},
  ),
  fc.jsonValue({ maxDepth: 3 }),
  // strings that reach messages: line breaks, NULs, separators the validators split on
  fc.string({ unit: fc.constantFrom('a', '1', '\n', '\r', '\u0000', '/', ':', '=', ',', ' ', '-'), maxLength: 12 }),
);
const nastyKey = fc.oneof(
  fc.constantFrom('__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', 'polluted', 'HOSTCONFIG', 'cmd', 'Bogus'),
  fc.string({ maxLength: 8 }),
);

/** A value nested `n` deep: arrays or objects. */
function deep(n: number, inner: unknown, asObject: boolean): unknown {
  let v = inner;
  for (let i = 0; i < n; i++) v = asObject ? { a: v, polluted: true } : [v];
  return v;
}

/** Paths to every field of a body (objects only), to put a nasty value at. */
function paths(v: unknown, prefix: string[] = []): string[][] {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return [prefix];
  return [prefix, ...Object.entries(v).flatMap(([k, e]) => paths(e, [...prefix, k]))];
}

/** A copy of `body` with `value` set at `at` (a fresh own key, `__proto__` included). */
function setAt(body: unknown, at: string[], value: unknown): unknown {
  if (at.length === 0) return value;
  const copy: Record<string, unknown> = typeof body === 'object' && body !== null && !Array.isArray(body) ? { ...(body as Record<string, unknown>) } : {};
  Object.defineProperty(copy, at[0]!, { value: setAt(copy[at[0]!], at.slice(1), value), enumerable: true, writable: true, configurable: true });
  return copy;
}

/** A valid body with one field (or a new key under one) replaced by something hostile. */
const mutated = fc.constantFrom(...TARGETS).chain((t) =>
  fc.record({
    target: fc.constant(t),
    body: fc.tuple(fc.constantFrom(...paths(VALID[t])), fc.option(nastyKey, { nil: undefined }), nasty, fc.nat({ max: 3 })).map(([at, key, value, how]) => {
      const where = key === undefined ? at : [...at, key];
      const v = how === 0 ? deep(5000, value, false) : how === 1 ? deep(5000, value, true) : value;
      return setAt(VALID[t], where, v);
    }),
  }),
);

const bodyBytes = (x: { target: Target; body: unknown }) => Buffer.from(JSON.stringify(x));

describe('Engine API request decoder fuzzing', () => {
  it(
    'any JSON value: a result or a 400, for every body decoder',
    () => {
      fuzz(fc.record({ target: fc.constantFrom(...TARGETS), body: fc.jsonValue({ maxDepth: 6 }) }), ({ target, body }) => check(target, body), {
        numRuns: 400,
        corpus: { dir: CORPUS, bytes: bodyBytes },
      });
    },
    fuzzTimeout,
  );

  it(
    'valid bodies with one hostile field (types, huge numbers, deep nesting, __proto__, long strings)',
    () => {
      fuzz(mutated, ({ target, body }) => check(target, body), { numRuns: 600, corpus: { dir: CORPUS, bytes: bodyBytes } });
    },
    fuzzTimeout,
  );

  it(
    'parsed JSON with __proto__ and constructor keys: own keys, never prototypes',
    () => {
      // JSON.parse makes "__proto__" an own key, as a body from the socket has it
      const text = fc.tuple(fc.constantFrom(...TARGETS), nasty).map(([t, v]) => ({
        target: t,
        text: `{"__proto__":{"polluted":true},"constructor":{"prototype":{"polluted":true}},"HostConfig":{"__proto__":${JSON.stringify(v)},"Labels":{"__proto__":"x"}},"Labels":{"__proto__":"x","constructor":"y"},"Cmd":["true"],"Image":"i"}`,
      }));
      fuzz(text, ({ target, text: t }) => check(target, JSON.parse(t)), { numRuns: 100 });
      const labels = (validateCreate(JSON.parse('{"Image":"i","Labels":{"__proto__":"x","constructor":"y"}}'), null, { cpuCount: 2 }).config.Labels ??
        {}) as Record<string, string>;
      expect(Object.entries(labels).sort()).toEqual([
        ['__proto__', 'x'],
        ['constructor', 'y'],
      ]);
      expect(Object.getPrototypeOf(labels)).toBe(Object.prototype);
      const ports = validateCreate(JSON.parse('{"Image":"i","ExposedPorts":{"__proto__":{}}}'), null, { cpuCount: 2 });
      expect(Object.keys(ports.config.ExposedPorts ?? {})).toEqual(['__proto__']);
      // a map key like any other: here not a port, so dockerd's 400
      expect(() => validateCreate(JSON.parse('{"Image":"i","HostConfig":{"PortBindings":{"__proto__":[]}}}'), null, { cpuCount: 2 })).toThrow(
        'invalid port specification: "__proto__"',
      );
    },
    fuzzTimeout,
  );

  it(
    'unknown fields are ignored and valid known fields come back unchanged',
    () => {
      const unknown = fc.dictionary(
        fc.string({ maxLength: 10 }).filter((k) => !/^[a-z]/i.test(k) || k.startsWith('x')),
        fc.jsonValue({ maxDepth: 2 }),
        { maxKeys: 4 },
      );
      const execBody = fc.record(
        {
          User: fc.string({ maxLength: 20 }),
          Privileged: fc.boolean(),
          Tty: fc.boolean(),
          AttachStdin: fc.boolean(),
          Detach: fc.boolean(),
          DetachKeys: fc.string(),
          Env: fc.array(fc.string(), { maxLength: 4 }),
          WorkingDir: fc.string(),
          Cmd: fc.array(fc.string({ maxLength: 1000 }), { maxLength: 4 }),
          ConsoleSize: fc.tuple(fc.nat(), fc.nat()),
        },
        { requiredKeys: [] },
      );
      fuzz(
        fc.tuple(execBody, unknown),
        ([known, extra]) => {
          expect(decode({ ...extra, ...known }, EXEC_BODY, 'ExecOptions')).toEqual(known);
        },
        { numRuns: 300 },
      );
      const i64 = fc.integer({ min: -(2 ** 53) + 1, max: 2 ** 53 - 1 });
      const updateBody = fc.record(
        {
          Memory: i64,
          CpuShares: i64,
          CpusetCpus: fc.string(),
          BlkioWeight: fc.integer({ min: 0, max: 0xffff }),
          PidsLimit: i64,
          OomKillDisable: fc.boolean(),
          Ulimits: fc.array(fc.record({ Name: fc.string(), Soft: i64, Hard: i64 }), { maxLength: 3 }),
          RestartPolicy: fc.record({ Name: fc.string(), MaximumRetryCount: i64 }, { requiredKeys: [] }),
        },
        { requiredKeys: [] },
      );
      fuzz(
        fc.tuple(updateBody, unknown),
        ([known, extra]) => {
          expect(decode({ ...extra, ...known }, UPDATE_BODY, 'UpdateConfig')).toEqual(known);
        },
        { numRuns: 300 },
      );
      const labels = fc.dictionary(fc.string({ maxLength: 12 }), fc.string({ maxLength: 40 }), { maxKeys: 5 });
      const networkBody = fc.record(
        {
          Name: fc.string({ maxLength: 20 }),
          Driver: fc.string({ maxLength: 10 }),
          Internal: fc.boolean(),
          Attachable: fc.boolean(),
          IPAM: fc.record(
            {
              Driver: fc.string(),
              Config: fc.array(fc.record({ Subnet: fc.string(), Gateway: fc.string() }, { requiredKeys: [] }), { maxLength: 3 }),
              Options: labels,
            },
            { requiredKeys: [] },
          ),
          Options: labels,
          Labels: labels,
        },
        { requiredKeys: [] },
      );
      fuzz(
        fc.tuple(networkBody, unknown),
        ([known, extra]) => {
          expect(decodeNetworkCreate(JSON.parse(JSON.stringify({ ...extra, ...known })))).toEqual(known);
        },
        { numRuns: 200 },
      );
      const volumeBody = fc.record(
        { Name: fc.string({ maxLength: 20 }), Driver: fc.string({ maxLength: 10 }), DriverOpts: labels, Labels: labels },
        { requiredKeys: [] },
      );
      fuzz(
        fc.tuple(volumeBody, unknown),
        ([known, extra]) => {
          expect(decodeVolumeCreate(JSON.parse(JSON.stringify({ ...extra, ...known })))).toEqual(known);
        },
        { numRuns: 200 },
      );
      const authBody = fc.record({ username: fc.string(), password: fc.string(), auth: fc.base64String(), serveraddress: fc.string() }, { requiredKeys: [] });
      fuzz(
        fc.tuple(authBody, unknown),
        ([known, extra]) => {
          expect(decodeAuth(JSON.parse(JSON.stringify({ ...extra, ...known })))).toEqual(known);
        },
        { numRuns: 200 },
      );
      fuzz(
        fc.tuple(
          labels,
          fc.array(
            fc.string({ maxLength: 30 }).filter((e) => e.split('=')[0] !== ''),
            { maxLength: 4 },
          ),
          unknown,
        ),
        ([l, env, extra]) => {
          const got = validateCreate(JSON.parse(JSON.stringify({ ...extra, Image: 'busybox', Labels: l, Env: env })), null, { cpuCount: 2 });
          expect(got.config).toEqual({ Image: 'busybox', Labels: l, Env: env });
          expect(got.endpoints).toEqual({});
        },
        { numRuns: 300 },
      );
    },
    fuzzTimeout,
  );

  it('stop timeouts: Go int range, and a grace period past a timer is no deadline (not an immediate SIGKILL)', () => {
    expect(stopTimeout(new URLSearchParams('t=9223372036854775807'))).toBe(2 ** 63);
    expect(() => stopTimeout(new URLSearchParams('t=9223372036854775808'))).toThrow('value out of range');
    expect(() => stopTimeout(new URLSearchParams(`t=${'9'.repeat(400)}`))).toThrow('value out of range');
    expect(stopGraceMs(10)).toBe(10_000);
    expect(stopGraceMs(0)).toBe(0);
    expect(stopGraceMs(-1)).toBeUndefined();
    expect(stopGraceMs(2_147_483)).toBe(2_147_483_000);
    expect(stopGraceMs(3_000_000)).toBeUndefined();
    expect(stopGraceMs(2 ** 63)).toBeUndefined();
  });

  it(
    "a create body's Healthcheck durations become timers Node honours (a timer past 2^31-1 ms fires after 1 ms)",
    () => {
      const ns = fc.oneof(fc.integer({ min: -(2 ** 53) + 1, max: 2 ** 53 - 1 }), fc.constantFrom(2 ** 62, 1e16, 1e6, 999_999, 0));
      fuzz(
        fc.record({ Interval: ns, Timeout: ns, StartPeriod: ns, StartInterval: ns, Retries: fc.integer({ min: -5, max: 5 }) }),
        (h) => {
          const v = okOr400(() => validateCreate({ Image: 'i', Healthcheck: { Test: ['CMD', 'true'], ...h } }, null, { cpuCount: 2 }));
          const s = v && healthSettings(v.config.Healthcheck);
          if (!s) return;
          for (const ms of [s.intervalMs, s.timeoutMs, s.startIntervalMs]) expect(ms >= 1 && ms <= 2 ** 31 - 1).toBe(true);
        },
        { numRuns: 300 },
      );
    },
    fuzzTimeout,
  );

  it('create keeps the typed endpoint settings, drops the rest, and refuses mistyped ones', () => {
    const body = {
      Image: 'i',
      NetworkingConfig: { EndpointsConfig: { n: { Aliases: ['a'], IPAMConfig: { IPv4Address: '10.0.0.2' }, Links: [[[[]]]], Bogus: 1 } } },
    };
    expect(validateCreate(body, null, { cpuCount: 2 }).endpoints).toEqual({ n: { Aliases: ['a'], IPAMConfig: { IPv4Address: '10.0.0.2' } } });
    expect(() => validateCreate({ Image: 'i', NetworkingConfig: { EndpointsConfig: { n: { Aliases: 'a' } } } }, null, { cpuCount: 2 })).toThrow(KindError);
    // a quoted line break stays one line
    expect(okOr400(() => validateCreate({ Image: 'i', StopSignal: 'a\nb' }, null, { cpuCount: 2 }))).toBeUndefined();
    let said = '';
    try {
      validateCreate({ Image: 'i', StopSignal: 'a\nb' }, null, { cpuCount: 2 });
    } catch (e) {
      said = toHttpError(e).message;
    }
    expect(said).toBe('invalid signal: a\\nb');
  });

  it(
    'stop timeout and signal query parameters: a value or a 400',
    () => {
      const q = fc.array(
        fc.tuple(
          fc.constantFrom('t', 'timeout', 'signal'),
          fc.oneof(fc.string({ maxLength: 30 }), fc.stringMatching(/^[+-]?\d{1,400}$/), fc.constantFrom('SIGKILL', 'KILL', '9', '0', 'RTMIN+3', '-1', '1e3')),
        ),
        { maxLength: 4 },
      );
      fuzz(
        q,
        (pairs) => {
          const p = new URLSearchParams(pairs);
          const t = okOr400(() => stopTimeout(p));
          if (t !== undefined) expect(Number.isInteger(t) && Math.abs(t) <= 2 ** 63).toBe(true);
          // a grace period is a timer Node honours, or none (wait for the exit)
          if (t !== undefined) {
            const ms = stopGraceMs(t);
            if (ms !== undefined) expect(ms >= 0 && ms <= 2 ** 31 - 1).toBe(true);
          }
          okOr400(() => signalParam(p));
        },
        { numRuns: 500 },
      );
    },
    fuzzTimeout,
  );
});

describe('Engine API request decoder fuzz corpus replay', () => {
  for (const f of corpusFiles(CORPUS)) {
    it(`${f.name}: decoded or a 400`, () => {
      const { target, body } = JSON.parse(f.bytes.toString('utf8')) as { target: Target; body: unknown };
      check(target, body);
    });
  }
});
