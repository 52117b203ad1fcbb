// esbuild plugins shared by tools/bundle-runtime.mjs and tools/bundle-shim.mjs.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const packages = join(dirname(fileURLToPath(import.meta.url)), '..', 'packages');

/** Resolves @gantry/linux's fake-sys module to an empty one: production code never constructs it. */
export const withoutFakeSys = {
  name: 'without-fake-sys',
  setup(b) {
    b.onResolve({ filter: /[\\/]fake-sys(\.js)?$/ }, () => ({ path: 'fake-sys', namespace: 'without-fake-sys' }));
    b.onLoad({ filter: /.*/, namespace: 'without-fake-sys' }, () => ({ contents: 'export {};', loader: 'js' }));
  },
};

/**
 * The named @gantry packages from their TypeScript sources (src/index.ts): their package entries
 * are tsc's CommonJS, which esbuild cannot tree-shake.
 */
export function fromSource(...names) {
  const filter = new RegExp(`^@gantry/(${names.join('|')})$`);
  return {
    name: 'gantry-from-source',
    setup(b) {
      b.onResolve({ filter }, (a) => ({ path: join(packages, a.path.slice('@gantry/'.length), 'src', 'index.ts') }));
    },
  };
}
