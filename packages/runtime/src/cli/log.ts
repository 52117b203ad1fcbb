import * as fs from 'node:fs';

export type LogFormat = 'text' | 'json';

/** runc-style logging: logrus text or JSON lines to --log (containerd reads the JSON), errors also to stderr. */
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

  private write(level: string, msg: string): void {
    if (this.fd === undefined) return;
    const time = new Date().toISOString();
    const line = this.format === 'json' ? JSON.stringify({ level, msg, time }) : `time="${time}" level=${level} msg=${JSON.stringify(msg)}`;
    fs.writeSync(this.fd, `${line}\n`);
  }

  debug(msg: string): void {
    if (this.debugEnabled) this.write('debug', msg);
  }

  warn(msg: string): void {
    this.write('warning', msg);
  }

  error(msg: string): void {
    this.write('error', msg);
    process.stderr.write(`gantry-runtime: ${msg}\n`);
  }
}
