import { FakeSys } from '@gantry/linux';
import { ConfigError } from '../src/errors';
import { hostIdOf, idMapText, prepareUserNamespace, trampolineArgv, userNamespaceOf, type Holder } from '../src/process/userns';
import { defaultSpec } from '../src/spec/default-spec';
import type { Spec } from '../src/spec/types';

function specWith(change: (s: Spec) => void): Spec {
  const s = defaultSpec();
  change(s);
  return s;
}

const MAP = [{ containerID: 0, hostID: 100000, size: 65534 }];
const GMAP = [
  { containerID: 0, hostID: 200000, size: 10 },
  { containerID: 10, hostID: 300000, size: 5 },
];

/** A holder whose readiness the test controls, recording what happened when. */
function fakeHolder(log: string[], pid = 4242): { spawn: (argv: string[]) => Holder; becomeReady: () => void; fail: (e: Error) => void; argv: string[][] } {
  let resolve!: () => void;
  let reject!: (e: Error) => void;
  const ready = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  const argv: string[][] = [];
  return {
    argv,
    spawn: (a) => {
      argv.push(a);
      log.push('spawn');
      return { pid, ready, kill: () => log.push('kill') };
    },
    becomeReady: () => {
      log.push('ready');
      resolve();
    },
    fail: (e) => reject(e),
  };
}

describe('user namespace plan', () => {
  it('reads the config as runc does', () => {
    expect(userNamespaceOf(defaultSpec())).toEqual({ kind: 'none' });
    expect(userNamespaceOf(specWith((s) => s.linux!.namespaces!.push({ type: 'user', path: '/proc/7/ns/user' })))).toEqual({
      kind: 'join',
      path: '/proc/7/ns/user',
    });
    const s = specWith((x) => {
      x.linux!.namespaces!.push({ type: 'user' });
      x.linux!.uidMappings = MAP;
      x.linux!.gidMappings = GMAP;
    });
    expect(userNamespaceOf(s)).toEqual({ kind: 'new', uidMappings: MAP, gidMappings: GMAP });
  });

  it('refuses a new user namespace without both mappings, or with a bad one', () => {
    const noUid = specWith((s) => s.linux!.namespaces!.push({ type: 'user' }));
    expect(() => userNamespaceOf(noUid)).toThrow(ConfigError);
    expect(() => userNamespaceOf(noUid)).toThrow(/no uid mappings/);
    const noGid = specWith((s) => {
      s.linux!.namespaces!.push({ type: 'user' });
      s.linux!.uidMappings = MAP;
    });
    expect(() => userNamespaceOf(noGid)).toThrow(/no gid mappings/);
    const empty = specWith((s) => {
      s.linux!.namespaces!.push({ type: 'user' });
      s.linux!.uidMappings = [{ containerID: 0, hostID: 1000, size: 0 }];
      s.linux!.gidMappings = MAP;
    });
    expect(() => userNamespaceOf(empty)).toThrow(/invalid id mapping/);
  });

  it('writes maps in the kernel format, one line per mapping', () => {
    expect(idMapText(GMAP)).toBe('0 200000 10\n10 300000 5\n');
    expect(hostIdOf(GMAP, 0)).toBe(200000);
    expect(hostIdOf(GMAP, 12)).toBe(300002);
    expect(hostIdOf(GMAP, 15)).toBeUndefined();
  });
});

describe('prepareUserNamespace through the fake seam', () => {
  it('maps the holder only once it is in its namespace: uid_map, then gid_map', async () => {
    const sys = new FakeSys();
    const log: string[] = [];
    const h = fakeHolder(log);
    const pending = prepareUserNamespace(sys, h.spawn, { kind: 'new', uidMappings: MAP, gidMappings: GMAP });
    await Promise.resolve();
    // nothing written before the holder said it is in the new namespace
    expect(sys.callsOf('writeFile')).toEqual([]);
    h.becomeReady();
    const prepared = await pending;
    expect(h.argv[0]!.slice(1, 3)).toEqual(['--user', '--']);
    expect(h.argv[0]![0]).toMatch(/unshare$/);
    // the holder must fork nothing (it would take pid 1 of a pid namespace made with it)
    expect(h.argv[0]).not.toContain('--fork');
    expect(sys.callsOf('writeFile')).toEqual([
      ['/proc/4242/uid_map', '0 100000 65534\n'],
      ['/proc/4242/gid_map', '0 200000 10\n10 300000 5\n'],
    ]);
    expect(prepared!.userPath).toBe('/proc/4242/ns/user');
    expect(log).toEqual(['spawn', 'ready']);
    prepared!.release();
    expect(log).toEqual(['spawn', 'ready', 'kill']);
  });

  it('kills the holder when mapping fails', async () => {
    const sys = new FakeSys();
    sys.failOn('writeFile', 1 /* EPERM */);
    const log: string[] = [];
    const h = fakeHolder(log);
    h.becomeReady();
    await expect(prepareUserNamespace(sys, h.spawn, { kind: 'new', uidMappings: MAP, gidMappings: MAP })).rejects.toThrow(/uid_map/);
    expect(log).toEqual(['ready', 'spawn', 'kill']);
  });

  it('kills the holder when it never gets ready, and writes nothing', async () => {
    const sys = new FakeSys();
    const log: string[] = [];
    const h = fakeHolder(log);
    h.fail(new Error('unshare: unshare failed: Operation not permitted'));
    await expect(prepareUserNamespace(sys, h.spawn, { kind: 'new', uidMappings: MAP, gidMappings: MAP })).rejects.toThrow(/unshare failed/);
    expect(sys.callsOf('writeFile')).toEqual([]);
    expect(log).toEqual(['spawn', 'kill']);
  });

  it('joins an existing user namespace without a holder, and does nothing without one', async () => {
    const sys = new FakeSys();
    const log: string[] = [];
    const h = fakeHolder(log);
    const joined = await prepareUserNamespace(sys, h.spawn, { kind: 'join', path: '/proc/9/ns/user' });
    expect(joined!.userPath).toBe('/proc/9/ns/user');
    expect(await prepareUserNamespace(sys, h.spawn, { kind: 'none' })).toBeUndefined();
    expect(log).toEqual([]);
    expect(sys.calls).toEqual([]);
  });
});

describe('the stage trampoline', () => {
  it('joins the user namespace first, then makes the pid namespace inside it and forks the stage into it', () => {
    const argv = trampolineArgv('/proc/4242/ns/user', true);
    const tool = (i: number) => argv[i]!.split('/').pop();
    expect(tool(0)).toBe('nsenter');
    expect(argv[1]).toBe('--user=/proc/4242/ns/user');
    const unshare = argv.findIndex((a) => a.endsWith('/unshare') || a === 'unshare');
    const setsid = argv.findIndex((a) => a.endsWith('/setsid') || a === 'setsid');
    expect(unshare).toBeGreaterThan(1);
    expect(argv.slice(unshare + 1, unshare + 3)).toEqual(['--pid', '--']);
    expect(setsid).toBeGreaterThan(unshare);
    expect(argv.slice(setsid + 1)).toEqual(['--fork', '--']);
    // nsenter must not keep the host's credentials: it becomes root of the user namespace
    expect(argv).not.toContain('--preserve-credentials');
  });

  it('only joins the user namespace when the pid namespace is not new (exec, or a shared one)', () => {
    const argv = trampolineArgv('/proc/7/ns/user', false);
    expect(argv.slice(1)).toEqual(['--user=/proc/7/ns/user', '--']);
  });
});
