/** The depends_on graph: a cycle is an error naming it; services in dependency order. */
import { ComposeError } from './errors';
import type { ServiceConfig } from './model';

/** Service names, each after the services it depends on (throws on a cycle). */
export function dependencyOrder(services: Record<string, ServiceConfig>): string[] {
  const order: string[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (name: string, trail: string[]): void => {
    const s = state.get(name);
    if (s === 'done') return;
    if (s === 'visiting') {
      const cycle = [...trail.slice(trail.indexOf(name)), name];
      throw new ComposeError(`dependency cycle detected: ${cycle.join(' -> ')}`);
    }
    state.set(name, 'visiting');
    for (const dep of Object.keys(services[name]?.depends_on ?? {})) if (dep in services) visit(dep, [...trail, name]);
    state.set(name, 'done');
    order.push(name);
  };
  for (const name of Object.keys(services).sort()) visit(name, []);
  return order;
}

/** `names` and every service they depend on, transitively. */
export function withDependencies(services: Record<string, ServiceConfig>, names: string[]): Set<string> {
  const out = new Set<string>();
  const add = (n: string): void => {
    if (out.has(n) || !(n in services)) return;
    out.add(n);
    for (const d of Object.keys(services[n]?.depends_on ?? {})) add(d);
  };
  names.forEach(add);
  return out;
}
