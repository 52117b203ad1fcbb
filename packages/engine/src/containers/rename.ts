/** `docker rename`. */
import type { ContainerManager } from './manager';

export function rename(m: ContainerManager, ref: string, newName: string): void {
  const rec = m.store.get(ref);
  const name = m.store.claimName(newName);
  const old = rec.Name;
  rec.Name = name;
  m.store.save(rec);
  m.ctx.events.emit('container', 'rename', rec.Id, { oldName: old, name: name.slice(1) });
}
