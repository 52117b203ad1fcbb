/**
 * The errors of this package. Each is a plain Error subclass (as @gantry/oci's are), so the
 * engine maps them to errdefs kinds at its edge: all of them are the user's input at fault.
 */

/**
 * A Dockerfile Docker would refuse, with the line it names and its words:
 * `dockerfile parse error on line 3: unknown instruction: FOOBAR` (BuildKit's parser, which the
 * classic builder also uses; `reason` is the part after the colon).
 */
export class DockerfileSyntaxError extends Error {
  constructor(
    /** 1-based line where the instruction (or the faulty line) starts. */
    readonly line: number,
    readonly reason: string,
    /** The last line of the instruction (continuations, heredocs). */
    readonly endLine: number = line,
  ) {
    super(`dockerfile parse error on line ${line}: ${reason}`);
    this.name = 'DockerfileSyntaxError';
  }
}

/** `--target` names no stage: `failed to reach build target foo in Dockerfile`. */
export class UnknownTargetError extends Error {
  constructor(readonly target: string) {
    super(`failed to reach build target ${target} in Dockerfile`);
    this.name = 'UnknownTargetError';
  }
}

/** A `docker commit --change` Docker does not allow (`RUN is not a valid change command`), or one that does not parse. */
export class InvalidChangeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidChangeError';
  }
}

/**
 * An instruction whose expanded value Docker refuses when it applies it: a bad port in EXPOSE,
 * an unknown STOPSIGNAL, an empty WORKDIR.
 */
export class InstructionValueError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InstructionValueError';
  }
}
