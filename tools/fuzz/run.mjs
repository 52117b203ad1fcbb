#!/usr/bin/env node
// npm run fuzz -- [--time SECONDS] [--package NAME...] [--seed N]
// Runs every *.fuzz.test.ts of the packages with each property given SECONDS (default 60).
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const args = process.argv.slice(2);
let time = 60;
let seed;
const only = [];
for (let i = 0; i < args.length; i++) {
  const a = args[i];
  if (a === '--time') time = Number(args[++i]);
  else if (a === '--seed') seed = args[++i];
  else if (a === '--package') only.push(args[++i]);
  else {
    console.error(`unknown argument ${a}\nusage: npm run fuzz -- [--time SECONDS] [--package NAME] [--seed N]`);
    process.exit(2);
  }
}
if (!(time > 0)) {
  console.error('--time needs a positive number of seconds');
  process.exit(2);
}
let failed = 0;
for (const pkg of fs.readdirSync(path.join(root, 'packages')).sort()) {
  if (only.length > 0 && !only.includes(pkg)) continue;
  const testDir = path.join(root, 'packages', pkg, 'test');
  if (!fs.existsSync(testDir) || !fs.readdirSync(testDir).some((f) => f.endsWith('.fuzz.test.ts'))) continue;
  console.log(`== ${pkg}: fuzzing each property for ${time}s`);
  const env = { ...process.env, GANTRY_FUZZ_SECONDS: String(time), ...(seed ? { GANTRY_FUZZ_SEED: seed } : {}) };
  const r = spawnSync('npx', ['jest', '--runInBand', '--testPathPattern', '\\.fuzz\\.test\\.ts$'], {
    cwd: path.join(root, 'packages', pkg),
    env,
    stdio: 'inherit',
  });
  if (r.status !== 0) failed++;
}
process.exit(failed > 0 ? 1 : 0);
