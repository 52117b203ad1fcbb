import { matchLabel, parseFilters } from '../src/routes/list-filters';

describe('list filters', () => {
  it('label=key matches only a label that is set, never a prototype property', () => {
    expect(matchLabel({ a: '1' }, 'a')).toBe(true);
    expect(matchLabel({ a: '1' }, 'constructor')).toBe(false);
    expect(matchLabel({ a: '1' }, 'toString')).toBe(false);
    expect(matchLabel({}, '__proto__')).toBe(false);
    expect(matchLabel(null, 'a')).toBe(false);
  });

  it('label=key=value compares the value, which may hold "="', () => {
    expect(matchLabel({ a: '1' }, 'a=1')).toBe(true);
    expect(matchLabel({ a: '1' }, 'a=2')).toBe(false);
    expect(matchLabel({ a: 'x=y' }, 'a=x=y')).toBe(true);
    expect(matchLabel({ a: '' }, 'a=')).toBe(true);
    expect(matchLabel({}, 'constructor=function Object() { [native code] }')).toBe(false);
  });

  it('reads both filter forms, keeps "__proto__" as a key', () => {
    expect(parseFilters(new URLSearchParams({ filters: '{"label":["a=1"],"status":{"running":true}}' }))).toEqual({ label: ['a=1'], status: ['running'] });
    const f = parseFilters(new URLSearchParams({ filters: '{"__proto__":["x"]}' }));
    expect(Object.keys(f)).toEqual(['__proto__']);
    expect(() => parseFilters(new URLSearchParams({ filters: '[1]' }))).toThrow(/filters must be a JSON object/);
    // a value that is neither a list nor a map is refused, as moby's filters.FromJSON does
    expect(() => parseFilters(new URLSearchParams({ filters: '{"label":"a"}' }))).toThrow("invalid filter 'label'");
  });

  it('refuses names the route does not know, and reads the map form as moby does (keys, whatever the value)', () => {
    expect(() => parseFilters('{"nope":["x"]}', ['label'])).toThrow("invalid filter 'nope'");
    expect(parseFilters('{"label":{"a=1":true,"b":false}}', ['label'])).toEqual({ label: ['a=1', 'b'] });
  });
});
