/**
 * The resize stream: JSON objects one after another ({"Width":80,"Height":24}, client-go's
 * encoding of remotecommand.TerminalSize), read as an async iterable of sizes. Bounded: an object
 * over 4 KiB or text that is not an object ends the iteration.
 */
import type { Readable } from 'node:stream';
import type { TerminalSize } from './runtime';

const MAX_OBJECT = 4096;

function sizeOf(v: unknown): TerminalSize | undefined {
  if (typeof v !== 'object' || v === null) return undefined;
  const o = v as Record<string, unknown>;
  const w = o.Width ?? o.width;
  const h = o.Height ?? o.height;
  if (typeof w !== 'number' || typeof h !== 'number' || !Number.isInteger(w) || !Number.isInteger(h)) return undefined;
  if (w < 0 || h < 0 || w > 0xffff || h > 0xffff) return undefined;
  return { width: w, height: h };
}

/** Splits concatenated JSON objects (no nesting needed: a size is flat). */
class JsonObjectSplitter {
  private buf = '';

  /** The complete objects `text` finishes; throws on garbage or an oversized object. */
  push(text: string): unknown[] {
    this.buf += text;
    const out: unknown[] = [];
    for (;;) {
      this.buf = this.buf.replace(/^\s+/, '');
      if (this.buf.length === 0) break;
      if (this.buf[0] !== '{') throw new Error('resize stream: expected a JSON object');
      const end = this.buf.indexOf('}');
      if (end < 0) {
        if (this.buf.length > MAX_OBJECT) throw new Error('resize stream: object too large');
        break;
      }
      out.push(JSON.parse(this.buf.slice(0, end + 1)));
      this.buf = this.buf.slice(end + 1);
    }
    return out;
  }
}

export async function* terminalSizes(stream: Readable): AsyncGenerator<TerminalSize> {
  const split = new JsonObjectSplitter();
  try {
    for await (const chunk of stream) {
      for (const v of split.push(Buffer.isBuffer(chunk) ? chunk.toString('utf8') : String(chunk))) {
        const size = sizeOf(v);
        if (size) yield size;
      }
    }
  } catch {
    // A broken resize stream ends the sizes; the exec goes on.
  }
}
