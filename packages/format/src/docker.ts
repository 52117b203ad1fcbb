/**
 * What docker's CLI formatters (cli/command/formatter) and the daemon's state strings do to
 * values before a template sees them: truncated IDs, ellipsized commands, `ps`'s PORTS column,
 * "Up 3 minutes (Paused)" / "Exited (0) 5 seconds ago", "2 hours ago".
 */
import { goQuote } from './template/errors';
import { humanDuration } from './units';

/** stringid.TruncateID: drop a `sha256:`-style prefix, keep 12 characters. */
export function truncateId(id: string): string {
  const i = id.indexOf(':');
  if (i >= 0) id = id.slice(i + 1);
  return id.length > 12 ? id.slice(0, 12) : id;
}

/** East Asian wide and fullwidth characters take two columns (golang.org/x/text/width). */
function charWidth(cp: number): number {
  if (
    (cp >= 0x1100 && cp <= 0x115f) ||
    (cp >= 0x2e80 && cp <= 0x303e) ||
    (cp >= 0x3041 && cp <= 0x33ff) ||
    (cp >= 0x3400 && cp <= 0x4dbf) ||
    (cp >= 0x4e00 && cp <= 0x9fff) ||
    (cp >= 0xa000 && cp <= 0xa4cf) ||
    (cp >= 0xac00 && cp <= 0xd7a3) ||
    (cp >= 0xf900 && cp <= 0xfaff) ||
    (cp >= 0xfe30 && cp <= 0xfe4f) ||
    (cp >= 0xff00 && cp <= 0xff60) ||
    (cp >= 0xffe0 && cp <= 0xffe6) ||
    (cp >= 0x1f300 && cp <= 0x1f64f) ||
    (cp >= 0x1f900 && cp <= 0x1f9ff) ||
    (cp >= 0x20000 && cp <= 0x3fffd)
  )
    return 2;
  return 1;
}

/** docker's Ellipsis: cut to `maxWidth` display columns, the last one an ellipsis (…). */
export function ellipsis(s: string, maxWidth: number): string {
  if (maxWidth <= 0) return '';
  const rs = [...s];
  if (maxWidth === 1) return rs[0] ?? '';
  let width = 0;
  const ends: number[] = [];
  for (const r of rs) {
    width += charWidth(r.codePointAt(0) ?? 0);
    ends.push(width);
  }
  if (width <= maxWidth) return s;
  let n = 0;
  while (n < rs.length && ends[n] <= maxWidth - 1) n++;
  return rs.slice(0, n).join('') + '…';
}

/** The COMMAND column: quoted, ellipsized to 20 columns unless --no-trunc. */
export function formatCommand(command: string, trunc = true): string {
  return goQuote(trunc ? ellipsis(command, 20) : command);
}

/** A port as the Engine API lists it for a container (GET /containers/json). */
export interface ApiPort {
  IP?: string;
  PrivatePort: number;
  PublicPort?: number;
  Type: string;
}

function comparePorts(a: ApiPort, b: ApiPort): number {
  if (a.PrivatePort !== b.PrivatePort) return a.PrivatePort - b.PrivatePort;
  const ai = a.IP ?? '';
  const bi = b.IP ?? '';
  if (ai !== bi) return ai < bi ? -1 : 1;
  if ((a.PublicPort ?? 0) !== (b.PublicPort ?? 0)) return (a.PublicPort ?? 0) - (b.PublicPort ?? 0);
  return a.Type < b.Type ? -1 : a.Type > b.Type ? 1 : 0;
}

function formGroup(key: string, first: number, last: number): string {
  const slash = key.lastIndexOf('/');
  const ip = slash >= 0 ? key.slice(0, slash) : '';
  const type = slash >= 0 ? key.slice(slash + 1) : key;
  let group = String(first);
  if (first !== last) group += `-${last}`;
  if (ip !== '') group = `${ip}:${group}->${group}`;
  return `${group}/${type}`;
}

