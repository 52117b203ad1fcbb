import { decode } from '../src/containers/decode';
import { EXEC_BODY, UPDATE_BODY } from '../src/containers/validate';
import { KindError } from '@gantry/linux';
import { toHttpError } from '../src/http/errors';
import { HOST_CONFIG_DEFAULTS, withDefaults } from '../src/api/defaults';

const status = (f: () => unknown): [number, string] => {
  try {
    f();
  } catch (e) {
    if (e instanceof KindError) {
      const answer = toHttpError(e);
      return [answer.status, answer.message];
    }
    throw e;
  }
  return [0, ''];
};

describe('request bodies: unknown fields ignored, known fields typed (as dockerd)', () => {
  test('exec config: docker-py sends "Container", which dockerd ignores', () => {
    const body = { Container: 'abc', Cmd: 'ls', AttachStdout: true, User: '', Privileged: false, Tty: false, Env: null };
    expect(decode(body, EXEC_BODY, 'ExecOptions')).toEqual({ Cmd: ['ls'], AttachStdout: true, User: '', Privileged: false, Tty: false });
  });

  test('exec config: a mistyped known field is a 400 naming it', () => {
    expect(status(() => decode({ Cmd: ['ls'], Tty: 'yes' }, EXEC_BODY, 'ExecOptions'))).toEqual([400, expect.stringMatching(/Go struct field ExecOptions\.Tty of type bool/)]);
    expect(status(() => decode({ Cmd: [1] }, EXEC_BODY, 'ExecOptions'))[0]).toBe(400);
  });

  test('update config: unknown fields dropped, known ones typed', () => {
    expect(decode({ Memory: 1 << 24, Bogus: true, RestartPolicy: { Name: 'always', X: 1 } }, UPDATE_BODY, 'UpdateConfig')).toEqual({ Memory: 1 << 24, RestartPolicy: { Name: 'always' } });
    expect(status(() => decode({ Memory: '16m' }, UPDATE_BODY, 'UpdateConfig'))[0]).toBe(400);
  });
});

describe('withDefaults (inspect views)', () => {
  test('adds missing keys recursively; values the record holds (null included) win', () => {
    const hc = withDefaults({ LogConfig: { Type: 'json-file' }, Memory: 5, Binds: null, Dns: ['1.1.1.1'] }, HOST_CONFIG_DEFAULTS);
    expect(hc.LogConfig).toEqual({ Type: 'json-file', Config: {} });
    expect(hc.Memory).toBe(5);
    expect(hc.Dns).toEqual(['1.1.1.1']);
    expect(hc.RestartPolicy).toEqual({ Name: 'no', MaximumRetryCount: 0 });
    expect(Object.keys(hc).sort()).toEqual(Object.keys(HOST_CONFIG_DEFAULTS).sort());
  });

  test('defaults are copied, not shared between answers', () => {
    const a = withDefaults({}, HOST_CONFIG_DEFAULTS);
    (a.LogConfig as { Config: Record<string, string> }).Config.x = '1';
    expect(withDefaults({}, HOST_CONFIG_DEFAULTS).LogConfig).toEqual({ Type: 'json-file', Config: {} });
  });
});
