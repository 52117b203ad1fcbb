/** JSON for the sync socket: BigInt values (seccomp arguments) travel as {"$bigint": "<decimal>"}. */

export function encodeMessage(msg: unknown): string {
  return JSON.stringify(msg, (_key, value: unknown) => (typeof value === 'bigint' ? { $bigint: value.toString() } : value));
}

export function decodeMessage<T>(line: string): T {
  return JSON.parse(line, (_key, value: unknown) => {
    if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
      const keys = Object.keys(value);
      const big = (value as { $bigint?: unknown }).$bigint;
      if (keys.length === 1 && typeof big === 'string') return BigInt(big);
    }
    return value;
  }) as T;
}
