import { BPF } from '@gantry/linux';
import type { DeviceCgroupRule } from '../spec/types';
import { BpfAssembler, R0, R1, R2, R3, R4, R5 } from './bpf-asm';
import { parseDeviceRule, type ParsedDeviceRule } from './devices';

/**
 * BPF_PROG_LOAD's license. The kernel only checks it before letting a program call a GPL-only
 * helper; this program calls no helper, so any string loads (runc passes "Apache").
 */
export const DEVICE_FILTER_LICENSE = 'Apache';
/** Program name shown by `bpftool prog`. */
export const DEVICE_FILTER_NAME = 'gantry_devices';

/** Access bits in the order their sections appear, with the rule letter that grants each. */
const ACCESS_BITS: [letter: string, bit: number][] = [
  ['r', BPF.DEVCG_ACC_READ],
  ['w', BPF.DEVCG_ACC_WRITE],
  ['m', BPF.DEVCG_ACC_MKNOD],
];
const KNOWN_ACCESS = BPF.DEVCG_ACC_READ | BPF.DEVCG_ACC_WRITE | BPF.DEVCG_ACC_MKNOD;

/**
 * A BPF_PROG_TYPE_CGROUP_DEVICE program (instruction bytes) that decides device access as the
 * OCI rules say, with cgroup v1's allow-list behaviour:
 *
 * - default deny: a request no rule covers is refused;
 * - each access bit of a request (read, write, mknod) is decided on its own by the LAST rule that
 *   matches the device (type, or "a" for both; major and minor, or any) and names that bit; the
 *   request is allowed only if every bit it asks for is allowed. So "allow c 1:3 r" then
 *   "allow c 1:3 w" together allow an O_RDWR open (as v1's merged exceptions do), and a later
 *   "deny c 1:3 w" refuses any open for writing;
 * - a later narrow deny does punch a hole in an earlier wildcard allow ("allow c 1:* rwm" then
 *   "deny c 1:3 rwm" refuses 1:3). v1 keeps the wildcard there; this is the stricter reading;
 * - a request with an access bit this program does not know is refused.
 *
 * The context (struct bpf_cgroup_dev_ctx) is three u32: access_type = access << 16 | type, major,
 * minor. The program returns 1 to allow and 0 to refuse (the syscall then fails with EPERM).
 */
export function buildDeviceFilter(rules: DeviceCgroupRule[]): Buffer {
  const parsed = rules.map(parseDeviceRule); // validate every rule before building anything
  const a = new BpfAssembler();
  a.loadWord(R2, R1, 0).and32(R2, 0xffff); // r2 = device type
  a.loadWord(R3, R1, 0).rsh32(R3, 16); // r3 = access bits
  a.loadWord(R4, R1, 4); // r4 = major
  a.loadWord(R5, R1, 8); // r5 = minor
  a.jsetImm(R3, ~KNOWN_ACCESS, 'deny');
  for (const [letter, bit] of ACCESS_BITS) {
    const done = `${letter}:ok`;
    a.jsetImm(R3, bit, `${letter}:check`).ja(done);
    a.label(`${letter}:check`);
    if (!emitSection(a, letter, parsed, done)) a.ja('deny'); // no rule covers this bit
    a.label(done);
  }
  a.mov64Imm(R0, 1).exit();
  a.label('deny').mov64Imm(R0, 0).exit();
  return a.assemble();
}

/**
 * The rules naming `letter`, last first: each either jumps to the next one (no match) or decides.
 * Returns true when a rule matched unconditionally (nothing after it is reachable).
 */
function emitSection(a: BpfAssembler, letter: string, rules: ParsedDeviceRule[], allowed: string): boolean {
  for (let i = rules.length - 1; i >= 0; i--) {
    const rule = rules[i]!;
    if (!rule.access.includes(letter)) continue;
    const next = `${letter}:rule${i}:next`;
    let conditional = false;
    if (rule.type !== 'a') {
      a.jneImm(R2, rule.type === 'b' ? BPF.DEVCG_DEV_BLOCK : BPF.DEVCG_DEV_CHAR, next);
      conditional = true;
    }
    if (rule.major !== undefined) {
      a.jneImm(R4, rule.major, next);
      conditional = true;
    }
    if (rule.minor !== undefined) {
      a.jneImm(R5, rule.minor, next);
      conditional = true;
    }
    a.ja(rule.allow ? allowed : 'deny');
    if (!conditional) return true;
    a.label(next);
  }
  return false;
}
