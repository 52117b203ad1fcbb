/**
 * Mark-and-sweep garbage collection of one namespace's content and snapshots, following
 * containerd's reference labels:
 *   roots: image targets, container snapshots, live lease resources, `containerd.io/gc.root`;
 *   edges: content label `containerd.io/gc.ref.content.<x>` = digest,
 *          content label `containerd.io/gc.ref.snapshot.<snapshotter>` = snapshot key,
 *          snapshot parent, snapshot labels `containerd.io/gc.ref.content.<x>`.
 * Whatever is not reached is removed (snapshots leaves first). Blobs shared with another
 * namespace stay on disk (the content store keeps a blob while any namespace has it).
 */
import type { ContentStore } from '../content/types';
import type { ImageStore } from '../images/store';
import type { LeaseStore } from '../leases/store';
import type { ContainerStore } from '../metadata/containers';
import type { Snapshotter } from '../snapshots/types';

export const GC_ROOT = 'containerd.io/gc.root';
const REF_CONTENT = 'containerd.io/gc.ref.content.';
const REF_SNAPSHOT = 'containerd.io/gc.ref.snapshot.';

export interface GcDeps {
  content: ContentStore;
  snapshotters: ReadonlyMap<string, Snapshotter>;
  images: ImageStore;
  containers: ContainerStore;
  leases: LeaseStore;
}

export interface GcResult {
  content: string[];
  snapshots: { snapshotter: string; key: string }[];
}

export function collectGarbage(deps: GcDeps, ns: string): GcResult {
  const contentInfo = new Map(deps.content.list(ns, []).map((i) => [i.digest, i]));
  const snaps = new Map<string, Map<string, { parent: string; labels: Record<string, string> }>>();
  for (const [name, s] of deps.snapshotters) snaps.set(name, new Map(s.list(ns, []).map((i) => [i.name, { parent: i.parent, labels: i.labels }])));

  const liveContent = new Set<string>();
  const liveSnap = new Set<string>(); // "<snapshotter>\0<key>"
  const queue: ({ kind: 'content'; digest: string } | { kind: 'snapshot'; snapshotter: string; key: string })[] = [];
  const markContent = (digest: string) => {
    if (contentInfo.has(digest) && !liveContent.has(digest)) {
      liveContent.add(digest);
      queue.push({ kind: 'content', digest });
    }
  };
  const markSnapshot = (snapshotter: string, key: string) => {
    const id = `${snapshotter}\0${key}`;
    if (snaps.get(snapshotter)?.has(key) && !liveSnap.has(id)) {
      liveSnap.add(id);
      queue.push({ kind: 'snapshot', snapshotter, key });
    }
  };
  const followLabels = (labels: Record<string, string>) => {
    for (const [k, v] of Object.entries(labels)) {
      if (k.startsWith(REF_CONTENT)) markContent(v);
      else if (k.startsWith(REF_SNAPSHOT)) markSnapshot(k.slice(REF_SNAPSHOT.length).split('/')[0]!, v);
    }
  };

  // roots
  for (const img of deps.images.list(ns)) if (img.target) markContent(img.target.digest);
  for (const c of deps.containers.list(ns)) if (c.snapshotter && c.snapshotKey) markSnapshot(c.snapshotter, c.snapshotKey);
  for (const r of deps.leases.liveResources(ns)) {
    if (r.type === 'content') markContent(r.id);
    else if (r.type.startsWith('snapshots/')) markSnapshot(r.type.slice('snapshots/'.length), r.id);
  }
  for (const [digest, info] of contentInfo) if (info.labels[GC_ROOT] !== undefined) markContent(digest);
  for (const [name, m] of snaps) for (const [key, s] of m) if (s.labels[GC_ROOT] !== undefined) markSnapshot(name, key);

  // mark
  while (queue.length > 0) {
    const item = queue.pop()!;
    if (item.kind === 'content') followLabels(contentInfo.get(item.digest)!.labels);
    else {
      const s = snaps.get(item.snapshotter)!.get(item.key)!;
      if (s.parent) markSnapshot(item.snapshotter, s.parent);
      followLabels(s.labels);
    }
  }

  // sweep
  const result: GcResult = { content: [], snapshots: [] };
  for (const [name, m] of snaps) {
    const dead = new Set([...m.keys()].filter((k) => !liveSnap.has(`${name}\0${k}`)));
    // leaves first: a snapshot is removable once none of the remaining dead ones names it as parent
    while (dead.size > 0) {
      const leaves = [...dead].filter((k) => ![...dead].some((o) => m.get(o)!.parent === k));
      if (leaves.length === 0) break;
      for (const k of leaves) {
        deps.snapshotters.get(name)!.remove(ns, k);
        dead.delete(k);
        result.snapshots.push({ snapshotter: name, key: k });
      }
    }
  }
  for (const digest of contentInfo.keys()) {
    if (liveContent.has(digest)) continue;
    deps.content.delete(ns, digest);
    result.content.push(digest);
  }
  return result;
}
