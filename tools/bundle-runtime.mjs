// Bundles gantry-runtime's CLI and its init/exec stage into one file each (dist/bundle/). Both run
// on every container start, and Node spends a good part of their start-up resolving and reading
// dozens of small modules; one file each measured ~20% faster for `run` (bench/runtime-run.mjs).
// Without @gantry/linux's FakeSys, which the package index exports for tests (30 KB of the stage's
// bundle). Not minified: stack traces in bug reports stay readable, and minifying measured no
// faster (`perf` CPU samples of 6 runs, interleaved with the unminified bundle).
// koffi stays external: it carries a native addon.
import { build } from 'esbuild';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Resolves @gantry/linux's fake-sys module to an empty one: production code never constructs it. */
const withoutFakeSys = {
  name: 'without-fake-sys',
  setup(b) {
    b.onResolve({ filter: /[\\/]fake-sys(\.js)?$/ }, () => ({ path: 'fake-sys', namespace: 'without-fake-sys' }));
    b.onLoad({ filter: /.*/, namespace: 'without-fake-sys' }, () => ({ contents: 'module.exports = {};', loader: 'js' }));
  },
};

const dist = join(dirname(fileURLToPath(import.meta.url)), '..', 'packages', 'runtime', 'dist');
const common = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  external: ['koffi'],
  logLevel: 'warning',
  sourcemap: false,
  plugins: [withoutFakeSys],
};
await build({ ...common, entryPoints: [join(dist, 'cli', 'main.js')], outfile: join(dist, 'bundle', 'main.js') });
await build({ ...common, entryPoints: [join(dist, 'process', 'stage-main.js')], outfile: join(dist, 'bundle', 'stage-main.js') });
