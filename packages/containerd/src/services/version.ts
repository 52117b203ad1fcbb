/** containerd.services.version.v1.Version: this package's version and the source revision it was built from. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { version } from '@gantry/api';
import type { DaemonContext } from '../context';
import { unary } from '../rpc';

/** packages/containerd, from src/services (ts-jest) and dist/services (built) alike. */
const PACKAGE_DIR = path.resolve(__dirname, '../..');

function readVersion(): string {
  try {
    const pkg = JSON.parse(fs.readFileSync(path.join(PACKAGE_DIR, 'package.json'), 'utf8')) as { version?: unknown };
    if (typeof pkg.version === 'string') return pkg.version;
  } catch {
    // bundled elsewhere: no package.json beside us
  }
  return 'unknown';
}

/** GANTRY_REVISION (set by a release build), else the commit of the checkout we run from, else "unknown". */
function readRevision(): string {
  if (process.env.GANTRY_REVISION) return process.env.GANTRY_REVISION;
  try {
    const git = path.resolve(PACKAGE_DIR, '../../.git');
    const head = fs.readFileSync(path.join(git, 'HEAD'), 'utf8').trim();
    if (!head.startsWith('ref: ')) return head;
    const ref = head.slice(5);
    try {
      return fs.readFileSync(path.join(git, ref), 'utf8').trim();
    } catch {
      const packed = fs.readFileSync(path.join(git, 'packed-refs'), 'utf8');
      const line = packed.split('\n').find((l) => l.endsWith(` ${ref}`));
      if (line) return line.split(' ')[0]!;
    }
  } catch {
    // not a checkout
  }
  return 'unknown';
}

const VERSION = readVersion();
const REVISION = readRevision();

export function versionService(ctx: DaemonContext): version.VersionServer {
  const log = ctx.log.with({ service: 'version' });
  return {
    version: unary(log, 'Version', (): version.VersionResponse => ({ version: VERSION, revision: REVISION })),
  };
}
