import type { DeviceCgroupRule, Spec } from './types';

const DEFAULT_CAPS = ['CAP_AUDIT_WRITE', 'CAP_KILL', 'CAP_NET_BIND_SERVICE'];

/** The config.json that `gantry-runtime spec` writes: runc 1.1's template (`runc spec`), hostname aside. */
export function defaultSpec(): Spec {
  return {
    ociVersion: '1.0.2-dev',
    process: {
      terminal: true,
      user: { uid: 0, gid: 0 },
      args: ['sh'],
      env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'TERM=xterm'],
      cwd: '/',
      capabilities: {
        bounding: [...DEFAULT_CAPS],
        effective: [...DEFAULT_CAPS],
        permitted: [...DEFAULT_CAPS],
        ambient: [...DEFAULT_CAPS],
      },
      rlimits: [{ type: 'RLIMIT_NOFILE', hard: 1024, soft: 1024 }],
      noNewPrivileges: true,
    },
    root: { path: 'rootfs', readonly: true },
    hostname: 'gantry',
    mounts: [
      { destination: '/proc', type: 'proc', source: 'proc' },
      { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
      { destination: '/dev/pts', type: 'devpts', source: 'devpts', options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'] },
      { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'] },
      { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
      { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
      { destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['nosuid', 'noexec', 'nodev', 'relatime', 'ro'] },
    ],
    linux: {
      resources: { devices: [{ allow: false, access: 'rwm' }] },
      // runc 1.1's template: no cgroup namespace (runc 1.2 added one); runc's tests add it when they want it
      namespaces: [{ type: 'pid' }, { type: 'network' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }],
      maskedPaths: [
        '/proc/acpi',
        '/proc/asound',
        '/proc/kcore',
        '/proc/keys',
        '/proc/latency_stats',
        '/proc/timer_list',
        '/proc/timer_stats',
        '/proc/sched_debug',
        '/sys/firmware',
        '/proc/scsi',
      ],
      readonlyPaths: ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'],
    },
  };
}

/**
 * Device cgroup rules every container gets after its own (runc's "allowed devices"): the nodes
 * the runtime itself creates in /dev, the pty devices and mknod of anything. Nodes from
 * linux.devices get no rule of their own.
 */
export function defaultDeviceRules(): DeviceCgroupRule[] {
  const rules: DeviceCgroupRule[] = [
    { allow: true, type: 'c', major: null, minor: null, access: 'm' },
    { allow: true, type: 'b', major: null, minor: null, access: 'm' },
    { allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' },
    { allow: true, type: 'c', major: 1, minor: 5, access: 'rwm' },
    { allow: true, type: 'c', major: 1, minor: 7, access: 'rwm' },
    { allow: true, type: 'c', major: 1, minor: 8, access: 'rwm' },
    { allow: true, type: 'c', major: 1, minor: 9, access: 'rwm' },
    { allow: true, type: 'c', major: 5, minor: 0, access: 'rwm' },
    { allow: true, type: 'c', major: 5, minor: 1, access: 'rwm' },
    { allow: true, type: 'c', major: 5, minor: 2, access: 'rwm' },
    { allow: true, type: 'c', major: 136, minor: null, access: 'rwm' },
  ];
  return rules;
}
