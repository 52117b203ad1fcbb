/** What loading a Compose file throws: one message that names the file, the service and the key. */
export class ComposeError extends Error {
  constructor(
    message: string,
    readonly file?: string,
    readonly status = 1,
  ) {
    super(file === undefined ? message : `${file}: ${message}`);
    this.name = 'ComposeError';
  }
}
