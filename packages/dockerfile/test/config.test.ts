import type { ImageConfig } from '@gantry/oci';
import { applyToConfig, InstructionValueError, parseChanges, parseDockerfile, resolveCommand, type ApplyState, type Instruction } from '../src';

const base: ImageConfig = { rootfs: { type: 'layers', diff_ids: [] }, config: { Env: ['PATH=/usr/bin', 'A=1'], Cmd: ['sh'] } };

function instrs(text: string): Instruction[] {
  return parseDockerfile(`FROM scratch\n${text}`).stages[0]!.instructions;
}

/** Apply a stage's instructions in order, each expanded with the config's Env as Docker does. */
function run(text: string, start: ImageConfig = base): ImageConfig {
  const state: ApplyState = { cmdSet: false };
  let cfg = start;
  for (const i of instrs(text)) {
    const env = new Map((cfg.config?.Env ?? []).map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)] as [string, string]));
    cfg = applyToConfig(cfg, i, env, { state });
  }
  return cfg;
}

describe('applyToConfig', () => {
  it('ENV replaces a variable of the same name and appends new ones, expanded with the env before it', () => {
    expect(run('ENV A=2 B=$A\nENV C "x y"').config!.Env).toEqual(['PATH=/usr/bin', 'A=2', 'B=1', 'C=x y']);
  });

  it('does not change the config it was given', () => {
    const before = JSON.stringify(base);
    run('ENV A=9\nLABEL x=y\nCMD z');
    expect(JSON.stringify(base)).toBe(before);
  });

  it('LABEL, USER, STOPSIGNAL, SHELL, ONBUILD, MAINTAINER', () => {
    const c = run('LABEL a=1 "b c"="d e"\nUSER app\nSTOPSIGNAL SIGQUIT\nSHELL ["/bin/bash", "-c"]\nONBUILD RUN make\nONBUILD COPY . /\nMAINTAINER me');
    expect(c.config).toMatchObject({
      Labels: { a: '1', 'b c': 'd e' },
      User: 'app',
      StopSignal: 'SIGQUIT',
      Shell: ['/bin/bash', '-c'],
      OnBuild: ['RUN make', 'COPY . /'],
    });
    expect(c.author).toBe('me');
  });

  it('EXPOSE: tcp by default, ranges, protocols; bad ports refused', () => {
    expect(run('EXPOSE 80 53/udp 8000-8002/TCP').config!.ExposedPorts).toEqual({ '80/tcp': {}, '53/udp': {}, '8000/tcp': {}, '8001/tcp': {}, '8002/tcp': {} });
    expect(() => run('EXPOSE 80/xyz')).toThrow(new InstructionValueError('invalid proto: xyz'));
    expect(() => run('EXPOSE http')).toThrow('invalid containerPort: http');
    expect(() => run('EXPOSE 70000')).toThrow('invalid containerPort: 70000');
  });

  it('VOLUME adds mount points', () => {
    expect(run('VOLUME /a\nVOLUME ["/b", "/c"]').config!.Volumes).toEqual({ '/a': {}, '/b': {}, '/c': {} });
  });

  it('CMD: shell form through the shell (SHELL included), exec form as is', () => {
    expect(run('CMD echo hi').config!.Cmd).toEqual(['/bin/sh', '-c', 'echo hi']);
    expect(run('SHELL ["/bin/bash", "-xc"]\nCMD echo hi').config!.Cmd).toEqual(['/bin/bash', '-xc', 'echo hi']);
    expect(run('CMD ["echo", "$A"]').config!.Cmd).toEqual(['echo', '$A']);
    expect(resolveCommand({ form: 'shell', command: '' })).toEqual(['/bin/sh', '-c']);
  });

  it('ENTRYPOINT drops an inherited CMD, but not one the stage set before it', () => {
    expect(run('ENTRYPOINT ["/e"]').config).toMatchObject({ Entrypoint: ['/e'], Cmd: null });
    expect(run('CMD ["x"]\nENTRYPOINT ["/e"]').config).toMatchObject({ Entrypoint: ['/e'], Cmd: ['x'] });
    expect(run('ENTRYPOINT ["/e"]\nCMD ["x"]').config).toMatchObject({ Entrypoint: ['/e'], Cmd: ['x'] });
    expect(run('ENTRYPOINT []').config!.Entrypoint).toBeNull();
    expect(run('ENTRYPOINT exec /e').config!.Entrypoint).toEqual(['/bin/sh', '-c', 'exec /e']);
  });

  it('WORKDIR is relative to the previous one and cleaned', () => {
    expect(run('WORKDIR /a\nWORKDIR b\nWORKDIR ../c/./d/').config!.WorkingDir).toBe('/a/c/d');
    expect(run('WORKDIR rel').config!.WorkingDir).toBe('/rel');
    expect(run('ENV D=/data\nWORKDIR $D/x').config!.WorkingDir).toBe('/data/x');
  });

  it('HEALTHCHECK', () => {
    expect(run('HEALTHCHECK --interval=5m --timeout=3s CMD curl -f http://localhost/ || exit 1').config!.Healthcheck).toEqual({
      Test: ['CMD-SHELL', 'curl -f http://localhost/ || exit 1'],
      Interval: 300e9,
      Timeout: 3e9,
    });
    expect(run('HEALTHCHECK NONE').config!.Healthcheck).toEqual({ Test: ['NONE'] });
  });

  it('STOPSIGNAL is checked', () => {
    expect(run('STOPSIGNAL 9').config!.StopSignal).toBe('9');
    expect(run('STOPSIGNAL rtmin+3').config!.StopSignal).toBe('rtmin+3');
    expect(() => run('STOPSIGNAL SIGFOO')).toThrow(new InstructionValueError('Invalid signal: SIGFOO'));
    expect(() => run('STOPSIGNAL 0')).toThrow('Invalid signal: 0');
  });

  it('RUN, COPY, ARG leave the config as it was', () => {
    const c = run('RUN x\nCOPY a b\nARG Z');
    expect(c).toEqual(base);
  });
});

describe('parseChanges (docker commit --change)', () => {
  it('parses the allowed instructions', () => {
    const changes = parseChanges(['ENV DEBUG=true', 'EXPOSE 80', 'CMD ["/start"]', 'WORKDIR /srv']);
    expect(changes.map((c) => c.kind)).toEqual(['ENV', 'EXPOSE', 'CMD', 'WORKDIR']);
    let cfg = base;
    for (const c of changes) cfg = applyToConfig(cfg, c, {});
    expect(cfg.config).toMatchObject({ Env: ['PATH=/usr/bin', 'A=1', 'DEBUG=true'], ExposedPorts: { '80/tcp': {} }, Cmd: ['/start'], WorkingDir: '/srv' });
  });

  it('refuses the others, and malformed ones, with Docker words', () => {
    expect(() => parseChanges(['RUN rm -rf /'])).toThrow('RUN is not a valid change command');
    expect(() => parseChanges(['from x'])).toThrow('from is not a valid change command');
    expect(() => parseChanges(['ENV'])).toThrow('ENV requires at least one argument');
    expect(parseChanges([])).toEqual([]);
  });
});
