// Bundles gantry-runtime's CLI and its init/exec stage into one file each (dist/bundle/). Both run
// on every container start, and Node spends a good part of their start-up resolving and reading
// dozens of small modules; one file each measured ~20% faster for `run` (bench/runtime-run.mjs).
// Bundled from the TypeScript sources (and @gantry/linux's), not from tsc's CommonJS output:
// esbuild can then drop what is never imported (the stage does not need the record store, bpf or
// the cgroup managers) and skip CommonJS's per-module wrappers. The stage's bundle went from 200 KB
// to 115 KB and its load from ~29 to ~19 ms of CPU (npm run bench, see the runtime's README).
// Without @gantry/linux's FakeSys, which the package index exports for tests (30 KB of the stage's
// bundle). Not minified: stack traces in bug reports stay readable, and minifying measured no
// faster (`perf` CPU samples of 6 runs, interleaved with the unminified bundle).
// koffi stays external: it carries a native addon.
import { build } from 'esbuild';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fromSource, packages, withoutFakeSys } from './esbuild-plugins.mjs';

const src = join(packages, 'runtime', 'src');
const dist = join(packages, 'runtime', 'dist');
const common = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  external: ['koffi'],
  logLevel: 'warning',
  sourcemap: false,
  plugins: [withoutFakeSys, fromSource('linux')],
};
await build({ ...common, entryPoints: [join(src, 'cli', 'main.ts')], outfile: join(dist, 'bundle', 'main.js') });
await build({ ...common, entryPoints: [join(src, 'process', 'stage-main.ts')], outfile: join(dist, 'bundle', 'stage-main.js') });

// The gantry CLI: an ES module bundle, so `gantry ps` does not spend its start-up resolving modules.
// Split at its one dynamic import: @gantry/compose (with its YAML parser, ajv and the Compose
// schema, over half of the code) is a chunk of its own that only `gantry compose` (and completion,
// help) load; what both use (commander, the client) is a shared chunk. ESM because esbuild splits
// only ES modules; `require` is provided for the CommonJS packages inside (commander, yaml, ajv).
const cliOut = join(packages, 'cli', 'dist', 'bundle');
rmSync(cliOut, { recursive: true, force: true });
await build({
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  splitting: true,
  logLevel: 'warning',
  sourcemap: false,
  entryPoints: { main: join(packages, 'cli', 'src', 'main.ts') },
  outdir: cliOut,
  chunkNames: '[name]-[hash]',
  // from the TypeScript sources (ES modules): esbuild can split and tree-shake them, not tsc's CommonJS
  plugins: [fromSource('client', 'compose', 'dockerfile', 'engine-api', 'format', 'oci')],
  banner: { js: "import { createRequire as __gantryRequire } from 'node:module'; const require = __gantryRequire(import.meta.url);" },
  // the CLI and @gantry/compose each get their own commander 14 from npm (the root's is another
  // package's 7.x): one copy in the bundle, so its error classes are one class and it loads once
  alias: { commander: join(packages, 'cli', 'node_modules', 'commander') },
});
// the .js files of the bundle are ES modules (bin/gantry runs main.js)
writeFileSync(join(cliOut, 'package.json'), '{ "type": "module" }\n');
