/** How API values are kept in JSON records: Any as {typeUrl, base64}, times as exact nanosecond strings. */
import { timestampFromNanos, timestampToNanos, type protobuf } from '@gantry/api';

export interface StoredAny {
  typeUrl: string;
  /** The message bytes, base64. */
  value: string;
}

export function storeAny(a: protobuf.Any): StoredAny {
  return { typeUrl: a.typeUrl, value: Buffer.from(a.value).toString('base64') };
}

export function loadAny(s: StoredAny): protobuf.Any {
  return { typeUrl: s.typeUrl, value: Buffer.from(s.value, 'base64') };
}

/** Nanoseconds since the epoch as a decimal string (JSON has no 64-bit integers). */
export type StoredTime = string;

export function storeTime(ts: protobuf.Timestamp): StoredTime {
  return timestampToNanos(ts).toString();
}

export function loadTime(s: StoredTime): protobuf.Timestamp {
  return timestampFromNanos(BigInt(s));
}

/** Now, as a Timestamp (the wall clock has millisecond resolution in Node). */
export function now(): protobuf.Timestamp {
  return timestampFromNanos(BigInt(Date.now()) * 1_000_000n);
}
