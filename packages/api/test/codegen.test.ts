import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { describeIfTool } from './tools';

const repo = join(__dirname, '..', '..', '..');
const committed = join(__dirname, '..', 'src', 'gen');

function files(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else out.push(relative(dir, p));
    }
  };
  walk(dir);
  return out.sort();
}

describeIfTool('protoc', 'protobuf-compiler')('tools/codegen.sh', () => {
  let out: string;
  beforeAll(() => {
    out = mkdtempSync(join(tmpdir(), 'gantry-codegen-'));
    execFileSync(join(repo, 'tools', 'codegen.sh'), [out], { stdio: ['ignore', 'pipe', 'pipe'] });
  }, 60000);
  afterAll(() => {
    if (out) rmSync(out, { recursive: true, force: true });
  });

  test('generates the same file set as packages/api/src/gen', () => {
    expect(files(out)).toEqual(files(committed));
  });

  test('generates byte-identical files (run tools/codegen.sh and commit the result if not)', () => {
    const differing = files(committed).filter((f) => {
      let fresh: Buffer;
      try {
        fresh = readFileSync(join(out, f));
      } catch {
        return true;
      }
      return !fresh.equals(readFileSync(join(committed, f)));
    });
    expect(differing).toEqual([]);
  });
});
