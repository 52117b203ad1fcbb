/**
 * What the builder remembers across daemon restarts, under <data-root>/builder: each built or
 * committed image's parent (`docker history` names intermediate images by it; `docker images`
 * hides untagged parents as dockerd does) and the build cache (a step's key → the image it made).
 * Both are small JSON records written atomically (write, fsync, rename); a corrupt one is
 * quarantined and starts empty (the cache is only an optimisation, parents only decoration).
 * In memory only: the checksums of COPY --from sources taken in an image's filesystem, so a cached
 * COPY --from step need not mount the image again.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { isJsonObject, loadJsonOrQuarantine, writeJsonAtomic, type Logger } from '@gantry/linux';

type StringMap = Record<string, string>;

const MAX_SOURCE_SUMS = 1000;

const stringMap = (v: unknown): string | undefined =>
  isJsonObject(v) && Object.values(v).every((x) => typeof x === 'string') ? undefined : 'not an object of strings';

export class BuilderStore {
  private readonly dir: string;
  private readonly parents: StringMap;
  private readonly cache: StringMap;
  private readonly sourceSums = new Map<string, string>();

  constructor(dataRoot: string, log: Logger) {
    this.dir = path.join(dataRoot, 'builder');
    fs.mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const load = (name: string): StringMap =>
      loadJsonOrQuarantine<StringMap>(path.join(this.dir, name), {
        validate: stringMap,
        onQuarantine: (r) => log.warn('builder record quarantined', { file: r.file, reason: r.reason }),
      }) ?? {};
    this.parents = Object.assign(Object.create(null) as StringMap, load('parents.json'));
    this.cache = Object.assign(Object.create(null) as StringMap, load('cache.json'));
  }

  parentOf(id: string): string | undefined {
    return this.parents[id];
  }

  /** Every image that is some image's parent. */
  parentIds(): Set<string> {
    return new Set(Object.values(this.parents));
  }

  setParent(id: string, parent: string): void {
    if (!parent || this.parents[id] === parent) return;
    this.parents[id] = parent;
    writeJsonAtomic(path.join(this.dir, 'parents.json'), this.parents, { mode: 0o600 });
  }

  cached(key: string): string | undefined {
    return this.cache[key];
  }

  setCached(key: string, id: string): void {
    if (this.cache[key] === id) return;
    this.cache[key] = id;
    writeJsonAtomic(path.join(this.dir, 'cache.json'), this.cache, { mode: 0o600 });
  }

  forgetCached(key: string): void {
    if (!(key in this.cache)) return;
    delete this.cache[key];
    writeJsonAtomic(path.join(this.dir, 'cache.json'), this.cache, { mode: 0o600 });
  }

  sourceSum(key: string): string | undefined {
    return this.sourceSums.get(key);
  }

  setSourceSum(key: string, sum: string): void {
    // the oldest goes first: a few hundred bytes each, and only rebuilds of recent stages ask
    if (this.sourceSums.size >= MAX_SOURCE_SUMS) this.sourceSums.delete(this.sourceSums.keys().next().value as string);
    this.sourceSums.set(key, sum);
  }
}
