import { BuildArgs, expandInstruction, parseDockerfile, type ArgInstruction } from '../src';

function stageArgs(df: ReturnType<typeof parseDockerfile>, ba: BuildArgs, stage = 0) {
  const s = ba.stage();
  let env: string[] = [];
  for (const i of df.stages[stage]!.instructions) {
    if (i.kind === 'ARG') s.declare((expandInstruction(i, s.expansionEnv(env)) as ArgInstruction).args);
    if (i.kind === 'ENV') env = [...env, ...expandInstruction(i, s.expansionEnv(env)).pairs.map((p) => `${p.key}=${p.value}`)];
  }
  return { s, env };
}

describe('BuildArgs', () => {
  const df = parseDockerfile(
    ['ARG BASE=alpine', 'ARG TAG=${BASE}-3', 'ARG V', 'FROM $BASE:$TAG', 'ARG TAG', 'ARG OWN=own', 'ARG UNSET', 'RUN make'].join('\n'),
  );

  it('global ARGs are expanded in order and feed FROM; --build-arg overrides them', () => {
    expect(Object.fromEntries(new BuildArgs({}, df.args).globalEnv())).toEqual({ BASE: 'alpine', TAG: 'alpine-3' });
    expect(Object.fromEntries(new BuildArgs({ BASE: 'debian' }, df.args).globalEnv())).toEqual({ BASE: 'debian', TAG: 'debian-3' });
    expect(Object.fromEntries(new BuildArgs({ V: '7', TAG: 'x' }, df.args).globalEnv())).toEqual({ BASE: 'alpine', TAG: 'x', V: '7' });
  });

  it('a stage sees only what it declares; a bare declaration takes the global value', () => {
    const { s } = stageArgs(df, new BuildArgs({ OWN: 'given' }, df.args));
    expect(s.inScope()).toEqual(['OWN=given', 'TAG=alpine-3']);
    expect(stageArgs(df, new BuildArgs({}, df.args)).s.inScope()).toEqual(['OWN=own', 'TAG=alpine-3']);
  });

  it('an ENV of the same name hides the arg', () => {
    const d = parseDockerfile('FROM a\nARG X=1\nENV X=env\nARG Y=$X');
    const { s, env } = stageArgs(d, new BuildArgs({}, d.args));
    expect(env).toEqual(['X=env']);
    expect(s.inScope(env)).toEqual(['Y=env']);
    expect(s.runEnv(env)).toEqual(['X=env', 'Y=env']);
  });

  it('proxy args reach RUN undeclared, but history shows them only when declared', () => {
    const d = parseDockerfile('FROM a\nARG A=1\nRUN x');
    const { s } = stageArgs(d, new BuildArgs({ HTTP_PROXY: 'http://p:3128', https_proxy: 'http://q' }, d.args));
    expect(s.runEnv()).toEqual(['A=1', 'HTTP_PROXY=http://p:3128', 'https_proxy=http://q']);
    expect(s.historyArgs()).toEqual(['A=1']);

    const d2 = parseDockerfile('FROM a\nARG HTTP_PROXY\nRUN x');
    expect(stageArgs(d2, new BuildArgs({ HTTP_PROXY: 'http://p' }, d2.args)).s.historyArgs()).toEqual(['HTTP_PROXY=http://p']);

    const d3 = parseDockerfile('FROM a\nRUN x');
    expect(stageArgs(d3, new BuildArgs({ NO_PROXY: 'x' }, d3.args)).s.historyArgs()).toEqual([]);
    expect(stageArgs(d3, new BuildArgs({}, d3.args)).s.historyArgs()).toBeUndefined();
  });

  it('a --build-arg given without a value overrides nothing', () => {
    const d = parseDockerfile('FROM a\nARG A=default');
    expect(stageArgs(d, new BuildArgs({ A: null }, d.args)).s.inScope()).toEqual(['A=default']);
  });

  it('reports --build-args nothing declared, proxies excepted', () => {
    const d = parseDockerfile('ARG G\nFROM a\nARG A');
    const ba = new BuildArgs({ A: '1', G: '2', NOPE: '3', ZZZ: '4', HTTP_PROXY: 'x' }, d.args);
    expect(ba.unconsumed()).toEqual(['A', 'NOPE', 'ZZZ']);
    stageArgs(d, ba);
    expect(ba.unconsumed()).toEqual(['NOPE', 'ZZZ']);
  });
});
