import { compileFilters, FilterSyntaxError, parseFilter } from '../src/events/filters';

const adaptor = (obj: Record<string, unknown>) => (path: string[]) => {
  let cur: unknown = obj;
  for (const p of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[p];
  }
  return typeof cur === 'string' || typeof cur === 'number' ? String(cur) : undefined;
};

describe('containerd filters', () => {
  const ev = { topic: '/tasks/exit', namespace: 'default', event: { container_id: 'c1' }, labels: { 'io.x/app': 'web' } };

  it('parses selectors with operators, quoting and field paths', () => {
    expect(parseFilter('topic=="/tasks/exit",namespace==default')).toEqual([
      { field: ['topic'], op: '==', value: '/tasks/exit' },
      { field: ['namespace'], op: '==', value: 'default' },
    ]);
    expect(parseFilter('labels."io.x/app"~=^we')).toEqual([{ field: ['labels', 'io.x/app'], op: '~=', value: '^we' }]);
    expect(parseFilter('event.container_id')).toEqual([{ field: ['event', 'container_id'], op: 'present', value: '' }]);
  });

  it('ANDs selectors within a filter and ORs filters', () => {
    expect(compileFilters(['topic=="/tasks/exit",namespace==default'])(adaptor(ev))).toBe(true);
    expect(compileFilters(['topic=="/tasks/exit",namespace==other'])(adaptor(ev))).toBe(false);
    expect(compileFilters(['namespace==other', 'topic~="^/tasks/"'])(adaptor(ev))).toBe(true);
    expect(compileFilters(['labels."io.x/app"==web'])(adaptor(ev))).toBe(true);
    expect(compileFilters(['topic!="/tasks/exit"'])(adaptor(ev))).toBe(false);
    expect(compileFilters([])(adaptor(ev))).toBe(true);
  });

  it('refuses malformed filters with a clear error', () => {
    for (const bad of ['==x', 'topic==', 'topic=="unterminated', 'a b', 'x~="("', 'a.']) {
      expect(() => parseFilter(bad)).toThrow(FilterSyntaxError);
    }
  });
});
