/**
 * containerd's filter syntax, as `ctr events` and the Subscribe/List APIs take it:
 *   selector ("," selector)*          all must match (AND); several filter strings are OR'ed
 *   selector := fieldpath [op value]   op is ==, != or ~= (regular expression); no op: field present
 *   fieldpath := name ("." name)*      names or quoted strings; values bare or quoted
 */

type Op = '==' | '!=' | '~=' | 'present';

export interface Selector {
  field: string[];
  op: Op;
  value: string;
}

export class FilterSyntaxError extends Error {}

/** Something a filter can look into: a field path → its string value, or undefined when absent. */
export type Adaptor = (fieldpath: string[]) => string | undefined;

function tokenize(input: string): string[] {
  const tokens: string[] = [];
  let i = 0;
  while (i < input.length) {
    const c = input[i]!;
    if (c === ' ' || c === '\t') {
      i++;
    } else if (c === '"' || c === "'" || c === '`') {
      let j = i + 1;
      let text = '';
      while (j < input.length && input[j] !== c) {
        if (input[j] === '\\' && c !== '`' && j + 1 < input.length) j++;
        text += input[j];
        j++;
      }
      if (j >= input.length) throw new FilterSyntaxError(`unterminated quote in filter ${JSON.stringify(input)}`);
      tokens.push(`\u0000${text}`); // mark as quoted literal
      i = j + 1;
    } else if (input.startsWith('==', i) || input.startsWith('!=', i) || input.startsWith('~=', i)) {
      tokens.push(input.slice(i, i + 2));
      i += 2;
    } else if (c === ',' || c === '.') {
      tokens.push(c);
      i++;
    } else {
      let j = i;
      while (j < input.length && !' \t,."\'`'.includes(input[j]!) && !['==', '!=', '~='].some((op) => input.startsWith(op, j))) j++;
      tokens.push(input.slice(i, j));
      i = j;
    }
  }
  return tokens;
}

const literal = (t: string) => (t.startsWith('\u0000') ? t.slice(1) : t);

/** Parse one filter string into its selectors (AND). */
export function parseFilter(input: string): Selector[] {
  const tokens = tokenize(input);
  const selectors: Selector[] = [];
  let i = 0;
  const peek = () => tokens[i];
  while (i < tokens.length) {
    const field: string[] = [];
    const first = tokens[i++];
    if (first === undefined || ['==', '!=', '~=', ',', '.'].includes(first))
      throw new FilterSyntaxError(`expected a field name in filter ${JSON.stringify(input)}`);
    field.push(literal(first));
    while (peek() === '.') {
      i++;
      const part = tokens[i++];
      if (part === undefined || ['==', '!=', '~=', ',', '.'].includes(part))
        throw new FilterSyntaxError(`expected a field name after "." in ${JSON.stringify(input)}`);
      field.push(literal(part));
    }
    let op: Op = 'present';
    let value = '';
    const next = peek();
    if (next === '==' || next === '!=' || next === '~=') {
      op = next;
      i++;
      // a value may be several tokens ("a.b" unquoted): join until the next comma
      const parts: string[] = [];
      while (i < tokens.length && tokens[i] !== ',') parts.push(literal(tokens[i++]!));
      if (parts.length === 0) throw new FilterSyntaxError(`expected a value after ${op} in ${JSON.stringify(input)}`);
      value = parts.join('');
      if (op === '~=') {
        try {
          new RegExp(value);
        } catch {
          throw new FilterSyntaxError(`invalid regular expression ${JSON.stringify(value)}`);
        }
      }
    }
    selectors.push({ field, op, value });
    if (i < tokens.length) {
      if (tokens[i] !== ',') throw new FilterSyntaxError(`unexpected ${JSON.stringify(literal(tokens[i]!))} in filter ${JSON.stringify(input)}`);
      i++;
    }
  }
  return selectors;
}

function matchSelectors(selectors: readonly Selector[], adaptor: Adaptor): boolean {
  return selectors.every((s) => {
    const v = adaptor(s.field);
    switch (s.op) {
      case 'present':
        return v !== undefined;
      case '==':
        return v === s.value;
      case '!=':
        return v !== s.value;
      case '~=':
        return v !== undefined && new RegExp(s.value).test(v);
    }
  });
}

/** Any of several filter strings matches (no filters: everything matches). */
export function compileFilters(filters: readonly string[]): (adaptor: Adaptor) => boolean {
  const parsed = filters.filter((f) => f.trim() !== '').map(parseFilter);
  if (parsed.length === 0) return () => true;
  return (adaptor) => parsed.some((sel) => matchSelectors(sel, adaptor));
}
