/**
 * Progress in Docker's JSON message format (what `docker pull` / `docker push` render): one object
 * per line, `id` the 12-hex short form of a layer digest for per-layer lines.
 */
interface ProgressDetail {
  current?: number;
  total?: number;
}

export interface JsonMessage {
  status?: string;
  id?: string;
  progressDetail?: ProgressDetail;
  progress?: string;
  aux?: Record<string, unknown>;
  errorDetail?: { message: string };
  error?: string;
}

export type ProgressSink = (m: JsonMessage) => void;

export const shortDigest = (digest: string): string => digest.replace(/^[a-z0-9]+:/, '').slice(0, 12);

/** The textual bar Docker's daemon adds ("[=====>     ]  1.2MB/3.4MB"); the CLI renders from progressDetail anyway. */
function progressBar(current: number, total: number): string {
  const width = 50;
  const filled = total > 0 ? Math.min(width, Math.floor((current / total) * width)) : 0;
  const bar = `${'='.repeat(Math.max(0, filled - 1))}${filled > 0 ? '>' : ''}${' '.repeat(width - filled)}`;
  return `[${bar}] ${humanSize(current)}/${humanSize(total)}`;
}

function humanSize(n: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let v = n;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${i === 0 ? v : v.toPrecision(3)}${units[i]}`;
}

/** Per-layer progress lines, throttled so a fast download does not flood the stream. */
export class LayerProgress {
  private last = 0;

  constructor(
    private readonly sink: ProgressSink,
    readonly id: string,
    private readonly status: string,
    readonly total: number,
  ) {}

  update(current: number, force = false): void {
    const now = Date.now();
    if (!force && now - this.last < 100 && current < this.total) return;
    this.last = now;
    this.sink({ status: this.status, progressDetail: { current, total: this.total }, progress: progressBar(current, this.total), id: this.id });
  }
}
