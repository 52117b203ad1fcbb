/**
 * The overlayfs snapshotter on its own, with real mounts: a base layer written through its bind
 * mount, a child layered on it through overlayfs (whiteouts land in the upper dir), read-only views
 * of the chain, and the metadata rules (children, namespaces, keys, cleanup, errors).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { status } from '@grpc/grpc-js';
import { RecordStore } from '@gantry/linux';
import { waitFor } from '@gantry/testkit';
import { decodeKey, encodeKey } from '../src/snapshots/keys';
import { OverlaySnapshotter } from '../src/snapshots/overlay';
import { apiError, describeAsRoot, Mounts, mountedUnder, tempDir } from './snapshots-harness';

describe('snapshot key encoding', () => {
  test.each(['simple', 'a/b/c', '.', '..', '.tmp-x', 'extract-1 sha256:abc', 'ü/✓', '%41', 'x\u0000y', 'k8s.io/1/sha256:abc'])(
    '%j round-trips and is a safe file name',
    (k) => {
      const e = encodeKey(k);
      expect(e).toMatch(/^[A-Za-z0-9_%-][A-Za-z0-9_.%-]*$/);
      expect(decodeKey(e)).toBe(k);
    },
  );

  test('distinct keys never share an encoding', () => {
    expect(new Set(['a/b', 'a%2Fb', 'a_b', 'A/b'].map(encodeKey)).size).toBe(4);
  });

  test('a long key is hashed', () => {
    const e = encodeKey('x'.repeat(300));
    expect(e).toMatch(/^~[0-9a-f]{64}$/);
    expect(decodeKey(e)).toBeUndefined();
  });
});

describeAsRoot('OverlaySnapshotter', () => {
  let dir: string;
  let store: RecordStore;
  let sn: OverlaySnapshotter;
  let mounts: Mounts;
  const ns = 'test';

  beforeEach(() => {
    dir = tempDir('gantry-snap-');
    store = new RecordStore(path.join(dir, 'root', 'metadata'));
    sn = new OverlaySnapshotter({ store, root: path.join(dir, 'root') });
    mounts = new Mounts(dir);
  });

  afterEach(() => {
    mounts.cleanup();
    const left = mountedUnder(dir);
    if (left.length === 0) fs.rmSync(dir, { recursive: true, force: true }); // never rm -r through a mount
    expect(left).toEqual([]);
  });

  const snapDir = (id: number) => path.join(dir, 'root', 'snapshots', 'overlayfs', 'snapshots', String(id));
  const fsDir = (id: number) => path.join(snapDir(id), 'fs');

  /** A committed base layer "base" with /hello.txt and /dir/keep, written through its rw bind mount. */
  function base(name = 'base', n = ns): void {
    const ms = sn.prepare(n, `${name}-active`, '');
    const t = mounts.mount(ms);
    fs.writeFileSync(path.join(t, 'hello.txt'), 'from the parent\n');
    fs.mkdirSync(path.join(t, 'dir'));
    fs.writeFileSync(path.join(t, 'dir', 'keep'), 'kept\n');
    mounts.unmount(t);
    sn.commit(n, name, `${name}-active`);
  }

  test('layout, bind for a base, commit, overlay for a child with a whiteout, read-only view of the chain', () => {
    const ms = sn.prepare(ns, 'base-active', '', { a: 'b' });
    expect(ms).toEqual([{ type: 'bind', source: fsDir(1), options: ['rw', 'rbind'] }]);
    expect(fs.readdirSync(snapDir(1)).sort()).toEqual(['fs', 'work']);
    expect(sn.stat(ns, 'base-active')).toMatchObject({ name: 'base-active', parent: '', kind: 'active', labels: { a: 'b' } });
    const t = mounts.mount(ms);
    fs.writeFileSync(path.join(t, 'hello.txt'), 'from the parent\n');
    mounts.unmount(t);
    expect(fs.readFileSync(path.join(fsDir(1), 'hello.txt'), 'utf8')).toBe('from the parent\n');

    sn.commit(ns, 'base', 'base-active', { layer: '1' });
    expect(apiError(() => sn.stat(ns, 'base-active')).code).toBe(status.NOT_FOUND);
    expect(sn.stat(ns, 'base')).toMatchObject({ name: 'base', parent: '', kind: 'committed', labels: { layer: '1' } });
    expect(apiError(() => sn.mounts(ns, 'base')).code).toBe(status.FAILED_PRECONDITION);

    const child = sn.prepare(ns, 'child', 'base');
    expect(child).toEqual([
      {
        type: 'overlay',
        source: 'overlay',
        options: [
          ...(fs.existsSync('/sys/module/overlay/parameters/index') ? ['index=off'] : []),
          `workdir=${path.join(snapDir(2), 'work')}`,
          `upperdir=${fsDir(2)}`,
          `lowerdir=${fsDir(1)}`,
        ],
      },
    ]);
    expect(sn.mounts(ns, 'child')).toEqual(child);
    const c = mounts.mount(child);
    expect(fs.readFileSync(path.join(c, 'hello.txt'), 'utf8')).toBe('from the parent\n');
    fs.writeFileSync(path.join(c, 'new.txt'), 'from the child\n');
    fs.unlinkSync(path.join(c, 'hello.txt'));
    mounts.unmount(c);
    // overlayfs records the deletion as a whiteout: a 0/0 character device in the upper dir
    const wh = fs.lstatSync(path.join(fsDir(2), 'hello.txt'));
    expect(wh.isCharacterDevice()).toBe(true);
    expect(wh.rdev).toBe(0);
    expect(fs.readFileSync(path.join(fsDir(1), 'hello.txt'), 'utf8')).toBe('from the parent\n');
    sn.commit(ns, 'top', 'child');

    // two parents: an overlay with only lower dirs (read-only), nearest first
    const view = sn.view(ns, 'top-view', 'top');
    expect(view).toEqual([
      {
        type: 'overlay',
        source: 'overlay',
        options: [...(fs.existsSync('/sys/module/overlay/parameters/index') ? ['index=off'] : []), `lowerdir=${fsDir(2)}:${fsDir(1)}`],
      },
    ]);
    expect(fs.readdirSync(snapDir(3))).toEqual(['fs']);
    expect(sn.mounts(ns, 'top-view')).toEqual(view);
    const v = mounts.mount(view);
    expect(fs.readdirSync(v).sort()).toEqual(['new.txt']);
    expect(fs.readFileSync(path.join(v, 'new.txt'), 'utf8')).toBe('from the child\n');
    expect(() => fs.writeFileSync(path.join(v, 'x'), 'no')).toThrow(expect.objectContaining({ code: 'EROFS' }));
    expect(() => fs.unlinkSync(path.join(v, 'new.txt'))).toThrow(expect.objectContaining({ code: 'EROFS' }));
    expect(sn.stat(ns, 'top-view')).toMatchObject({ kind: 'view', parent: 'top' });

    // one parent: a read-only bind of the parent's fs
    const v1 = sn.view(ns, 'base-view', 'base');
    expect(v1).toEqual([{ type: 'bind', source: fsDir(1), options: ['ro', 'rbind'] }]);
    const m1 = mounts.mount(v1);
    expect(fs.readFileSync(path.join(m1, 'hello.txt'), 'utf8')).toBe('from the parent\n');
    expect(() => fs.writeFileSync(path.join(m1, 'x'), 'no')).toThrow(expect.objectContaining({ code: 'EROFS' }));

    // no parent: an empty read-only bind
    const v0 = sn.view(ns, 'empty-view', '');
    expect(v0).toEqual([{ type: 'bind', source: fsDir(5), options: ['ro', 'rbind'] }]);
    const m0 = mounts.mount(v0);
    expect(fs.readdirSync(m0)).toEqual([]);
    expect(() => fs.writeFileSync(path.join(m0, 'x'), 'no')).toThrow(expect.objectContaining({ code: 'EROFS' }));

    // a view of a view is refused: parents must be committed
    expect(apiError(() => sn.view(ns, 'vv', 'top-view')).code).toBe(status.INVALID_ARGUMENT);
  });

  test('remove takes the directory away at once and deletes its files in the background', async () => {
    base();
    fs.writeFileSync(path.join(snapDir(1), 'fs', 'big'), Buffer.alloc(1 << 20));
    sn.remove(ns, 'base');
    expect(fs.existsSync(snapDir(1))).toBe(false);
    const dirs = path.dirname(snapDir(1));
    await waitFor('the moved-aside copy to be deleted', () => fs.readdirSync(dirs).length === 0);
  });

  test('remove refuses a snapshot with children, then removes bottom-up; ids are not reused', () => {
    base();
    sn.prepare(ns, 'child', 'base');
    sn.view(ns, 'v', 'base');
    const e = apiError(() => sn.remove(ns, 'base'));
    expect(e.code).toBe(status.FAILED_PRECONDITION);
    expect(e.message).toMatch(/children|child/);
    sn.remove(ns, 'child');
    expect(fs.existsSync(snapDir(2))).toBe(false);
    expect(apiError(() => sn.remove(ns, 'base')).code).toBe(status.FAILED_PRECONDITION);
    sn.remove(ns, 'v');
    sn.remove(ns, 'base');
    expect(fs.existsSync(snapDir(1))).toBe(false);
    expect(apiError(() => sn.remove(ns, 'base')).code).toBe(status.NOT_FOUND);
    expect(sn.list(ns, [])).toEqual([]);
    // the next id continues the sequence, also in a new snapshotter over the same root
    expect(sn.prepare(ns, 'again', '')[0]!.source).toBe(fsDir(4));
    const sn2 = new OverlaySnapshotter({ store, root: path.join(dir, 'root') });
    expect(sn2.prepare(ns, 'again2', '')[0]!.source).toBe(fsDir(5));
    expect(sn2.stat(ns, 'again').kind).toBe('active');
  });

  test('usage: own fs dir only; committed measured once', () => {
    base();
    const u = sn.usage(ns, 'base');
    expect(u.inodes).toBe(4); // fs/, hello.txt, dir/, dir/keep
    expect(u.size).toBeGreaterThan(0);
    // committed layers are measured at commit: a change behind the snapshotter's back does not count
    fs.writeFileSync(path.join(fsDir(1), 'sneaked'), 'x');
    expect(sn.usage(ns, 'base')).toEqual(u);

    sn.prepare(ns, 'child', 'base');
    expect(sn.usage(ns, 'child').inodes).toBe(1);
    fs.writeFileSync(path.join(fsDir(2), 'big'), Buffer.alloc(1 << 20, 1));
    const cu = sn.usage(ns, 'child');
    expect(cu.inodes).toBe(2);
    expect(cu.size).toBeGreaterThanOrEqual(1 << 20);
    sn.view(ns, 'v', 'base');
    expect(sn.usage(ns, 'v')).toEqual({ size: 0, inodes: 0 });
    expect(apiError(() => sn.usage(ns, 'nope')).code).toBe(status.NOT_FOUND);
  });

  test('list filters: name, parent, kind, labels', () => {
    base();
    sn.prepare(ns, 'c1', 'base', { role: 'app', 'io.example.tier': 'web' });
    sn.view(ns, 'v1', 'base', { role: 'ro' });
    sn.prepare(ns, 'solo', '');
    const names = (filters: string[]) =>
      sn
        .list(ns, filters)
        .map((i) => i.name)
        .sort();
    expect(names([])).toEqual(['base', 'c1', 'solo', 'v1']);
    expect(names(['kind==committed'])).toEqual(['base']);
    expect(names(['kind==active'])).toEqual(['c1', 'solo']);
    expect(names(['kind==view'])).toEqual(['v1']);
    expect(names(['parent==base'])).toEqual(['c1', 'v1']);
    expect(names(['parent'])).toEqual(['c1', 'v1']);
    expect(names(['name==solo'])).toEqual(['solo']);
    expect(names(['name~=^c'])).toEqual(['c1']);
    expect(names(['labels.role==app'])).toEqual(['c1']);
    expect(names(['labels.role'])).toEqual(['c1', 'v1']);
    expect(names(['labels.io.example.tier==web'])).toEqual(['c1']);
    expect(names(['labels."io.example.tier"==web'])).toEqual(['c1']);
    expect(names(['parent==base,kind==view'])).toEqual(['v1']);
    expect(names(['kind==view', 'name==solo'])).toEqual(['solo', 'v1']);
    expect(apiError(() => sn.list(ns, ['name=='])).code).toBe(status.INVALID_ARGUMENT);
  });

  test('update labels: whole set, one key, removal; other fields refused', () => {
    sn.prepare(ns, 'k', '', { a: '1', b: '2' });
    const before = sn.stat(ns, 'k');
    expect(sn.update(ns, { name: 'k', labels: { c: '3' } }, ['labels.c']).labels).toEqual({ a: '1', b: '2', c: '3' });
    expect(sn.update(ns, { name: 'k', labels: {} }, ['labels.a']).labels).toEqual({ b: '2', c: '3' });
    expect(sn.update(ns, { name: 'k', labels: { x: 'y' } }, ['labels']).labels).toEqual({ x: 'y' });
    const after = sn.update(ns, { name: 'k', labels: { z: '1' } }, []);
    expect(after.labels).toEqual({ z: '1' });
    expect(after.updatedAt.getTime()).toBeGreaterThanOrEqual(before.updatedAt.getTime());
    expect(after.createdAt).toEqual(before.createdAt);
    expect(sn.stat(ns, 'k').labels).toEqual({ z: '1' });
    expect(apiError(() => sn.update(ns, { name: 'k', labels: {} }, ['parent'])).code).toBe(status.INVALID_ARGUMENT);
    expect(apiError(() => sn.update(ns, { name: 'nope', labels: {} }, [])).code).toBe(status.NOT_FOUND);
  });

  test('namespaces isolate keys; keys with "/" and other characters', () => {
    base('base', 'ns1');
    expect(apiError(() => sn.stat('ns2', 'base')).code).toBe(status.NOT_FOUND);
    expect(apiError(() => sn.prepare('ns2', 'x', 'base')).code).toBe(status.NOT_FOUND);
    sn.prepare('ns2', 'base', '');
    expect(sn.stat('ns1', 'base').kind).toBe('committed');
    expect(sn.stat('ns2', 'base').kind).toBe('active');
    expect(sn.namespaces()).toEqual(['ns1', 'ns2']);

    const odd = ['extract-123 sha256:abc/def', '..', 'a%2Fb', 'ünï/cødé', 'k'.repeat(300)];
    for (const k of odd) sn.prepare('ns1', k, 'base', { k: 'v' });
    expect(
      sn
        .list('ns1', ['parent==base'])
        .map((i) => i.name)
        .sort(),
    ).toEqual([...odd].sort());
    for (const k of odd) expect(sn.stat('ns1', k).name).toBe(k);
  });

  test('cleanup removes directories no record points at, in any namespace', () => {
    base('base', 'ns1');
    sn.prepare('ns2', 'k', '');
    const root = path.join(dir, 'root', 'snapshots', 'overlayfs', 'snapshots');
    fs.mkdirSync(path.join(root, '77', 'fs'), { recursive: true });
    fs.writeFileSync(path.join(root, '77', 'fs', 'junk'), 'x');
    fs.mkdirSync(path.join(root, 'new-abc', 'fs'), { recursive: true });
    fs.mkdirSync(path.join(root, 'rm-9'), { recursive: true });
    sn.cleanup();
    expect(fs.readdirSync(root).sort()).toEqual(['1', '2']);
    expect(sn.stat('ns1', 'base').kind).toBe('committed');
  });

  test('bad input: duplicate key, unknown parent, active parent, commit rules', () => {
    base();
    sn.prepare(ns, 'a', 'base');
    expect(apiError(() => sn.prepare(ns, 'a', '')).code).toBe(status.ALREADY_EXISTS);
    expect(apiError(() => sn.view(ns, 'base', '')).code).toBe(status.ALREADY_EXISTS);
    expect(apiError(() => sn.prepare(ns, 'b', 'missing')).code).toBe(status.NOT_FOUND);
    expect(apiError(() => sn.prepare(ns, 'b', 'a')).code).toBe(status.INVALID_ARGUMENT);
    expect(apiError(() => sn.prepare(ns, '', '')).code).toBe(status.INVALID_ARGUMENT);
    expect(apiError(() => sn.commit(ns, 'base', 'a')).code).toBe(status.ALREADY_EXISTS);
    expect(apiError(() => sn.commit(ns, 'a', 'a')).code).toBe(status.ALREADY_EXISTS);
    expect(apiError(() => sn.commit(ns, 'x', 'missing')).code).toBe(status.NOT_FOUND);
    const e = apiError(() => sn.commit(ns, 'x', 'base'));
    expect(e.code).toBe(status.FAILED_PRECONDITION);
    expect(e.message).toMatch(/only active snapshots can be committed/);
    sn.view(ns, 'v', 'base');
    expect(apiError(() => sn.commit(ns, 'x', 'v')).code).toBe(status.FAILED_PRECONDITION);
    // nothing half-made: only base (1), a (2), v (3) on disk
    expect(fs.readdirSync(path.join(dir, 'root', 'snapshots', 'overlayfs', 'snapshots')).sort()).toEqual(['1', '2', '3']);
  });
});
