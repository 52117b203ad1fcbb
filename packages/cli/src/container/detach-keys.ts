/**
 * Detach keys as docker spells them (`ctrl-p,ctrl-q`, `ctrl-a,x`): parsed to bytes, and found in
 * the stdin stream before it reaches the container. Bytes that start the sequence are held back
 * until it is complete (detach) or broken (they are sent on).
 */
import { CliError } from '../errors';

export const DEFAULT_DETACH_KEYS = 'ctrl-p,ctrl-q';

const CTRL_SPECIAL: Record<string, number> = { '@': 0, '[': 27, '\\': 28, ']': 29, '^': 30, _: 31 };

export function parseDetachKeys(spec: string): Buffer {
  const out: number[] = [];
  for (const key of spec.split(',')) {
    const k = key.trim();
    if (k.length === 1) out.push(k.charCodeAt(0));
    else if (/^ctrl-[a-z]$/i.test(k)) out.push(k.toLowerCase().charCodeAt(5) - 96);
    else if (/^ctrl-[@[\\\]^_]$/.test(k)) out.push(CTRL_SPECIAL[k.slice(5)] ?? 0);
    else throw new CliError(`Unknown character: '${k}'`, 125);
  }
  return Buffer.from(out);
}

export class DetachKeyDetector {
  private held = 0;

  constructor(private readonly keys: Buffer) {}

  /** What to send on from `chunk`, and whether the sequence is complete (the rest of the chunk is dropped). */
  feed(chunk: Buffer): { forward: Buffer; detached: boolean } {
    if (this.keys.length === 0) return { forward: chunk, detached: false };
    const out: number[] = [];
    for (const b of chunk) {
      if (b === this.keys[this.held]) {
        this.held++;
        if (this.held === this.keys.length) return { forward: Buffer.from(out), detached: true };
        continue;
      }
      // a broken sequence: the held bytes were input after all
      for (let i = 0; i < this.held; i++) out.push(this.keys[i] ?? 0);
      this.held = 0;
      if (b === this.keys[0]) this.held = 1;
      else out.push(b);
    }
    return { forward: Buffer.from(out), detached: false };
  }
}
