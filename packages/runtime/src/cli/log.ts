import * as fs from 'node:fs';

export type LogFormat = 'text' | 'json';

/**
 * runc-style logging (logrus): debug (with --debug), warning and error lines go to the --log file
 * in text or JSON form (containerd reads the JSON), or to stderr without --log. Errors are also
 * written to stderr as one plain line, so a caller always sees why a command failed.
 */
export class CliLog {
  private fd: number | undefined;
  constructor(
    file: string | undefined,
    private readonly format: LogFormat,
    private readonly debugEnabled: boolean,
  ) {
    if (file) {
      try {
        this.fd = fs.openSync(file, 'a', 0o644);
      } catch {
        this.fd = undefined;
      }
    }
  }

  get debugging(): boolean {
    return this.debugEnabled;
  }

  private line(level: string, msg: string): string {
    const time = new Date().toISOString();
    return this.format === 'json' ? JSON.stringify({ level, msg, time }) : `time="${time}" level=${level} msg=${JSON.stringify(msg)}`;
  }

  private write(level: string, msg: string): void {
    if (this.fd !== undefined) fs.writeSync(this.fd, `${this.line(level, msg)}\n`);
    else if (level !== 'error') process.stderr.write(`${this.line(level, msg)}\n`);
  }

  debug(msg: string): void {
    if (this.debugEnabled) this.write('debug', msg);
  }

  warn(msg: string): void {
    this.write('warning', msg);
  }

  /**
   * A warning runc 1.1.5 does not print (it drops the cause silently): into the --log file, and on
   * stderr only with --debug, so scripts comparing a container's output with runc's still match.
   */
  warnQuietly(msg: string): void {
    if (this.fd !== undefined || this.debugEnabled) this.write('warning', msg);
  }

  error(msg: string): void {
    this.write('error', msg);
    process.stderr.write(`gantry-runtime: ${msg}\n`);
  }
}
