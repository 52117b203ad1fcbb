/**
 * Event payload decoding for the Exchange's filters: an Envelope's `event` Any holding one of
 * containerd's event messages becomes a plain object (the codec's JSON form: camelCase keys, zero
 * values omitted so they read as absent, timestamps as RFC 3339, 64-bit ints as strings), so that
 * `event.container_id==abc` can match.
 */
import { events, type protobuf } from '@gantry/api';

interface EventCodec {
  decode(input: Uint8Array): unknown;
  toJSON(message: never): unknown;
}

/** containerd's event type names (type_url without prefix) → codecs. */
const CODECS: ReadonlyMap<string, EventCodec> = new Map<string, EventCodec>([
  ...(
    [
      ['ContainerCreate', events.ContainerCreate],
      ['ContainerUpdate', events.ContainerUpdate],
      ['ContainerDelete', events.ContainerDelete],
      ['ContentDelete', events.ContentDelete],
      ['NamespaceCreate', events.NamespaceCreate],
      ['NamespaceUpdate', events.NamespaceUpdate],
      ['NamespaceDelete', events.NamespaceDelete],
      ['SnapshotPrepare', events.SnapshotPrepare],
      ['SnapshotCommit', events.SnapshotCommit],
      ['SnapshotRemove', events.SnapshotRemove],
      ['TaskCreate', events.TaskCreate],
      ['TaskStart', events.TaskStart],
      ['TaskDelete', events.TaskDelete],
      ['TaskExit', events.TaskExit],
      ['TaskOOM', events.TaskOOM],
      ['TaskExecAdded', events.TaskExecAdded],
      ['TaskExecStarted', events.TaskExecStarted],
      ['TaskPaused', events.TaskPaused],
      ['TaskResumed', events.TaskResumed],
      ['TaskCheckpointed', events.TaskCheckpointed],
    ] as const
  ).map(([name, codec]): [string, EventCodec] => [`containerd.events.${name}`, codec]),
  // image events live in the images service's proto package
  ['containerd.services.images.v1.ImageCreate', events.ImageCreate],
  ['containerd.services.images.v1.ImageUpdate', events.ImageUpdate],
  ['containerd.services.images.v1.ImageDelete', events.ImageDelete],
]);

/** The payload as a plain object, or undefined for an unknown type or undecodable bytes. */
export function decodeEvent(any: protobuf.Any): Record<string, unknown> | undefined {
  // a "host/path/" prefix on the type_url is allowed, as in unpackAny
  const codec = CODECS.get(any.typeUrl.slice(any.typeUrl.lastIndexOf('/') + 1));
  if (!codec) return undefined;
  try {
    const json = codec.toJSON(codec.decode(any.value) as never);
    return json !== null && typeof json === 'object' ? (json as Record<string, unknown>) : undefined;
  } catch {
    // a forwarded event may carry anything; a payload we cannot read just matches no event.* filter
    return undefined;
  }
}
