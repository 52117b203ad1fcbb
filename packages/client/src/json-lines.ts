/** Streams of JSON values (events, stats, progress): one value per line, chunked anyhow. */
import { messageError, type JsonMessage } from '@gantry/engine-api';
import { ProgressError } from './errors';

/**
 * Each JSON value of a newline-separated stream. gantryd writes one per line; dockerd's
 * json.Encoder does too, so a line is the unit.
 */
export async function* jsonLines<T>(chunks: AsyncIterable<Buffer | string>): AsyncGenerator<T> {
  let text = '';
  for await (const chunk of chunks) {
    text += typeof chunk === 'string' ? chunk : chunk.toString('utf8');
    let nl: number;
    while ((nl = text.indexOf('\n')) >= 0) {
      const line = text.slice(0, nl).trim();
      text = text.slice(nl + 1);
      if (line !== '') yield JSON.parse(line) as T;
    }
  }
  if (text.trim() !== '') yield JSON.parse(text) as T;
}

/** Progress messages, throwing a `ProgressError` at the first that reports a failure. */
export async function* progressMessages(chunks: AsyncIterable<Buffer | string>): AsyncGenerator<JsonMessage> {
  for await (const m of jsonLines<JsonMessage>(chunks)) {
    const err = messageError(m);
    if (err) throw new ProgressError(err.message, err.code);
    yield m;
  }
}
