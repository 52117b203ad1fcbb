/**
 * An instruction's `--flags`, checked as BuildKit's BFlags checks them: each instruction declares
 * the flags it takes; an unknown one, a repeated one (but for the repeatable kind), a string flag
 * without `=value` or a bad boolean is an error, in Docker's words.
 */

type FlagKind = 'bool' | 'string' | 'strings';

export interface ParsedFlags {
  /** Flag names that were given. */
  used: Set<string>;
  bools: Map<string, boolean>;
  strings: Map<string, string>;
  lists: Map<string, string[]>;
}

const NONE: ParsedFlags = Object.freeze({ used: new Set<string>(), bools: new Map(), strings: new Map(), lists: new Map() });

export function parseFlags(words: readonly string[], spec: Readonly<Record<string, FlagKind>>): ParsedFlags {
  // most instructions have no flags: share one empty (never written) result
  if (words.length === 0) return NONE;
  const out: ParsedFlags = { used: new Set(), bools: new Map(), strings: new Map(), lists: new Map() };
  for (const a of words) {
    if (a === '--') break;
    if (!a.startsWith('--')) throw new Error(`arg should start with -- : ${a}`);
    const eq = a.indexOf('=');
    const flagName = eq < 0 ? a : a.slice(0, eq);
    const hasValue = eq >= 0;
    const value = hasValue ? a.slice(eq + 1) : '';
    const name = flagName.slice(2);
    const kind = Object.prototype.hasOwnProperty.call(spec, name) ? spec[name] : undefined;
    if (kind === undefined) throw new Error(`unknown flag: ${flagName}`);
    if (out.used.has(name) && kind !== 'strings') throw new Error(`duplicate flag specified: ${flagName}`);
    out.used.add(name);
    switch (kind) {
      case 'bool': {
        if (hasValue && value === '') throw new Error(`missing a value on flag: ${flagName}`);
        const v = value.toLowerCase();
        if (v === 'true' || v === '') out.bools.set(name, true);
        else if (v === 'false') out.bools.set(name, false);
        else throw new Error(`expecting boolean value for flag ${flagName}, not: ${value}`);
        break;
      }
      case 'string':
        if (!hasValue) throw new Error(`missing a value on flag: ${flagName}`);
        out.strings.set(name, value);
        break;
      case 'strings':
        if (!hasValue) throw new Error(`missing a value on flag: ${flagName}`);
        out.lists.set(name, [...(out.lists.get(name) ?? []), value]);
        break;
    }
  }
  return out;
}
