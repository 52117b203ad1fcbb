// Bundles gantry-runtime's CLI and its init/exec stage into one file each (dist/bundle/). Both run
// on every container start, and Node spends a good part of their start-up resolving and reading
// dozens of small modules; one file each measured ~20% faster for `run` (bench/runtime-run.mjs).
// koffi stays external: it carries a native addon.
import { build } from 'esbuild';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const dist = join(dirname(fileURLToPath(import.meta.url)), '..', 'packages', 'runtime', 'dist');
const common = { bundle: true, platform: 'node', target: 'node20', external: ['koffi'], logLevel: 'warning', sourcemap: false };
await build({ ...common, entryPoints: [join(dist, 'cli', 'main.js')], outfile: join(dist, 'bundle', 'main.js') });
await build({ ...common, entryPoints: [join(dist, 'process', 'stage-main.js')], outfile: join(dist, 'bundle', 'stage-main.js') });
