/**
 * Docker's ContainerPathStat, sent base64-encoded JSON in the X-Docker-Container-Path-Stat header
 * of HEAD/GET /containers/{id}/archive: {name, size, mode, mtime, linkTarget}, where `mode` is a
 * Go os.FileMode (type bits high, permission bits low), not a Unix st_mode.
 */
import type * as fs from 'node:fs';
import type { ContainerPathStat } from '@gantry/engine-api';

export const PATH_STAT_HEADER = 'X-Docker-Container-Path-Stat';

/** Go's os.FileMode bits. */
export const GO_MODE = {
  dir: 2 ** 31,
  append: 2 ** 30,
  exclusive: 2 ** 29,
  temporary: 2 ** 28,
  symlink: 2 ** 27,
  device: 2 ** 26,
  namedPipe: 2 ** 25,
  socket: 2 ** 24,
  setuid: 2 ** 23,
  setgid: 2 ** 22,
  charDevice: 2 ** 21,
  sticky: 2 ** 20,
  irregular: 2 ** 19,
} as const;

const S_IFMT = 0o170000;
const S_IFDIR = 0o040000;
const S_IFLNK = 0o120000;
const S_IFREG = 0o100000;
const S_IFBLK = 0o060000;
const S_IFCHR = 0o020000;
const S_IFIFO = 0o010000;
const S_IFSOCK = 0o140000;

/** A Unix st_mode as Go's os.FileMode (what Go's os.Lstat reports). */
export function goFileMode(stMode: number): number {
  let m = stMode & 0o777;
  switch (stMode & S_IFMT) {
    case S_IFDIR:
      m += GO_MODE.dir;
      break;
    case S_IFLNK:
      m += GO_MODE.symlink;
      break;
    case S_IFBLK:
      m += GO_MODE.device;
      break;
    case S_IFCHR:
      m += GO_MODE.device + GO_MODE.charDevice;
      break;
    case S_IFIFO:
      m += GO_MODE.namedPipe;
      break;
    case S_IFSOCK:
      m += GO_MODE.socket;
      break;
    case S_IFREG:
      break;
    default:
      m += GO_MODE.irregular;
  }
  if (stMode & 0o4000) m += GO_MODE.setuid;
  if (stMode & 0o2000) m += GO_MODE.setgid;
  if (stMode & 0o1000) m += GO_MODE.sticky;
  return m;
}

export type { ContainerPathStat } from '@gantry/engine-api';

/** A Go-style RFC 3339 timestamp (UTC, trailing zeros of the fraction dropped) from nanoseconds. */
export function goTime(ns: bigint): string {
  const secs = ns / 1_000_000_000n;
  const frac = ns % 1_000_000_000n;
  const base = new Date(Number(secs) * 1000).toISOString().replace(/\.\d{3}Z$/, '');
  const f = frac === 0n ? '' : `.${frac.toString().padStart(9, '0').replace(/0+$/, '')}`;
  return `${base}${f}Z`;
}

export function pathStat(name: string, st: fs.BigIntStats, linkTarget: string): ContainerPathStat {
  return { name, size: Number(st.size), mode: goFileMode(Number(st.mode)), mtime: goTime(st.mtimeNs), linkTarget };
}

export function encodePathStat(s: ContainerPathStat): string {
  return Buffer.from(JSON.stringify(s)).toString('base64');
}

export function decodePathStat(header: string): ContainerPathStat {
  return JSON.parse(Buffer.from(header, 'base64').toString('utf8')) as ContainerPathStat;
}
