/**
 * The diff between two sets of mounts (containerd's Diff/Compare): the overlay fast path when the
 * right side is an overlay whose lower stack is exactly the left side, else both sides mounted
 * read-only on temporary directories and walked.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Readable } from 'node:stream';
import { linuxSys, mountAll, overlayLayers, removeMountDir, unmountAll, type MountSpec, type Sys } from '@gantry/linux';
import { diffOverlayUpper, diffTarChunks, overlayUpperIsSelfContained, toReadable, type DiffOptions } from './diff';

export interface CompareOptions extends DiffOptions {
  /** Where temporary mount points are made (created if missing). */
  tmpRoot: string;
}

const isBind = (m: MountSpec) => m.type === 'bind' || m.type === 'rbind' || m.options.includes('bind') || m.options.includes('rbind');

/** The upper dir to read directly, when `right` is an overlay stacked exactly on `left`. */
function overlayUpperOver(left: readonly MountSpec[], right: readonly MountSpec[]): string | undefined {
  if (right.length !== 1 || right[0]!.type !== 'overlay') return undefined;
  const r = overlayLayers(right[0]!);
  if (r.upper === undefined) return undefined;
  let leftLayers: string[];
  if (left.length === 1 && left[0]!.type === 'overlay') {
    const l = overlayLayers(left[0]!);
    leftLayers = l.upper !== undefined ? [l.upper, ...l.lowers] : l.lowers;
  } else if (left.length === 1 && isBind(left[0]!)) {
    leftLayers = [left[0]!.source];
  } else {
    return undefined;
  }
  const same = leftLayers.length === r.lowers.length && leftLayers.every((p, i) => path.resolve(p) === path.resolve(r.lowers[i]!));
  return same ? r.upper : undefined;
}

/** An uncompressed tar of the changes from `left` to `right`; temporary mounts are undone when the stream ends or is destroyed. */
export function diffMounts(left: readonly MountSpec[], right: readonly MountSpec[], opts: CompareOptions): Readable {
  const sys: Sys = opts.sys ?? linuxSys();
  const upper = overlayUpperOver(left, right);
  if (upper !== undefined && overlayUpperIsSelfContained(upper, sys)) return diffOverlayUpper(upper, opts);
  async function* generic(): AsyncGenerator<Buffer> {
    fs.mkdirSync(opts.tmpRoot, { recursive: true, mode: 0o700 });
    const lDir = fs.mkdtempSync(path.join(opts.tmpRoot, 'diff-lower-'));
    const rDir = fs.mkdtempSync(path.join(opts.tmpRoot, 'diff-upper-'));
    let lPoints: string[] = [];
    let rPoints: string[] = [];
    try {
      lPoints = mountAll(sys, left, lDir, true);
      rPoints = mountAll(sys, right, rDir, true);
      yield* diffTarChunks(lDir, rDir, opts);
    } finally {
      try {
        unmountAll(sys, rPoints);
      } finally {
        unmountAll(sys, lPoints);
        removeMountDir(lDir);
        removeMountDir(rDir);
      }
    }
  }
  return toReadable(generic());
}
