import type { BlkioEntry } from './types';

/**
 * "max" (no limit) as a number: runc reports math.MaxUint64. A JS number cannot hold it exactly,
 * so this is 2^64 (what JSON.parse of runc's output also yields).
 */
export const UNLIMITED = 2 ** 64;

/** Parse one unsigned value as cgroupfs prints it; "max" is UNLIMITED, negatives clamp to 0 (as runc). */
export function parseUint(text: string, file = ''): number {
  const s = text.trim();
  if (s === 'max') return UNLIMITED;
  if (!/^-?\d+$/.test(s)) throw new Error(`cannot parse ${JSON.stringify(s)}${file ? ` in ${file}` : ''}`);
  const n = Number(s);
  return n < 0 ? 0 : n;
}

/** "key value" per line (memory.stat, cpu.stat, cpuacct.stat, memory.events, oom_control). */
export function parseFlatKeyed(content: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of content.split('\n')) {
    const fields = line.trim().split(/\s+/);
    if (fields.length !== 2 || fields[0] === '') continue;
    const [key, value] = fields as [string, string];
    if (/^-?\d+$/.test(value) || value === 'max') out[key] = parseUint(value);
  }
  return out;
}

/** "8:0 rbytes=1 wbytes=2" per line (io.stat, io.max) → key → field → value. */
export function parseNestedKeyed(content: string): Map<string, Record<string, string>> {
  const out = new Map<string, Record<string, string>>();
  for (const line of content.split('\n')) {
    const [key, ...pairs] = line.trim().split(/\s+/);
    if (!key) continue;
    const fields: Record<string, string> = {};
    for (const pair of pairs) {
      const eq = pair.indexOf('=');
      if (eq > 0) fields[pair.slice(0, eq)] = pair.slice(eq + 1);
    }
    out.set(key, fields);
  }
  return out;
}

/** Whitespace-separated numbers (cpuacct.usage_percpu). */
export function parseUintList(content: string): number[] {
  return content
    .trim()
    .split(/\s+/)
    .filter((s) => s !== '')
    .map((s) => parseUint(s));
}

/** v1 blkio files: "8:0 Read 123", "8:0 123" (sectors, time), "Total 123" (skipped). */
export function parseBlkioV1(content: string): BlkioEntry[] {
  const out: BlkioEntry[] = [];
  for (const line of content.split('\n')) {
    const fields = line
      .trim()
      .split(/[\s:]+/)
      .filter((f) => f !== '');
    if (fields.length < 3) continue; // blank or "Total N"
    const [major, minor] = fields as [string, string];
    const op = fields.length >= 4 ? (fields[2] as string) : '';
    const value = fields[fields.length - 1] as string;
    out.push({ major: parseUint(major), minor: parseUint(minor), op, value: parseUint(value) });
  }
  return out;
}

/** Every cgroup.procs line as a pid. */
export function parsePids(content: string): number[] {
  return content
    .split('\n')
    .filter((s) => /^\d+$/.test(s.trim()))
    .map((s) => Number(s.trim()));
}
