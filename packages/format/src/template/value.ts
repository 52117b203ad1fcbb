/**
 * How JavaScript values stand for Go values in templates.
 *
 * - `undefined` is Go's invalid value (a missing map key): it prints `<no value>`.
 * - `null` is nil; at the end of a pipeline it becomes `undefined`, as Go unwraps a nil
 *   `interface{}` (so a JSON `null` prints `<no value>`, and `<nil>` inside a list or via print).
 * - numbers that are integers are Go ints, others float64; booleans and strings are themselves.
 * - arrays are slices; plain objects (`{}` or `Object.create(null)`) and `Map`s are maps
 *   (`map[string]interface {}`): a missing key is `<no value>`, iteration is in key order.
 * - instances of classes are structs: their exported (capitalised) own properties and getters are
 *   fields, their exported methods are methods (called with arguments: `{{.Label "x"}}`), and a
 *   missing field is an execution error, as for the Go structs docker formats. Lower-case names are
 *   unexported: an error, and not printed.
 */

/**
 * A float constant of the template text that is whole (`1e6`, `2.0`): Go types it float64 and
 * prints `1e+06`, where the JS number alone would be an int.
 */
export class Float64 {
  constructor(readonly value: number) {}
  valueOf(): number {
    return this.value;
  }
}

/** What JavaScript code (user functions, methods) gets for a template value. */
export function unbox(v: unknown): unknown {
  return v instanceof Float64 ? v.value : v;
}

export type Kind = 'invalid' | 'nil' | 'bool' | 'int' | 'float' | 'string' | 'slice' | 'map' | 'struct' | 'func';

export function kindOf(v: unknown): Kind {
  switch (typeof v) {
    case 'undefined':
      return 'invalid';
    case 'boolean':
      return 'bool';
    case 'number':
      return Number.isInteger(v) ? 'int' : 'float';
    case 'bigint':
      return 'int';
    case 'string':
      return 'string';
    case 'function':
      return 'func';
    case 'symbol':
      return 'string';
  }
  if (v === null) return 'nil';
  if (v instanceof Float64) return 'float';
  if (Array.isArray(v) || ArrayBuffer.isView(v)) return 'slice';
  if (v instanceof Map) return 'map';
  const proto: unknown = Object.getPrototypeOf(v);
  if (proto === null || proto === Object.prototype) return 'map';
  return 'struct';
}

/** The Go type name used in messages (`int`, `string`, `map[string]interface {}`, a class's name). */
export function typeName(v: unknown): string {
  switch (kindOf(v)) {
    case 'invalid':
    case 'nil':
      return 'interface {}';
    case 'bool':
      return 'bool';
    case 'int':
      return 'int';
    case 'float':
      return 'float64';
    case 'string':
      return 'string';
    case 'slice': {
      // a list of strings stands for Go's []string (what split returns, what docker's contexts hold)
      const a = Array.from(v as ArrayLike<unknown>);
      return a.length > 0 && a.every((e) => typeof e === 'string') ? '[]string' : '[]interface {}';
    }
    case 'map':
      return 'map[string]interface {}';
    case 'func':
      return 'func';
    case 'struct': {
      const c = (v as { constructor?: { name?: string } }).constructor;
      return c?.name ? c.name : 'struct';
    }
  }
}

export const isExported = (name: string): boolean => /^\p{Lu}/u.test(name);

/** Go's isTrue: the zero value of its type (and invalid/nil) is false; structs are true. */
export function isTrue(v: unknown): boolean {
  switch (kindOf(v)) {
    case 'invalid':
    case 'nil':
      return false;
    case 'bool':
      return v as boolean;
    case 'int':
    case 'float':
      return typeof v === 'bigint' ? v !== 0n : Number(v) !== 0;
    case 'string':
      return (v as string).length > 0;
    case 'slice':
      return (v as ArrayLike<unknown>).length > 0;
    case 'map':
      return mapKeys(v).length > 0;
    case 'func':
    case 'struct':
      return true;
  }
}

/** A map's keys in Go's order (sorted: numbers numerically, strings by code unit ~ byte order). */
export function mapKeys(m: unknown): unknown[] {
  const keys: unknown[] = m instanceof Map ? [...(m.keys() as Iterable<unknown>)] : Object.keys(m as object);
  return keys.sort(compareKeys);
}

function compareKeys(a: unknown, b: unknown): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  const sa = String(a);
  const sb = String(b);
  return sa < sb ? -1 : sa > sb ? 1 : 0;
}

export function mapGet(m: unknown, key: unknown): unknown {
  if (m instanceof Map) return m.get(key);
  const o = m as Record<string, unknown>;
  return typeof key === 'string' && Object.prototype.hasOwnProperty.call(o, key) ? o[key] : undefined;
}

export function mapHas(m: unknown, key: unknown): boolean {
  if (m instanceof Map) return m.has(key);
  return typeof key === 'string' && Object.prototype.hasOwnProperty.call(m, key);
}

/** Where a struct member lives: an own property, a getter or a method on the class. */
export type Member = { kind: 'field'; value: unknown; getter?: boolean } | { kind: 'method'; fn: (...args: unknown[]) => unknown } | { kind: 'none' };

export function structMember(obj: object, name: string): Member {
  if (Object.prototype.hasOwnProperty.call(obj, name)) {
    const value = (obj as Record<string, unknown>)[name];
    return { kind: 'field', value };
  }
  for (let p: unknown = Object.getPrototypeOf(obj); p && p !== Object.prototype; p = Object.getPrototypeOf(p)) {
    const d = Object.getOwnPropertyDescriptor(p, name);
    if (!d || name === 'constructor') continue;
    if (d.get) return { kind: 'field', value: (d.get as () => unknown).call(obj), getter: true };
    if (typeof d.value === 'function') {
      const fn = d.value as (...args: unknown[]) => unknown;
      return { kind: 'method', fn: (...args: unknown[]) => fn.apply(obj, args) };
    }
    return { kind: 'field', value: d.value };
  }
  return { kind: 'none' };
}

/** A struct's exported fields in declaration order: own properties, then getters of its classes. */
export function structFields(obj: object): [string, unknown][] {
  const out: [string, unknown][] = [];
  const seen = new Set<string>();
  for (const k of Object.keys(obj)) {
    if (!isExported(k)) continue;
    seen.add(k);
    out.push([k, (obj as Record<string, unknown>)[k]]);
  }
  const protos: object[] = [];
  for (let p: unknown = Object.getPrototypeOf(obj); p && p !== Object.prototype; p = Object.getPrototypeOf(p)) protos.unshift(p as object);
  for (const p of protos) {
    for (const k of Object.getOwnPropertyNames(p)) {
      const d = Object.getOwnPropertyDescriptor(p, k);
      if (!d?.get || !isExported(k) || seen.has(k)) continue;
      seen.add(k);
      out.push([k, (d.get as () => unknown).call(obj)]);
    }
  }
  return out;
}

/** The string length Go would see (UTF-8 bytes). */
export function byteLength(s: string): number {
  let n = 0;
  for (const ch of s) {
    const c = ch.codePointAt(0) ?? 0;
    n += c < 0x80 ? 1 : c < 0x800 ? 2 : c < 0x10000 ? 3 : 4;
  }
  return n;
}
