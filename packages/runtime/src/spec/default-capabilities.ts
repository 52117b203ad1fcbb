/**
 * The capability set Docker and containerd's CRI plugin give an unprivileged container (bounding =
 * effective = permitted), one copy for gantryd and gantry-containerd. `runc spec`'s smaller set is
 * default-spec.ts's.
 */
export const CONTAINER_DEFAULT_CAPABILITIES: readonly string[] = [
  'CAP_CHOWN',
  'CAP_DAC_OVERRIDE',
  'CAP_FSETID',
  'CAP_FOWNER',
  'CAP_MKNOD',
  'CAP_NET_RAW',
  'CAP_SETGID',
  'CAP_SETUID',
  'CAP_SETFCAP',
  'CAP_SETPCAP',
  'CAP_NET_BIND_SERVICE',
  'CAP_SYS_CHROOT',
  'CAP_KILL',
  'CAP_AUDIT_WRITE',
];
