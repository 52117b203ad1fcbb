/**
 * STOPSIGNAL's check, as Docker's signal.ParseSignal on Linux: a non-zero number, or a signal
 * name with or without `SIG`, any case (`SIGTERM`, `term`, `RTMIN+3`).
 */
import { InstructionValueError } from './errors';

const NAMES = new Set([
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
  'URG',
  'USR1',
  'USR2',
  'VTALRM',
  'WINCH',
  'XCPU',
  'XFSZ',
  'RTMIN',
  'RTMAX',
]);
for (let i = 1; i <= 15; i++) NAMES.add(`RTMIN+${i}`);
for (let i = 1; i <= 14; i++) NAMES.add(`RTMAX-${i}`);

/** Throws InstructionValueError (`Invalid signal: FOO`) unless Docker accepts the signal. */
export function checkSignal(raw: string): void {
  if (/^[+-]?[0-9]+$/.test(raw)) {
    if (Number(raw) === 0) throw new InstructionValueError(`Invalid signal: ${raw}`);
    return;
  }
  const upper = raw.toUpperCase();
  if (!NAMES.has(upper.startsWith('SIG') ? upper.slice(3) : upper)) throw new InstructionValueError(`Invalid signal: ${raw}`);
}
