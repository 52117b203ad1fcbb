/**
 * A message as gantryd shows it: line breaks escaped, so text quoting client input (a signal, a
 * path, a name) is one line in the CLI's output, in `State.Error` and in the daemon's log.
 */
export function oneLine(message: string): string {
  return message.replace(/[\r\n]/g, (c) => (c === '\n' ? '\\n' : '\\r'));
}
