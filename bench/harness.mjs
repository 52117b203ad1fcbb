// Loading e2e/src harnesses (TypeScript) from the bench scripts, which run as plain Node.
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);

/**
 * Transpile e2e/src/<name>.ts (and what it imports) to CommonJS in `tmp` and load it. `root`: the
 * checkout whose harness (and so whose built binaries) to use; default this one.
 */
export function loadHarness(tmp, name, root = repo) {
  const outfile = join(tmp, root === repo ? `${name}.cjs` : `${name}-${createHash('sha256').update(root).digest('hex').slice(0, 8)}.cjs`);
  require('esbuild').buildSync({
    entryPoints: [join(root, 'e2e', 'src', `${name}.ts`)],
    bundle: true,
    platform: 'node',
    format: 'cjs',
    outfile,
    logLevel: 'error',
    define: { __dirname: JSON.stringify(join(root, 'e2e', 'src')) },
  });
  return require(outfile);
}
