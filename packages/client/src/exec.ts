/** `/containers/{id}/exec` and `/exec/…`. */
import type { ExecCreateRequest, ExecInspectResponse, IdResponse } from '@gantry/engine-api';
import { seg, type CallOptions, type Core } from './core';
import { hijacked, type HijackedStream } from './streams';

export interface ExecStartOptions extends CallOptions {
  tty?: boolean;
  /** `[height, width]` */
  consoleSize?: [number, number];
}

export class Exec {
  constructor(private readonly core: Core) {}

  create(container: string, config: ExecCreateRequest, o: CallOptions = {}): Promise<IdResponse> {
    return this.core.json('POST', `/containers/${seg(container)}/exec`, { json: config, signal: o.signal });
  }

  /** Start attached: the process's stdio over a hijacked connection. */
  async start(id: string, o: ExecStartOptions = {}): Promise<HijackedStream> {
    const { socket, contentType } = await this.core.hijack(`/exec/${seg(id)}/start`, {
      json: { Detach: false, Tty: o.tty ?? false, ConsoleSize: o.consoleSize },
      signal: o.signal,
    });
    return hijacked(socket, contentType, o.tty);
  }

  /** Start detached: returns once the process runs. */
  async startDetached(id: string, o: ExecStartOptions = {}): Promise<void> {
    await this.core.empty('POST', `/exec/${seg(id)}/start`, { json: { Detach: true, Tty: o.tty ?? false, ConsoleSize: o.consoleSize }, signal: o.signal });
  }

  inspect(id: string, o: CallOptions = {}): Promise<ExecInspectResponse> {
    return this.core.json('GET', `/exec/${seg(id)}/json`, { signal: o.signal });
  }

  async resize(id: string, size: { h: number; w: number }, o: CallOptions = {}): Promise<void> {
    await this.core.empty('POST', `/exec/${seg(id)}/resize`, { query: { h: size.h, w: size.w }, signal: o.signal });
  }
}
