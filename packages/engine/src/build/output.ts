/**
 * The classic builder's response: Docker JSON messages, one per line — `{"stream": ...}` for
 * text, `{"aux": {"ID": ...}}` for the image, `{"errorDetail": ..., "error": ...}` at a failure.
 * The 200 starts with the first message, so an error before any output is still an ordinary
 * HTTP error response (what dockerd does for a Dockerfile that does not parse).
 */
import type { ServerResponse } from 'node:http';
import { API_VERSION } from '@gantry/engine-api';

/** A failure Docker reports with a status code (a RUN's exit code: the CLI exits with it). */
export class BuildError extends Error {
  constructor(
    message: string,
    readonly code?: number,
  ) {
    super(message);
    this.name = 'BuildError';
  }
}

export class BuildOutput {
  constructor(
    private readonly res: ServerResponse,
    /** q=1: only the image ID (aux, then as text at the end) and errors are sent. */
    private readonly quiet: boolean,
  ) {}

  get started(): boolean {
    return this.res.headersSent;
  }

  private send(m: unknown): void {
    const res = this.res;
    if (res.writableEnded || res.destroyed) return;
    if (!res.headersSent) res.writeHead(200, { 'Content-Type': 'application/json', 'Api-Version': API_VERSION, Ostype: 'linux' });
    res.write(`${JSON.stringify(m)}\n`);
  }

  /** Text for the client's terminal (end it with "\n" yourself). */
  stream(text: string): void {
    if (!this.quiet && text !== '') this.send({ stream: text });
  }

  /** The built image's ID, as dockerd's builder emits it (`"id": "moby.image.id"`). */
  aux(id: string): void {
    this.send({ id: 'moby.image.id', aux: { ID: id } });
  }

  /** q=1: the image ID as the only text, once everything worked (what `docker build -q` prints). */
  quietResult(id: string): void {
    if (this.quiet) this.send({ stream: `${id}\n` });
  }

  error(message: string, code?: number): void {
    this.send({ errorDetail: { ...(code !== undefined ? { code } : {}), message }, error: message });
  }

  end(): void {
    if (!this.res.writableEnded) this.res.end();
  }
}
