import { decode } from '../src/containers/decode';
import { EXEC_BODY, UPDATE_BODY } from '../src/containers/validate';
import { KindError } from '@gantry/linux';
import { toHttpError } from '../src/http/errors';
import { HOST_CONFIG_DEFAULTS, withDefaults } from '@gantry/engine-api';
import { decodeAuth, decodeNetworkCreate, decodeVolumeCreate } from '../src/api/bodies';

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
    expect(status(() => decode({ Cmd: ['ls'], Tty: 'yes' }, EXEC_BODY, 'ExecOptions'))).toEqual([
      400,
      expect.stringMatching(/Go struct field ExecOptions\.Tty of type bool/),
    ]);
    expect(status(() => decode({ Cmd: [1] }, EXEC_BODY, 'ExecOptions'))[0]).toBe(400);
  });

  test('update config: unknown fields dropped, known ones typed', () => {
    expect(decode({ Memory: 1 << 24, Bogus: true, RestartPolicy: { Name: 'always', X: 1 } }, UPDATE_BODY, 'UpdateConfig')).toEqual({
      Memory: 1 << 24,
      RestartPolicy: { Name: 'always' },
    });
    expect(status(() => decode({ Memory: '16m' }, UPDATE_BODY, 'UpdateConfig'))[0]).toBe(400);
  });
});

describe('network create, volume create and /auth bodies: the same decoder', () => {
  test('network create: unknown fields ignored, known ones typed, case-insensitive names', () => {
    const body = {
      Name: 'n1',
      driver: 'bridge',
      Internal: true,
      IPAM: { Config: [{ Subnet: '10.9.0.0/24', Gateway: '10.9.0.1', Bogus: 1 }], Options: { a: 'b' } },
      Labels: { l: 'v' },
      Future: { x: 1 },
    };
    expect(decodeNetworkCreate(body)).toEqual({
      Name: 'n1',
      Driver: 'bridge',
      Internal: true,
      IPAM: { Config: [{ Subnet: '10.9.0.0/24', Gateway: '10.9.0.1' }], Options: { a: 'b' } },
      Labels: { l: 'v' },
    });
  });

  test('network create: wrong types are 400s naming the field (before, some reached the controller)', () => {
    expect(status(() => decodeNetworkCreate({ Name: 'n', Internal: 'yes' }))).toEqual([
      400,
      'json: cannot unmarshal string into Go struct field CreateRequest.Internal of type bool',
    ]);
    expect(status(() => decodeNetworkCreate({ Name: 'n', IPAM: { Config: [{ Subnet: 10 }] } }))).toEqual([
      400,
      expect.stringMatching(/CreateRequest\.IPAM\.Config\.Subnet of type string/),
    ]);
    expect(status(() => decodeNetworkCreate({ Name: 'n', IPAM: { Config: {} } }))).toEqual([400, expect.stringMatching(/of type \[\]network\.IPAMConfig/)]);
    expect(status(() => decodeNetworkCreate({ Name: 'n', Labels: { a: 1 } }))[0]).toBe(400);
    expect(status(() => decodeNetworkCreate([]))[0]).toBe(400);
    expect(decodeNetworkCreate(null)).toEqual({});
  });

  test('volume create: unknown fields ignored, wrong types a 400', () => {
    expect(decodeVolumeCreate({ Name: 'v', Driver: 'local', DriverOpts: { type: 'tmpfs' }, Labels: null, Whatever: [1] })).toEqual({
      Name: 'v',
      Driver: 'local',
      DriverOpts: { type: 'tmpfs' },
    });
    expect(status(() => decodeVolumeCreate({ Name: 5 }))).toEqual([
      400,
      'json: cannot unmarshal number 5 into Go struct field CreateOptions.Name of type string',
    ]);
    expect(status(() => decodeVolumeCreate({ DriverOpts: { size: 1 } }))[0]).toBe(400);
    expect(status(() => decodeVolumeCreate('v'))[0]).toBe(400);
  });

  test('/auth: unknown fields ignored, wrong types a 400 (a number "auth" used to be a 500)', () => {
    expect(decodeAuth({ Username: 'u', password: 'p', serveraddress: 'localhost:5000', extra: true })).toEqual({
      username: 'u',
      password: 'p',
      serveraddress: 'localhost:5000',
    });
    expect(status(() => decodeAuth({ auth: 12 }))).toEqual([400, 'json: cannot unmarshal number 12 into Go struct field AuthConfig.auth of type string']);
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
