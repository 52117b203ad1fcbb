/** The CRI container spec builder: devices, users from the image's files, mount propagation. */
import { cri } from '@gantry/api';
import { errdefs } from '@gantry/linux';
import type { Device } from '@gantry/runtime';
import type { DeviceLookup } from '../src/cri/devices';
import { containerSpec, type SpecInput } from '../src/cri/spec';
import type { SandboxRecord } from '../src/cri/store';

const SANDBOX: SandboxRecord = {
  id: 'pod1',
  config: {},
  state: 'ready',
  createdAt: '0',
  netnsPath: '/run/netns/pod1',
  ipcPath: '/run/ipc/pod1',
  ip: '10.0.0.2',
  additionalIps: [],
  cgroupParent: '/k8s.io/pod1',
  hostname: 'pod1',
  dir: '/run/cri/pods/pod1',
};

/** A host with /dev/null, a /dev/snd directory of two nodes, and /dev/fuse. */
const fakeHost: DeviceLookup = {
  mapped(hostPath, containerPath) {
    const node = (path: string, major: number, minor: number): Device => ({ type: 'c', path, major, minor, fileMode: 0o666, uid: 0, gid: 0 });
    if (hostPath === '/dev/fuse') return [node(containerPath, 10, 229)];
    if (hostPath === '/dev/snd') return [node(`${containerPath}/controlC0`, 116, 0), node(`${containerPath}/timer`, 116, 33)];
    throw errdefs.invalidArgument(`failed to add device "${hostPath}": no such file or directory`);
  },
  host: () => [
    { type: 'c', path: '/dev/null', major: 1, minor: 3 },
    { type: 'c', path: '/dev/fuse', major: 10, minor: 229 },
  ],
};

function input(config: Partial<cri.ContainerConfig>, extra: Partial<SpecInput> = {}, privilegedPod = false): SpecInput {
  return {
    id: 'c1',
    sandbox: SANDBOX,
    sandboxConfig: cri.PodSandboxConfig.fromPartial({ linux: { securityContext: { privileged: privilegedPod } } }),
    config: cri.ContainerConfig.fromPartial({ metadata: { name: 'c' }, command: ['sh'], ...config }),
    image: {},
    devices: fakeHost,
    ...extra,
  };
}

describe('CRI container devices', () => {
  test('a device node and a directory of nodes at their container paths, with cgroup rules of their permissions', () => {
    const spec = containerSpec(
      input({
        devices: [
          { hostPath: '/dev/fuse', containerPath: '/dev/fuse', permissions: 'rw' },
          { hostPath: '/dev/snd', containerPath: '/dev/sound', permissions: '' },
        ],
      }),
    );
    expect(spec.linux?.devices?.map((d) => [d.path, d.major, d.minor])).toEqual([
      ['/dev/fuse', 10, 229],
      ['/dev/sound/controlC0', 116, 0],
      ['/dev/sound/timer', 116, 33],
    ]);
    expect(spec.linux?.resources?.devices).toEqual([
      { allow: false, access: 'rwm' },
      { allow: true, type: 'c', major: 10, minor: 229, access: 'rw' },
      { allow: true, type: 'c', major: 116, minor: 0, access: 'rwm' },
      { allow: true, type: 'c', major: 116, minor: 33, access: 'rwm' },
    ]);
  });

  test('the container path defaults to the host path', () => {
    const spec = containerSpec(input({ devices: [{ hostPath: '/dev/fuse', containerPath: '', permissions: 'r' }] }));
    expect(spec.linux?.devices?.map((d) => d.path)).toEqual(['/dev/fuse']);
  });

  test('no devices: none in the spec and every device denied', () => {
    const spec = containerSpec(input({}));
    expect(spec.linux?.devices).toBeUndefined();
    expect(spec.linux?.resources?.devices).toEqual([{ allow: false, access: 'rwm' }]);
  });

  test("a privileged container gets the host's nodes and every device; a mapped one replaces the host's at its path", () => {
    const spec = containerSpec(
      input(
        {
          linux: cri.LinuxContainerConfig.fromPartial({ securityContext: { privileged: true } }),
          devices: [{ hostPath: '/dev/fuse', containerPath: '/dev/null', permissions: 'rwm' }],
        },
        {},
        true,
      ),
    );
    expect(spec.linux?.devices?.map((d) => [d.path, d.major, d.minor])).toEqual([
      ['/dev/null', 10, 229],
      ['/dev/fuse', 10, 229],
    ]);
    expect(spec.linux?.resources?.devices).toEqual([{ allow: true, access: 'rwm' }]);
  });

  test('bad devices are INVALID_ARGUMENT: a missing node, bad permissions, a relative container path, no host path', () => {
    const bad = (d: cri.Device) => () => containerSpec(input({ devices: [d] }));
    expect(bad({ hostPath: '/dev/nosuch', containerPath: '/dev/x', permissions: 'rwm' })).toThrow(/failed to add device "\/dev\/nosuch"/);
    expect(bad({ hostPath: '/dev/fuse', containerPath: '/dev/fuse', permissions: 'rwx' })).toThrow(/invalid permissions "rwx"/);
    expect(bad({ hostPath: '/dev/fuse', containerPath: 'dev/fuse', permissions: 'rw' })).toThrow(/not absolute/);
    expect(bad({ hostPath: '', containerPath: '/dev/fuse', permissions: 'rw' })).toThrow(/host path is empty/);
  });
});

describe('CRI container user', () => {
  const userDb = {
    passwd: 'root:x:0:0:root:/root:/bin/sh\ndefault-user:x:1000:1000::/home/default-user:/bin/sh\n',
    group: 'root:x:0:\ndefault-user:x:1000:\ngroup-defined-in-image:x:50000:default-user\n',
  };

  test("a uid the image's passwd names takes that user's gid and groups, beside the supplemental ones", () => {
    const spec = containerSpec(
      input({ linux: cri.LinuxContainerConfig.fromPartial({ securityContext: { runAsUser: { value: 1000n }, supplementalGroups: [1234n] } }) }, { userDb }),
    );
    expect(spec.process?.user).toEqual({ uid: 1000, gid: 1000, additionalGids: [50000, 1234] });
  });

  test("the image's numeric USER is looked up the same way; an unknown uid has gid 0", () => {
    expect(containerSpec(input({}, { image: { User: '1000' }, userDb })).process?.user).toEqual({ uid: 1000, gid: 1000, additionalGids: [50000] });
    expect(containerSpec(input({}, { image: { User: '1002' }, userDb })).process?.user).toEqual({ uid: 1002, gid: 0 });
  });
});

describe('CRI mount propagation', () => {
  const mount = (propagation: cri.MountPropagation) => ({ containerPath: '/mnt', hostPath: '/', propagation });

  test('a bidirectional mount makes the root rshared, a host-to-container one rslave, private ones the default', () => {
    const of = (...p: cri.MountPropagation[]) => containerSpec(input({ mounts: p.map((x) => cri.Mount.fromPartial(mount(x))) })).linux?.rootfsPropagation;
    expect(of(cri.MountPropagation.PROPAGATION_BIDIRECTIONAL, cri.MountPropagation.PROPAGATION_HOST_TO_CONTAINER)).toBe('rshared');
    expect(of(cri.MountPropagation.PROPAGATION_HOST_TO_CONTAINER)).toBe('rslave');
    expect(of(cri.MountPropagation.PROPAGATION_PRIVATE)).toBeUndefined();
  });
});
