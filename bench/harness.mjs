// Loading e2e/src harnesses (TypeScript) from the bench scripts, which run as plain Node.
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);

/** Transpile e2e/src/<name>.ts (and what it imports) to CommonJS in `tmp` and load it. */
export function loadHarness(tmp, name) {
  const outfile = join(tmp, `${name}.cjs`);
  require('esbuild').buildSync({
    entryPoints: [join(repo, 'e2e', 'src', `${name}.ts`)],
    bundle: true,
    platform: 'node',
    format: 'cjs',
    outfile,
    logLevel: 'error',
    define: { __dirname: JSON.stringify(join(repo, 'e2e', 'src')) },
  });
  return require(outfile);
}
