import { BuildArgs, InstructionValueError, parseDockerfile, resolveFrom, stageDependencies, stagesFor, UnknownTargetError } from '../src';

const df = parseDockerfile(
  [
    'ARG BASE=deps',
    'FROM alpine AS deps', // 0
    'FROM golang AS tools', // 1
    'FROM $BASE AS build', // 2: FROM deps (through the global ARG)
    'COPY --from=tools /go/bin /bin',
    'FROM busybox AS docs', // 3
    'FROM scratch AS final', // 4
    'COPY --from=build /out /',
    'COPY --from=0 /etc/os-release /',
    'COPY --from=nginx:latest /etc/nginx /etc/nginx',
  ].join('\n'),
);

describe('stagesFor', () => {
  it('the last stage by default, with what it needs, in order', () => {
    expect(stagesFor(df, { buildArgs: new BuildArgs({}, df.args) }).map((s) => s.name)).toEqual(['deps', 'tools', 'build', 'final']);
  });

  it('--target, in any case', () => {
    expect(stagesFor(df, { target: 'DOCS' }).map((s) => s.index)).toEqual([3]);
    expect(stagesFor(df, { target: 'build', buildArgs: new BuildArgs({}, df.args) }).map((s) => s.index)).toEqual([0, 1, 2]);
  });

  it('global ARGs decide what FROM names', () => {
    expect(stagesFor(df, { target: 'build', buildArgs: new BuildArgs({ BASE: 'ubuntu' }, df.args) }).map((s) => s.index)).toEqual([1, 2]);
  });

  it('all: every stage up to the target, as the classic builder runs them', () => {
    expect(stagesFor(df, { target: 'docs', all: true }).map((s) => s.index)).toEqual([0, 1, 2, 3]);
  });

  it('an unknown target is a typed error', () => {
    expect(() => stagesFor(df, { target: 'nope' })).toThrow(new UnknownTargetError('nope'));
  });

  it('refuses a repeated stage name and a --from index that is not earlier', () => {
    expect(() => stagesFor(parseDockerfile('FROM a AS x\nFROM b AS X'))).toThrow(new InstructionValueError('x stage name already used'));
    const self = parseDockerfile('FROM a\nCOPY --from=0 / /');
    expect(() => stagesFor(self)).toThrow('invalid from flag value 0: refers to current build stage');
    const later = parseDockerfile('FROM a\nCOPY --from=3 / /\nFROM b');
    expect(() => stageDependencies(later, later.stages[0]!)).toThrow('invalid from flag value 3: index out of bounds');
  });

  it('a FROM naming a later stage is an image, not a dependency', () => {
    const d = parseDockerfile('FROM later\nFROM alpine AS later');
    expect(stageDependencies(d, d.stages[0]!)).toEqual([]);
  });
});

describe('resolveFrom', () => {
  it('expands FROM with the global ARGs and names the stage it builds on', () => {
    const d = parseDockerfile('ARG V=3.19\nARG P=linux/arm64\nFROM --platform=$P alpine:$V AS base\nFROM base\nFROM ${MISSING}');
    const args = new BuildArgs({ V: '3.20' }, d.args);
    expect(resolveFrom(d, d.stages[0]!, args)).toEqual({ image: 'alpine:3.20', platform: 'linux/arm64' });
    expect(resolveFrom(d, d.stages[1]!, args)).toMatchObject({ image: 'base', stage: { index: 0 } });
    expect(() => resolveFrom(d, d.stages[2]!, args)).toThrow(new InstructionValueError('base name (${MISSING}) should not be blank'));
  });
});
