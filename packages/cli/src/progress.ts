/**
 * docker's rendering of a JSON message stream (pull, push, load, import, build): on a terminal
 * one line per layer id, redrawn in place with cursor movement (`<id>: Downloading [==>  ]
 * 1.2MB/3.4MB 2s`); piped, progress updates are dropped and every other message is one plain
 * line. Messages carrying an error are the client's to throw; `aux` goes to a callback.
 */
import type { JsonMessage } from '@gantry/client';
import { humanSize } from '@gantry/format';
import type { TermInfo } from './tty';

interface Output {
  write(s: string): unknown;
}

/** The progressDetail docker sends: current and total bytes, and when the transfer started (unix seconds). */
interface Detail {
  current?: number;
  total?: number;
  start?: number;
  units?: string;
}

const ESC = '\x1b[';

/** Whole seconds as Go's time.Duration prints them: `0s`, `42s`, `1m5s`, `2h0m3s`. */
export function goSeconds(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return `${h > 0 ? `${h}h` : ''}${h > 0 || m > 0 ? `${m}m` : ''}${s % 60}s`;
}

/** moby's JSONProgress.String(): the bar (when wider than 110 columns), the numbers, the time left (when wider than 50). */
export function progressBar(d: Detail, width: number, nowSeconds: number): string {
  const current = d.current ?? 0;
  const total = d.total ?? 0;
  if (current <= 0 && total <= 0) return '';
  if (total <= 0) return d.units === 'items' ? `${current}`.padStart(8) : humanSize(current).padStart(8);
  let percentage = Math.floor(((current / total) * 100) / 2);
  if (percentage > 50) percentage = 50;
  const bar = width > 110 ? `[${'='.repeat(percentage)}>${' '.repeat(50 - percentage)}] ` : '';
  let numbers = d.units === 'items' ? `${current}/${total}`.padStart(8) : `${humanSize(current).padStart(8)}/${humanSize(total)}`;
  if (current > total) numbers = '';
  let left = '';
  if ((d.start ?? 0) > 0 && width > 50 && current > 0) {
    const perUnit = (nowSeconds - (d.start ?? 0)) / current;
    left = ' ' + goSeconds((total - current) * perUnit);
  }
  return bar + numbers + left;
}

interface ProgressOptions extends TermInfo {
  /** For the time left of a bar (tests fix it). */
  now?: () => number;
}

/** Writes the messages of one stream as docker's DisplayJSONMessagesStream does. */
export class ProgressPrinter {
  /** line of each id counted from the first progress line; cleared by any other message */
  private ids = new Map<string, number>();
  private readonly now: () => number;

  constructor(
    private readonly out: Output,
    private readonly opts: ProgressOptions,
    private readonly onAux?: (aux: Record<string, unknown>) => void,
  ) {
    this.now = opts.now ?? (() => Date.now() / 1000);
  }

  write(m: JsonMessage): void {
    if (m.aux !== undefined) {
      this.onAux?.(m.aux);
      return;
    }
    const { tty } = this.opts;
    const detail = m.progressDetail as Detail | undefined;
    const hasProgress = detail !== undefined;
    let diff = 0;
    if (m.id !== undefined && m.id !== '' && (hasProgress || (m.progress ?? '') !== '')) {
      let line = this.ids.get(m.id);
      if (line === undefined) {
        line = this.ids.size;
        this.ids.set(m.id, line);
        if (tty) this.out.write('\n');
      }
      diff = this.ids.size - line;
      if (tty && diff > 0) this.out.write(`${ESC}${diff}A`);
    } else {
      this.ids = new Map();
    }
    this.display(m, detail);
    if (m.id !== undefined && m.id !== '' && tty && diff > 0) this.out.write(`${ESC}${diff}B`);
  }

  private display(m: JsonMessage, detail: Detail | undefined): void {
    const { tty, width } = this.opts;
    const bar = detail === undefined ? '' : progressBar(detail, width, this.now());
    let endl = '';
    if (tty && (m.stream ?? '') === '' && detail !== undefined) {
      endl = '\r';
      this.out.write(`${ESC}2K\r`);
    } else if (detail !== undefined && bar !== '') {
      return; // piped: no bars
    }
    let s = '';
    if (m.timeNano !== undefined && m.timeNano !== 0) s += `${new Date(m.timeNano / 1e6).toISOString()} `;
    else if (m.time !== undefined && m.time !== 0) s += `${new Date(m.time * 1000).toISOString()} `;
    if (m.id !== undefined && m.id !== '') s += `${m.id}: `;
    if (m.from !== undefined && m.from !== '') s += `(from ${m.from}) `;
    const status = m.status ?? '';
    if (detail !== undefined && tty) s += `${status} ${bar}${endl}`;
    else if ((m.progress ?? '') !== '') s += `${status} ${m.progress ?? ''}${endl}`;
    else if ((m.stream ?? '') !== '') s += `${m.stream ?? ''}${endl}`;
    else s += `${status}${endl}\n`;
    this.out.write(s);
  }
}

/** Prints every message of a stream; resolves when it ends (an in-band error is thrown by the client's iterator). */
export async function printProgress(
  out: Output,
  messages: AsyncIterable<JsonMessage>,
  opts: ProgressOptions,
  onAux?: (aux: Record<string, unknown>) => void,
): Promise<void> {
  const p = new ProgressPrinter(out, opts, onAux);
  for await (const m of messages) p.write(m);
}
