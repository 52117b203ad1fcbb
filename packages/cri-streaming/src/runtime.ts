/** What the streaming server needs from the container runtime, and the CRI requests it serves. */
import type { Duplex, Readable, Writable } from 'node:stream';

/** A terminal size as client-go sends it on the resize stream. */
export interface TerminalSize {
  width: number;
  height: number;
}

/**
 * The client's streams for one exec or attach. The server ends stdout and stderr after the call
 * settles (the runtime may end them earlier); stdin ends when the client closes it.
 */
export interface ExecStreams {
  stdin?: Readable;
  stdout?: Writable;
  stderr?: Writable;
  tty: boolean;
  /** Terminal sizes as the client sends them (TTY only); ends with the connection. */
  resize?: AsyncIterable<TerminalSize>;
}

export interface StreamingRuntime {
  /** Runs `cmd` in the container; resolves with its exit status (non-zero is not an error). */
  exec(containerId: string, cmd: string[], streams: ExecStreams): Promise<number>;
  /** Attaches to the container's main process; resolves when the attachment ends. */
  attach(containerId: string, streams: ExecStreams): Promise<void>;
  /** Connects `stream` to `port` inside the pod's network namespace; resolves when both directions are done. */
  portForward(podSandboxId: string, port: number, stream: Duplex): Promise<void>;
}

/** CRI's ExecRequest (runtime.v1), the fields the streaming server uses. */
export interface ExecRequest {
  containerId: string;
  cmd: string[];
  tty: boolean;
  stdin: boolean;
  stdout: boolean;
  stderr: boolean;
}

/** CRI's AttachRequest. */
export interface AttachRequest {
  containerId: string;
  stdin: boolean;
  tty: boolean;
  stdout: boolean;
  stderr: boolean;
}

/** CRI's PortForwardRequest. */
export interface PortForwardRequest {
  podSandboxId: string;
  port: number[];
}

/** CRI's Exec/Attach/PortForward responses. */
export interface StreamingResponse {
  url: string;
}
