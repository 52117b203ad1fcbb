import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { NamespaceStore } from '../src/metadata/namespaces';
import { RecordStore } from '@gantry/linux';

it('a namespace whose only records are nested (snapshots/<snapshotter>) is not empty', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gantry-ns-'));
  try {
    const store = new RecordStore(dir);
    const nss = new NamespaceStore(store);
    nss.create('n1', {});
    store.create(['namespaces', 'n1', 'snapshots', 'overlayfs'], 'k1', { id: 1 });
    expect(nss.contents('n1')).toEqual(['snapshots']);
    expect(() => nss.delete('n1')).toThrow(/must be empty, but it still has snapshots/);
    store.delete(['namespaces', 'n1', 'snapshots', 'overlayfs'], 'k1');
    nss.delete('n1');
    expect(nss.find('n1')).toBeUndefined();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
