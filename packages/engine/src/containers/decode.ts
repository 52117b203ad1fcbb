import { errdefs } from '@gantry/linux';

/**
 * A small typed JSON decoder with Go's `encoding/json` rules as dockerd applies them to a create
 * body: `null` means "not given", object keys match field names case-insensitively (exact match
 * first), integers must be integral and in range, Docker's StrSlice fields take a string or a list.
 * Unknown fields are ignored, as Go's decoder (and so dockerd) does: SDKs send fields of newer or
 * older API versions (docker-py's exec config has "Container"), and dockerd accepts them. This is
 * the one place that policy lives; every request body that has a schema goes through it.
 */
export type Schema =
  | { t: 'string' }
  | { t: 'bool' }
  | { t: 'int'; go: 'int' | 'int64' | 'uint16' | 'uint32' | 'uint64' | 'uint' }
  | { t: 'strslice' }
  | { t: 'strings' }
  | { t: 'stringMap' }
  | { t: 'emptySet' }
  | { t: 'opaque' }
  | { t: 'array'; of: Schema }
  | { t: 'map'; of: Schema }
  | { t: 'tuple'; of: Schema; n: number }
  | { t: 'object'; name: string; fields: Record<string, Schema> };

export const S = {
  string: { t: 'string' } as Schema,
  bool: { t: 'bool' } as Schema,
  int64: { t: 'int', go: 'int64' } as Schema,
  int: { t: 'int', go: 'int' } as Schema,
  uint16: { t: 'int', go: 'uint16' } as Schema,
  uint32: { t: 'int', go: 'uint32' } as Schema,
  uint64: { t: 'int', go: 'uint64' } as Schema,
  uint: { t: 'int', go: 'uint' } as Schema,
  strslice: { t: 'strslice' } as Schema,
  strings: { t: 'strings' } as Schema,
  stringMap: { t: 'stringMap' } as Schema,
  emptySet: { t: 'emptySet' } as Schema,
  opaque: { t: 'opaque' } as Schema,
  array: (of: Schema): Schema => ({ t: 'array', of }),
  map: (of: Schema): Schema => ({ t: 'map', of }),
  tuple: (of: Schema, n: number): Schema => ({ t: 'tuple', of, n }),
  object: (name: string, fields: Record<string, Schema>): Schema => ({ t: 'object', name, fields }),
};

/** [lowest, first value past the top): a double cannot hold 2^63 - 1, so the bound is exclusive. */
const INT_RANGE: Record<string, [number, number]> = {
  int: [-(2 ** 63), 2 ** 63],
  int64: [-(2 ** 63), 2 ** 63],
  uint16: [0, 2 ** 16],
  uint32: [0, 2 ** 32],
  uint64: [0, 2 ** 64],
  uint: [0, 2 ** 64],
};

function jsonType(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return `number ${String(v)}`;
  return typeof v;
}

function goType(s: Schema): string {
  switch (s.t) {
    case 'string':
      return 'string';
    case 'bool':
      return 'bool';
    case 'int':
      return s.go;
    case 'strslice':
      return 'strslice.StrSlice';
    case 'strings':
      return '[]string';
    case 'stringMap':
      return 'map[string]string';
    case 'emptySet':
      return 'map[string]struct {}';
    case 'opaque':
      return 'object';
    case 'array':
      return `[]${goType(s.of)}`;
    case 'map':
      return `map[string]${goType(s.of)}`;
    case 'tuple':
      return `[${s.n}]${goType(s.of)}`;
    case 'object':
      // a name with its Go package (network.CreateRequest) as it is; container types by default
      return s.name.includes('.') ? s.name : `container.${s.name}`;
  }
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Set `out[k]` as an own data property: a plain assignment of "__proto__" would replace the
 * object's prototype (or be dropped), where Go's decoder keeps it as an ordinary map key.
 */
function put(out: Record<string, unknown>, k: string, v: unknown): void {
  if (k === '__proto__') Object.defineProperty(out, k, { value: v, enumerable: true, writable: true, configurable: true });
  else out[k] = v;
}

function fail(v: unknown, s: Schema, where: string): never {
  throw errdefs.invalidArgument(`json: cannot unmarshal ${jsonType(v)} into Go struct field ${where} of type ${goType(s)}`);
}

/** Decode `v` against `s`; `undefined` when the value is absent or null. */
export function decode(v: unknown, s: Schema, where: string): unknown {
  if (v === null || v === undefined) return undefined;
  switch (s.t) {
    case 'string':
      if (typeof v !== 'string') fail(v, s, where);
      return v;
    case 'bool':
      if (typeof v !== 'boolean') fail(v, s, where);
      return v;
    case 'int': {
      if (typeof v !== 'number' || !Number.isInteger(v)) fail(v, s, where);
      const [lo, hi] = INT_RANGE[s.go]!;
      if (v < lo || v >= hi) fail(v, s, where);
      return v;
    }
    case 'strslice':
      if (typeof v === 'string') return [v];
      return decode(v, S.strings, where);
    case 'strings':
      if (!Array.isArray(v)) fail(v, s, where);
      return v.map((e) => {
        if (e === null) return '';
        if (typeof e !== 'string') fail(e, S.string, where);
        return e;
      });
    case 'stringMap': {
      if (!isPlainObject(v)) fail(v, s, where);
      const out: Record<string, string> = {};
      for (const [k, e] of Object.entries(v)) {
        if (e !== null && typeof e !== 'string') fail(e, S.string, where);
        put(out, k, e ?? '');
      }
      return out;
    }
    case 'emptySet': {
      if (!isPlainObject(v)) fail(v, s, where);
      const out: Record<string, Record<string, never>> = {};
      for (const [k, e] of Object.entries(v)) {
        if (e !== null && !isPlainObject(e)) fail(e, S.object('struct {}', {}), where);
        put(out, k, {});
      }
      return out;
    }
    case 'opaque':
      if (!isPlainObject(v)) fail(v, s, where);
      return v;
    case 'array':
      if (!Array.isArray(v)) fail(v, s, where);
      return v.map((e) => decode(e, s.of, where));
    case 'map': {
      if (!isPlainObject(v)) fail(v, s, where);
      const out: Record<string, unknown> = {};
      for (const [k, e] of Object.entries(v)) put(out, k, decode(e, s.of, where));
      return out;
    }
    case 'tuple': {
      if (!Array.isArray(v)) fail(v, s, where);
      const out = v.map((e) => decode(e, s.of, where) ?? 0);
      if (out.length > s.n) fail(v, s, where);
      while (out.length < s.n) out.push(0);
      return out;
    }
    case 'object':
      if (!isPlainObject(v)) fail(v, s, where);
      return decodeObject(v, s, where);
  }
}

function decodeObject(v: Record<string, unknown>, s: { name: string; fields: Record<string, Schema> }, where: string): Record<string, unknown> {
  const lower = new Map<string, string>();
  for (const name of Object.keys(s.fields)) lower.set(name.toLowerCase(), name);
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(v)) {
    // own fields only: "constructor" or "__proto__" is not a field because Object.prototype has it
    const name = Object.hasOwn(s.fields, key) ? key : lower.get(key.toLowerCase());
    if (name === undefined) continue; // unknown: ignored, as dockerd does
    const decoded = decode(value, s.fields[name]!, `${where}.${name}`);
    if (decoded === undefined) delete out[name];
    else out[name] = decoded;
  }
  return out;
}
