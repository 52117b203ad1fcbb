/** What List filters see of each stored object (containerd's field names), and filter parsing for requests. */
import type { containers, namespaces } from '@gantry/api';
import { invalidArgument } from '../errors';
import { compileFilters, FilterSyntaxError, type Adaptor } from '../events/filters';
import { own } from './maps';

/** compileFilters, with a syntax error reported to the client as INVALID_ARGUMENT. */
export function compileRequestFilters(filters: readonly string[]): (adaptor: Adaptor) => boolean {
  try {
    return compileFilters(filters);
  } catch (e) {
    if (e instanceof FilterSyntaxError) throw invalidArgument(`invalid filter: ${e.message}`);
    throw e;
  }
}

// empty fields count as absent, as in containerd's adaptors
const nonEmpty = (v: string | undefined) => (v ? v : undefined);

/** labels.<key>; an unquoted dotted key arrives split (labels.io.example.k → "io.example.k"). */
const label = (labels: Readonly<Record<string, string>>, rest: readonly string[]) => (rest.length > 0 ? own(labels, rest.join('.')) : undefined);

/** Container fields: id, image, runtime.name, snapshotter, snapshotkey, sandbox, labels.<key>. */
export function containerAdaptor(c: containers.Container): Adaptor {
  return ([head, ...rest]) => {
    switch (head) {
      case 'id':
        return nonEmpty(c.id);
      case 'image':
        return nonEmpty(c.image);
      case 'runtime':
        return rest.length === 1 && rest[0] === 'name' ? nonEmpty(c.runtime?.name) : undefined;
      case 'snapshotter':
        return nonEmpty(c.snapshotter);
      case 'snapshotkey':
      case 'snapshot_key':
        return nonEmpty(c.snapshotKey);
      case 'sandbox':
        return nonEmpty(c.sandbox);
      case 'labels':
        return label(c.labels, rest);
      default:
        return undefined;
    }
  };
}

/** Namespace fields: name, labels.<key>. */
export function namespaceAdaptor(ns: namespaces.Namespace): Adaptor {
  return ([head, ...rest]) => {
    if (head === 'name' && rest.length === 0) return nonEmpty(ns.name);
    if (head === 'labels') return label(ns.labels, rest);
    return undefined;
  };
}
