/** Typed errors of the runtime. The CLI prints `message` as one line and exits non-zero. */

export class RuntimeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** config.json is malformed, incomplete or asks for something unsupported. */
export class ConfigError extends RuntimeError {}

/** The container id is invalid, unknown or already taken. */
export class ContainerIdError extends RuntimeError {}

/** The operation does not fit the container's current status (e.g. start of a running container). */
export class StateError extends RuntimeError {}

/** The container process could not be set up or started. */
export class InitError extends RuntimeError {}