/**
 * docker ps's PORTS: sorted; runs of consecutive ports with the same IP and protocol (published
 * to the same number, or only exposed) collapse to ranges (`0.0.0.0:8000-8002->8000-8002/tcp`,
 * `80-81/tcp`); a port published to another number stays alone (`0.0.0.0:8080->80/tcp`), after
 * the groups. IPv6 addresses print as the API gives them (`:::8080->80/tcp`).
 */
export function displayablePorts(ports: readonly ApiPort[]): string {
  const sorted = [...ports].sort(comparePorts);
  const groups = new Map<string, { first: number; last: number }>();
  const order: string[] = [];
  const result: string[] = [];
  const hostMappings: string[] = [];
  for (const p of sorted) {
    const current = p.PrivatePort;
    let key = p.Type;
    if (p.IP) {
      if ((p.PublicPort ?? 0) !== current) {
        hostMappings.push(`${p.IP}:${p.PublicPort ?? 0}->${p.PrivatePort}/${p.Type}`);
        continue;
      }
      key = `${p.IP}/${p.Type}`;
    }
    const g = groups.get(key);
    if (!g) {
      groups.set(key, { first: current, last: current });
      order.push(key);
      continue;
    }
    if (current === g.last + 1) {
      g.last = current;
      continue;
    }
    result.push(formGroup(key, g.first, g.last));
    groups.set(key, { first: current, last: current });
  }
  for (const key of order) {
    const g = groups.get(key);
    if (g) result.push(formGroup(key, g.first, g.last));
  }
  return [...result, ...hostMappings].join(', ');
}

/** The part of a container's State the status string reads (times as RFC 3339 strings or Dates). */
export interface ContainerStateLike {
  Running?: boolean;
  Paused?: boolean;
  Restarting?: boolean;
  Dead?: boolean;
  Status?: string;
  ExitCode?: number;
  StartedAt?: string | Date;
  FinishedAt?: string | Date;
  Health?: { Status?: string } | null;
}

const ZERO_TIME = '0001-01-01T00:00:00Z';

function ms(t: string | Date | undefined): number | undefined {
  if (t === undefined || t === '' || t === ZERO_TIME) return undefined;
  const v = t instanceof Date ? t.getTime() : Date.parse(t);
  return Number.isNaN(v) || v <= -62135596800000 ? undefined : v;
}

/** "2 hours ago" (docker's RunningFor / CREATED column). */
export function timeAgo(t: string | Date | number, now: number = Date.now()): string {
  const at = typeof t === 'number' ? t : (ms(t) ?? now);
  return `${humanDuration(now - at)} ago`;
}

/**
 * The daemon's status string (moby's State.String): "Up 3 minutes (Paused)", "Up 2 hours (healthy)",
 * "Restarting (1) 5 seconds ago", "Removal In Progress", "Dead", "Created", "Exited (0) 5 seconds ago".
 */
export function containerStatus(st: ContainerStateLike, now: number = Date.now()): string {
  if (st.Running) {
    if (st.Paused) return `Up ${humanDuration(now - (ms(st.StartedAt) ?? now))} (Paused)`;
    if (st.Restarting) return `Restarting (${st.ExitCode ?? 0}) ${humanDuration(now - (ms(st.FinishedAt) ?? now))} ago`;
    const h = st.Health?.Status;
    const health = h === 'starting' ? ' (health: starting)' : h === 'healthy' || h === 'unhealthy' ? ` (${h})` : '';
    return `Up ${humanDuration(now - (ms(st.StartedAt) ?? now))}${health}`;
  }
  if (st.Status === 'removing') return 'Removal In Progress';
  if (st.Dead || st.Status === 'dead') return 'Dead';
  if (ms(st.StartedAt) === undefined) return 'Created';
  const finished = ms(st.FinishedAt);
  if (finished === undefined) return '';
  return `Exited (${st.ExitCode ?? 0}) ${humanDuration(now - finished)} ago`;
}

/** Container names from the API ("/web") without their slash; with trunc, only the first plain name (no link names). */
export function containerNames(names: readonly string[], trunc = true): string {
  let out = names.map((n) => (n.startsWith('/') ? n.slice(1) : n));
  if (trunc) {
    const plain = out.find((n) => !n.includes('/'));
    if (plain !== undefined) out = [plain];
  }
  return out.join(',');
}
