import { decodeMessage, encodeMessage } from '../src/process/wire';

describe('sync socket wire format', () => {
  it('round-trips BigInt seccomp arguments and leaves other objects alone', () => {
    const msg = { rules: [{ args: [{ index: 0, value: 0xffffffffffffffffn, valueTwo: 0n }] }], other: { $bigint: 1, x: 2 } };
    const back = decodeMessage<typeof msg>(encodeMessage(msg));
    expect(back.rules[0]!.args[0]!.value).toBe(0xffffffffffffffffn);
    expect(back.rules[0]!.args[0]!.valueTwo).toBe(0n);
    expect(back.other).toEqual({ $bigint: 1, x: 2 });
  });
});
