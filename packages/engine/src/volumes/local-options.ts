import { mountSteps } from '@gantry/linux';

/** Driver options the `local` driver understands (`--opt type=tmpfs --opt device=tmpfs --opt o=size=64m`). */
const VALID = new Set(['type', 'o', 'device', 'size']);
/** An option that needs others beside it. */
const REQUIRES: Record<string, string[]> = { type: ['device'], device: ['type'], o: ['type', 'device'] };

/** Docker's checks of local driver options; throws Error with Docker's message. */
export function validateLocalOptions(opts: Record<string, string> | null | undefined): void {
  if (!opts) return;
  for (const k of Object.keys(opts)) if (!VALID.has(k)) throw new Error(`invalid option: ${JSON.stringify(k)}`);
  if ('size' in opts) throw new Error('quota size requested but no quota support');
  for (const [k, needs] of Object.entries(REQUIRES)) {
    if (!(k in opts)) continue;
    for (const n of needs) if (!(n in opts)) throw new Error(`missing required option: ${JSON.stringify(n)}`);
  }
}

/** True when the volume's data is a mount (made on first use) rather than a plain directory. */
export function needsMount(opts: Record<string, string> | null | undefined): boolean {
  return !!opts && !!opts.device && !!opts.type;
}

/** The mount(2) calls that put a local volume's device on its data directory (a read-only bind takes a remount). */
export function localMountCalls(
  opts: Record<string, string>,
  target: string,
): { source: string | null; target: string; fstype: string | null; flags: number; data: string | null }[] {
  return mountSteps({ type: opts.type ?? null, source: opts.device ?? null, options: opts.o }).map((s) => ({
    source: s.source,
    target,
    fstype: s.fstype,
    flags: s.flags,
    data: s.data,
  }));
}
