/**
 * The signal names Docker accepts for STOPSIGNAL, `--stop-signal` and `docker kill -s` (moby's
 * signal map on Linux), without the `SIG` prefix. One table for the builder and the engine.
 */
const DOCKER_SIGNAL_NAMES: ReadonlySet<string> = new Set([
  'ABRT',
  'ALRM',
  'BUS',
  'CHLD',
  'CLD',
  'CONT',
  'FPE',
  'HUP',
  'ILL',
  'INT',
  'IO',
  'IOT',
  'KILL',
  'PIPE',
  'POLL',
  'PROF',
  'PWR',
  'QUIT',
  'SEGV',
  'STKFLT',
  'STOP',
  'SYS',
  'TERM',
  'TRAP',
  'TSTP',
  'TTIN',
  'TTOU',
  'UNUSED',
  'URG',
  'USR1',
  'USR2',
  'VTALRM',
  'WINCH',
  'XCPU',
  'XFSZ',
  'RTMIN',
  'RTMAX',
  ...Array.from({ length: 15 }, (_, i) => `RTMIN+${i + 1}`),
  ...Array.from({ length: 14 }, (_, i) => `RTMAX-${i + 1}`),
]);

/** Docker's signal.ParseSignal acceptance: a non-zero number, or a known name with or without `SIG`, any case. */
export function isDockerSignal(raw: string): boolean {
  if (/^[+-]?\d+$/.test(raw)) return Number(raw) !== 0;
  const upper = raw.toUpperCase();
  return DOCKER_SIGNAL_NAMES.has(upper.startsWith('SIG') ? upper.slice(3) : upper);
}
