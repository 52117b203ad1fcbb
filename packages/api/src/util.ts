import { Metadata } from '@grpc/grpc-js';
import type { BinaryReader, BinaryWriter } from '@bufbuild/protobuf/wire';
import { type Any } from './gen/google/protobuf/any';
import { type Timestamp } from './gen/google/protobuf/timestamp';

/** gRPC metadata key carrying the namespace of a call (containerd's, as ctr sends it). */
export const NAMESPACE_HEADER = 'containerd-namespace';

/** Metadata for a client call scoped to `namespace`. */
export function namespaceMetadata(namespace: string): Metadata {
  const md = new Metadata();
  md.set(NAMESPACE_HEADER, namespace);
  return md;
}

/** The namespace of an incoming call, or undefined when the client sent none. */
export function namespaceOf(metadata: Metadata): string | undefined {
  const v = metadata.get(NAMESPACE_HEADER)[0];
  return v === undefined ? undefined : String(v);
}

/** The encode/decode pair every generated message constant has. */
export interface MessageCodec<T> {
  encode(message: T, writer?: BinaryWriter): BinaryWriter;
  decode(input: BinaryReader | Uint8Array, length?: number): T;
}

/**
 * Wrap a message in an Any. containerd names its own messages by full proto name with no URL
 * prefix (an event's type_url is e.g. "containerd.events.TaskExit").
 */
export function packAny<T>(typeUrl: string, codec: MessageCodec<T>, message: T): Any {
  return { typeUrl, value: Buffer.from(codec.encode(message).finish()) };
}

/**
 * Unwrap an Any holding `typeName` (a bare full name; a "host/path/" prefix on the Any's type_url
 * is accepted); undefined when the Any holds something else.
 */
export function unpackAny<T>(any: Any | undefined, typeName: string, codec: MessageCodec<T>): T | undefined {
  if (any === undefined) return undefined;
  const name = any.typeUrl.slice(any.typeUrl.lastIndexOf('/') + 1);
  return name === typeName ? codec.decode(any.value) : undefined;
}

/** A Timestamp from nanoseconds since the epoch (exact). */
export function timestampFromNanos(nanos: bigint): Timestamp {
  let seconds = nanos / 1_000_000_000n;
  let rest = nanos % 1_000_000_000n;
  if (rest < 0n) {
    seconds -= 1n;
    rest += 1_000_000_000n;
  }
  return { seconds, nanos: Number(rest) };
}

/** Nanoseconds since the epoch of a Timestamp (exact). */
export function timestampToNanos(ts: Timestamp): bigint {
  return ts.seconds * 1_000_000_000n + BigInt(ts.nanos);
}

/** A Timestamp from a Date (millisecond precision, as a Date has). */
export function timestampFromDate(date: Date): Timestamp {
  return timestampFromNanos(BigInt(date.getTime()) * 1_000_000n);
}

/** A Date from a Timestamp (truncated to milliseconds). */
export function timestampToDate(ts: Timestamp): Date {
  return new Date(Number(timestampToNanos(ts) / 1_000_000n));
}
