// Bundles gantry-shim into one minified file (packages/shim/dist/bundle/main.js), the entry
// gantry-containerd spawns. A shim lives as long as its container, idle nearly all that time, so
// what it costs is memory: run from tsc's output it loaded ~215 modules (the whole generated
// containerd API, every @gantry package index) and each kept its source text, compiled functions
// and module wrapper. One tree-shaken file loads only what the shim reaches (see the shim's
// README for the PSS it saved). Minified because the source text a shim holds is memory too;
// shim stack traces name functions less well, but its errors reach logs as messages.
// koffi stays external: it carries a native addon. The runtime's init/exec stage bundle is copied
// beside it: the runtime library looks for ../bundle/stage-main.js from its own (here, bundled) file.
import { build } from 'esbuild';
import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fromSource, packages, withoutFakeSys } from './esbuild-plugins.mjs';

const out = join(packages, 'shim', 'dist', 'bundle');
mkdirSync(out, { recursive: true });
await build({
  entryPoints: [join(packages, 'shim', 'src', 'main.ts')],
  outfile: join(out, 'main.js'),
  bundle: true,
  minify: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  // proto-loader (and protobufjs under it) only for grpc-js's channelz, which the shim does not serve
  external: ['koffi', '@grpc/proto-loader'],
  logLevel: 'warning',
  sourcemap: false,
  plugins: [withoutFakeSys, fromSource('linux', 'runtime', 'api')],
});
copyFileSync(join(packages, 'runtime', 'dist', 'bundle', 'stage-main.js'), join(out, 'stage-main.js'));
