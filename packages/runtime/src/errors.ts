/**
 * Typed errors of the runtime. The CLI prints `message` as one line and exits non-zero; callers
 * that serve an API (gantry-shim) read the errdefs kind each one carries.
 */
import { KindError, type ErrorKind } from '@gantry/linux';

export class RuntimeError extends KindError {
  constructor(message: string, kind: ErrorKind = 'unknown') {
    super(kind, message);
    this.name = new.target.name;
  }
}

/** config.json is malformed, incomplete or asks for something unsupported. */
export class ConfigError extends RuntimeError {
  constructor(message: string) {
    super(message, 'invalid-argument');
  }
}

/** The container id is invalid (the default kind), unknown (`not-found`) or already taken (`already-exists`). */
export class ContainerIdError extends RuntimeError {
  constructor(message: string, kind: 'invalid-argument' | 'not-found' | 'already-exists' = 'invalid-argument') {
    super(message, kind);
  }
}

/** The operation does not fit the container's current status (e.g. start of a running container). */
export class StateError extends RuntimeError {
  constructor(message: string) {
    super(message, 'failed-precondition');
  }
}

/** The container process could not be set up or started. */
export class InitError extends RuntimeError {}
