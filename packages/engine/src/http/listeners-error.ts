/** A `-H`, `--group` or TLS setting gantryd cannot listen with (its own module: listeners and socket activation both throw it). */
export class ListenerConfigError extends Error {
  override name = 'ListenerConfigError';
}
