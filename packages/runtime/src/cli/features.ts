import { CAPABILITIES, KNOWN_MOUNT_OPTIONS, seccompFeatures } from '@gantry/linux';

/** `features` output, in the JSON shape runc uses (runtime-spec features.md). */
export function features(): Record<string, unknown> {
  const seccomp = (() => {
    try {
      const f = seccompFeatures();
      return {
        version: f.version,
        linux: { enabled: f.enabled, actions: f.actions, operators: f.operators, archs: f.archs, knownFlags: f.knownFlags, supportedFlags: f.supportedFlags },
      };
    } catch {
      return { version: '', linux: { enabled: false } };
    }
  })();
  return {
    ociVersionMin: '1.0.0',
    ociVersionMax: '1.1.0',
    hooks: ['prestart', 'createRuntime', 'createContainer', 'startContainer', 'poststart', 'poststop'],
    mountOptions: [...KNOWN_MOUNT_OPTIONS],
    linux: {
      namespaces: ['cgroup', 'ipc', 'mount', 'network', 'pid', 'uts'],
      capabilities: Object.keys(CAPABILITIES),
      cgroup: { v1: true, v2: true, systemd: false, systemdUser: false },
      seccomp: seccomp.linux,
      apparmor: { enabled: false },
      selinux: { enabled: false },
    },
    annotations: {
      'io.github.seccomp.libseccomp.version': seccomp.version,
      'org.opencontainers.runc.checkpoint.enabled': 'false',
    },
  };
}
