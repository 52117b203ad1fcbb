import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { types } from '@gantry/api';
import type { ContentInfo, ContentStore } from '../src/content/types';
import { collectGarbage, GC_ROOT } from '../src/gc/collector';
import { ImageStore } from '../src/images/store';
import { LeaseStore, EXPIRE_LABEL } from '../src/leases/store';
import { ContainerStore } from '../src/metadata/containers';
import { NamespaceStore } from '../src/metadata/namespaces';
import { RecordStore } from '@gantry/linux';
import type { SnapshotInfo, Snapshotter } from '../src/snapshots/types';

/** In-memory content metadata: enough for GC, which only lists and deletes. */
class FakeContent implements Pick<ContentStore, 'list' | 'delete'> {
  readonly items = new Map<string, ContentInfo>();
  add(digest: string, labels: Record<string, string> = {}): string {
    this.items.set(digest, { digest, size: 1, createdAt: new Date(), updatedAt: new Date(), labels });
    return digest;
  }
  list(): ContentInfo[] {
    return [...this.items.values()];
  }
  delete(_ns: string, digest: string): void {
    this.items.delete(digest);
  }
}

class FakeSnapshots implements Pick<Snapshotter, 'list' | 'remove' | 'name'> {
  readonly name = 'overlayfs';
  readonly items = new Map<string, SnapshotInfo>();
  add(name: string, parent = '', labels: Record<string, string> = {}): string {
    this.items.set(name, { name, parent, kind: 'committed', labels, createdAt: new Date(), updatedAt: new Date() });
    return name;
  }
  list(): SnapshotInfo[] {
    return [...this.items.values()];
  }
  remove(_ns: string, key: string): void {
    if ([...this.items.values()].some((s) => s.parent === key)) throw new Error(`snapshot ${key} has children`);
    this.items.delete(key);
  }
}

const d = (c: string) => `sha256:${c.repeat(64)}`;

describe('garbage collection', () => {
  let dir: string;
  let content: FakeContent;
  let snaps: FakeSnapshots;
  let images: ImageStore;
  let containers: ContainerStore;
  let leases: LeaseStore;
  const gc = () =>
    collectGarbage(
      { content: content as unknown as ContentStore, snapshotters: new Map([['overlayfs', snaps as unknown as Snapshotter]]), images, containers, leases },
      'ns',
    );

  /** An image: manifest → config + layers; config → top snapshot of its chain. */
  function image(name: string, manifest: string, config: string, layers: string[], chain: string[]): void {
    let parent = '';
    for (const s of chain) {
      if (!snaps.items.has(s)) snaps.add(s, parent);
      parent = s;
    }
    content.add(config, { 'containerd.io/gc.ref.snapshot.overlayfs': chain[chain.length - 1]! });
    for (const l of layers) if (!content.items.has(l)) content.add(l);
    content.add(manifest, {
      'containerd.io/gc.ref.content.config': config,
      ...Object.fromEntries(layers.map((l, i) => [`containerd.io/gc.ref.content.l.${i}`, l])),
    });
    images.create('ns', {
      name,
      labels: {},
      target: types.Descriptor.fromPartial({ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: manifest, size: 100n }),
    });
  }

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gantry-gc-'));
    const store = new RecordStore(dir);
    const nss = new NamespaceStore(store);
    content = new FakeContent();
    snaps = new FakeSnapshots();
    images = new ImageStore(store, nss);
    containers = new ContainerStore(store, nss);
    leases = new LeaseStore(store, nss);
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('keeps everything an image reaches and removes what nothing reaches', () => {
    image('a:1', d('1'), d('2'), [d('3'), d('4')], ['s1', 's2']);
    content.add(d('9'));
    snaps.add('orphan');
    const r = gc();
    expect(r.content).toEqual([d('9')]);
    expect(r.snapshots).toEqual([{ snapshotter: 'overlayfs', key: 'orphan' }]);
    expect([...content.items.keys()].sort()).toEqual([d('1'), d('2'), d('3'), d('4')]);
    expect([...snaps.items.keys()].sort()).toEqual(['s1', 's2']);
  });

  it('removing an image frees its unique blobs and snapshots; shared ones stay', () => {
    image('a:1', d('1'), d('2'), [d('3'), d('4')], ['s1', 's2']);
    image('b:1', d('5'), d('6'), [d('3'), d('7')], ['s1', 's3']);
    images.delete('ns', 'a:1');
    const r = gc();
    expect(r.content.sort()).toEqual([d('1'), d('2'), d('4')]);
    expect(r.snapshots).toEqual([{ snapshotter: 'overlayfs', key: 's2' }]);
    expect([...content.items.keys()].sort()).toEqual([d('3'), d('5'), d('6'), d('7')]);
    expect([...snaps.items.keys()].sort()).toEqual(['s1', 's3']);
  });

  it('removes a dead chain leaves first', () => {
    image('a:1', d('1'), d('2'), [d('3')], ['s1', 's2', 's3']);
    images.delete('ns', 'a:1');
    const r = gc();
    expect(r.snapshots.map((s) => s.key)).toEqual(['s3', 's2', 's1']);
  });

  it('keeps what a container, a live lease or a gc.root label holds, but not an expired lease', () => {
    snaps.add('base');
    snaps.add('ctr-rw', 'base');
    containers.create('ns', {
      id: 'c1',
      labels: {},
      image: '',
      runtime: { name: 'r' },
      spec: { typeUrl: 't', value: Buffer.from('{}') },
      snapshotter: 'overlayfs',
      snapshotKey: 'ctr-rw',
      extensions: {},
      sandbox: '',
    });
    content.add(d('a'));
    content.add(d('b'));
    content.add(d('c'), { [GC_ROOT]: '' });
    leases.create('ns', 'live', {});
    leases.addResource('ns', 'live', { id: d('a'), type: 'content' });
    leases.create('ns', 'old', { [EXPIRE_LABEL]: new Date(Date.now() - 1000).toISOString() });
    leases.addResource('ns', 'old', { id: d('b'), type: 'content' });
    const r = gc();
    expect(r.content).toEqual([d('b')]);
    expect(r.snapshots).toEqual([]);
  });
});
