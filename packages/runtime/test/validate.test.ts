import { ConfigError } from '../src/errors';
import { defaultSpec } from '../src/spec/default-spec';
import { parseSpec } from '../src/spec/validate';

/** The parts of a config.json the cases below edit, loosely typed: they write values the Spec type rules out. */
interface SpecDoc {
  ociVersion?: string;
  root?: unknown;
  process?: { args: string[]; cwd: string; user?: unknown; capabilities: { bounding: string[] }; rlimits: { type: string; soft: number; hard: number }[] };
  linux: { namespaces: { type: string; path?: string }[]; devices?: { path: string; type: string }[] };
  mounts: { destination: string; type: string }[];
}

function withChange(change: (s: SpecDoc) => void): string {
  const s = defaultSpec() as unknown as SpecDoc;
  change(s);
  return JSON.stringify(s);
}

describe('parseSpec', () => {
  it('accepts the default spec', () => {
    const spec = parseSpec(JSON.stringify(defaultSpec()));
    expect(spec.process?.args).toEqual(['sh']);
  });

  it.each([
    ['malformed JSON', '{"ociVersion": ', /invalid JSON/],
    ['a non-object', '[]', /must be a JSON object/],
    ['no ociVersion', withChange((s) => delete s.ociVersion), /ociVersion is required/],
    ['no root', withChange((s) => delete s.root), /root.path is required/],
    ['no process', withChange((s) => delete s.process), /process is required/],
    ['empty args', withChange((s) => (s.process!.args = [])), /process.args must name a program/],
    ['relative cwd', withChange((s) => (s.process!.cwd = 'tmp')), /cwd must be an absolute path/],
    ['no user', withChange((s) => delete s.process!.user), /uid and gid/],
    ['unknown capability', withChange((s) => s.process!.capabilities.bounding.push('CAP_FLY')), /unknown capability "CAP_FLY"/],
    ['unknown rlimit', withChange((s) => s.process!.rlimits.push({ type: 'RLIMIT_WINGS', soft: 1, hard: 1 })), /unknown rlimit/],
    ['soft above hard', withChange((s) => (s.process!.rlimits = [{ type: 'RLIMIT_NOFILE', soft: 10, hard: 5 }])), /soft limit exceeds hard/],
    ['unknown namespace', withChange((s) => s.linux.namespaces.push({ type: 'foo' })), /unknown namespace type "foo"/],
    ['time namespace', withChange((s) => s.linux.namespaces.push({ type: 'time' })), /time namespaces are not supported/],
    ['duplicate namespace', withChange((s) => s.linux.namespaces.push({ type: 'pid' })), /duplicate namespace "pid"/],
    ['relative namespace path', withChange((s) => (s.linux.namespaces[1] = { type: 'network', path: 'x' })), /path must be absolute/],
    [
      'hostname without uts',
      withChange((s) => (s.linux.namespaces = s.linux.namespaces.filter((n: { type: string }) => n.type !== 'uts'))),
      /no new uts namespace/,
    ],
    ['relative mount destination', withChange((s) => s.mounts.push({ destination: 'data', type: 'tmpfs' })), /must be absolute/],
    ['unknown device type', withChange((s) => (s.linux.devices = [{ path: '/dev/x', type: 'z' }])), /unknown type "z"/],
  ])('refuses %s with a clear ConfigError', (_name, text, message) => {
    expect(() => parseSpec(text)).toThrow(ConfigError);
    expect(() => parseSpec(text)).toThrow(message);
  });
});
