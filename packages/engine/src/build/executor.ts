/**
 * The classic builder's executor: stage by stage, each instruction makes an image on the one
 * before (RUN and COPY/ADD a layer, the others an empty-layer history entry), as dockerd's
 * builder/dockerfile does. A step whose key (parent image, expanded instruction, build args in
 * scope, and for COPY/ADD the sources' checksum) is in the BuilderStore's cache reuses that image.
 * Intermediate images stay (untagged, hidden from `docker images`) as the cache; containers and
 * snapshots a step makes are removed whether it succeeds or not.
 */
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { snapshots as spb } from '@gantry/api';
import { errdefs, linuxSys, mkdirAllInRoot, openRoot, withTempMounts, type MountSpec } from '@gantry/linux';
import { normalizeReference } from '@gantry/oci';
import type { ContainerdStore, Credentials } from '@gantry/registry';
import type { ContainerManager } from '../containers/manager';
import { readUserDb, resolveUserSpec, type UserDb } from '../containers/users';
import type { OciContainerConfig } from '../images/catalog';
import { danglingName, parseName, shortId } from '../images/names';
import type { BuildContext } from './build-context';
import type { ImageDeps } from './commit';
import { copyInto, expandSource, extractArchiveInto, isLocalArchive, sourceHash, type CopyOptions, type Root } from './copy-step';
import {
  applyToConfig,
  BuildArgs,
  DEFAULT_SHELL,
  expandInstruction,
  historyCreatedBy,
  multiSourceHash,
  resolveCommand,
  stagesFor,
  type ApplyState,
  type StageArgs,
  isExpanded,
  parseDockerfile,
  resolveFrom,
  type AddInstruction,
  type CopyInstruction,
  type Dockerfile,
  type Instruction,
  type RunInstruction,
  type Stage,
} from '@gantry/dockerfile';
import { scratchImage, type BaseImage, type ImageWriter, type NewLayer } from './image-writer';
import { BuildError, type BuildOutput } from './output';
import { RunContainer } from './run-step';

const SNAPSHOTTER = 'overlayfs';

export interface BuildOptions {
  target?: string;
  noCache: boolean;
  pull: boolean;
  buildArgs: Record<string, string | null>;
  labels: Record<string, string>;
  networkMode: string;
  /** Credentials for a registry a FROM pulls from (the X-Registry-Config header). */
  credentials?: (domain: string) => Credentials | undefined;
  /** Aborted when the client goes away (docker build interrupted): the build stops at once. */
  signal?: AbortSignal;
  /** Go's filepath.Match, for COPY/ADD sources with wildcards. */
  match: (pattern: string, name: string) => boolean;
}

interface StageState {
  image: BaseImage;
  config: OciContainerConfig;
  /** The build args this stage declared (and those given for the proxy variables). */
  args: StageArgs;
  /** Whether this stage set CMD (an ENTRYPOINT then keeps it). */
  apply: ApplyState;
}

const quote = (s: string) => (/^[\w.\-/]+$/.test(s) ? s : JSON.stringify(s));

const key = (parts: unknown[]) => createHash('sha256').update(JSON.stringify(parts)).digest('hex');

/** An instruction without where it was written: what the cache compares. */
const essence = (ins: Instruction) => {
  const { line: _l, endLine: _e, original: _o, keyword: _k, ...rest } = ins;
  return rest;
};

/** Errors of the Dockerfile package: the user's input, reported as a build error. */
const INPUT_ERRORS = new Set([
  'DockerfileSyntaxError',
  'UnknownTargetError',
  'InstructionValueError',
  'ShellExpansionError',
  'DockerignoreError',
  'BadPatternError',
]);

export function asBuildError(e: unknown): unknown {
  return e instanceof Error && INPUT_ERRORS.has(e.name) ? new BuildError(e.message) : e;
}

export class Executor {
  private readonly stageImages = new Map<string, BaseImage>();
  private args = new BuildArgs();
  private step = 0;
  private total = 0;
  private escapeChar = '\\';
  private df: Dockerfile | undefined;

  constructor(
    private readonly deps: ImageDeps,
    private readonly containers: ContainerManager,
    private readonly writer: ImageWriter,
    private readonly store: ContainerdStore,
    private readonly context: BuildContext,
    private readonly opts: BuildOptions,
    private readonly out: BuildOutput,
  ) {}

  /** Build every stage up to the target; the last one's image. */
  async build(df: Dockerfile): Promise<BaseImage> {
    this.escapeChar = df.escapeChar;
    this.df = df;
    this.args = new BuildArgs(this.opts.buildArgs, df.args, df.escapeChar);
    // every stage up to the target, in order, as the classic builder runs them
    const stages = stagesFor(df, { ...(this.opts.target ? { target: this.opts.target } : {}), buildArgs: this.args, all: true });
    const labels = Object.entries(this.opts.labels);
    this.total = stages.reduce((n, s) => n + 1 + s.instructions.length, 0) + (labels.length > 0 ? 1 : 0);
    let last: BaseImage | undefined;
    for (const [i, stage] of stages.entries()) {
      // the `labels` query parameter: one more LABEL step at the end of the target stage, as dockerd
      const extra: Instruction[] =
        i === stages.length - 1 && labels.length > 0
          ? [
              {
                kind: 'LABEL',
                keyword: 'LABEL',
                line: 0,
                endLine: 0,
                original: `LABEL ${labels.map(([k, v]) => `${quote(k)}=${quote(v)}`).join(' ')}`,
                pairs: labels.map(([k, v]) => ({ key: k, value: v, legacy: false })),
              },
            ]
          : [];
      last = await this.buildStage(stage, extra);
      this.stageImages.set(String(stage.index), last);
      if (stage.name) this.stageImages.set(stage.name, last);
    }
    const unused = this.args.unconsumed();
    if (unused.length > 0) this.out.stream(`[Warning] One or more build-args [${unused.join(' ')}] were not consumed\n`);
    return last!;
  }

  private header(ins: Instruction): void {
    if (this.opts.signal?.aborted) throw new BuildError('the build was cancelled: the client went away');
    this.step++;
    this.out.stream(`Step ${this.step}/${this.total} : ${ins.original}\n`);
  }

  private async buildStage(stage: Stage, extra: Instruction[]): Promise<BaseImage> {
    this.header(stage.from);
    const from = resolveFrom(this.df!, stage, this.args);
    if (from.platform && from.platform !== 'linux' && !from.platform.startsWith('linux/'))
      throw new BuildError(`FROM --platform=${from.platform}: this builder builds for the host's platform only`);
    const built = from.stage ? this.stageImages.get(String(from.stage.index)) : undefined;
    const image = built ?? (await this.fromImage(from.image));
    this.out.stream(image.id ? ` ---> ${shortId(image.id)}\n` : '');
    const st: StageState = { image, config: structuredClone(image.config.config ?? {}), args: this.args.stage(), apply: { cmdSet: false } };
    // the base image's ONBUILD triggers run first, and are not inherited
    const triggers = st.config.OnBuild ?? [];
    if (triggers.length > 0) {
      st.config.OnBuild = null;
      this.out.stream(`# Executing ${triggers.length} build trigger${triggers.length === 1 ? '' : 's'}\n`);
      for (const t of triggers) await this.dispatch(st, parseTrigger(t));
    }
    for (const ins of [...stage.instructions, ...extra]) {
      this.header(ins);
      await this.dispatch(st, ins);
      this.out.stream(` ---> ${shortId(st.image.id)}\n`);
    }
    return st.image;
  }

  /** FROM: an earlier stage, scratch, a local image, or one pulled (also when `pull=1`). */
  private async fromImage(ref: string): Promise<BaseImage> {
    const stage = this.stageImages.get(ref.toLowerCase());
    if (stage) return stage;
    if (ref === 'scratch') return scratchImage();
    if (!this.opts.pull) {
      try {
        return await this.writer.base(ref);
      } catch (e) {
        if (errdefs.ownKind(e) !== 'not-found') throw e;
      }
    }
    let name: string;
    try {
      name = normalizeReference(ref);
    } catch (e) {
      throw new BuildError(`invalid reference format: ${(e as Error).message}`);
    }
    const r = parseName(name);
    if (!r) throw new BuildError(`invalid reference format: ${ref}`);
    const client = this.deps.dist.client(r.domain, this.opts.credentials?.(r.domain));
    try {
      await client.pull(this.deps.dist.store(), name, {
        progress: (m) => this.out.stream(m.status ? `${m.id ? `${m.id}: ` : ''}${m.status}\n` : ''),
        danglingName,
        ...(this.opts.signal ? { signal: this.opts.signal } : {}),
      });
    } finally {
      client.close();
    }
    this.deps.images.forget();
    return this.writer.base(name);
  }

  /** What $VAR means in the stage's next instruction: its Env, then the build args in scope. */
  private env(st: StageState): Map<string, string> {
    return st.args.expansionEnv(st.config.Env ?? []);
  }

  private async dispatch(st: StageState, raw: Instruction): Promise<void> {
    const env = this.env(st);
    const ins = isExpanded(raw.kind) ? expandInstruction(raw, env, this.escapeChar) : raw;
    switch (ins.kind) {
      case 'FROM':
        throw new BuildError('FROM inside a stage');
      case 'RUN':
        return this.run(st, ins);
      case 'COPY':
      case 'ADD':
        return this.copy(st, ins);
      default:
        break;
    }
    // declared before the cache is asked: a cached ARG step still brings its value into scope
    if (ins.kind === 'ARG') st.args.declare(ins.args);
    const cacheKey = key([st.image.id, essence(ins)]);
    const applied = applyToConfig({ ...st.image.config, config: st.config }, raw, env, { escapeChar: this.escapeChar, state: st.apply });
    if (await this.cached(st, cacheKey)) return;
    const config = applied.config ?? {};
    const createdBy = historyCreatedBy(raw, { env, escapeChar: this.escapeChar, config }) ?? '';
    // WORKDIR makes its directory when the image lacks it (a layer then), as Docker's builder does
    const layer =
      ins.kind === 'WORKDIR' && config.WorkingDir ? await this.withStepRoot(st.image, async (root) => makeDir(root, config.WorkingDir!)) : undefined;
    await this.commit(st, cacheKey, { config, createdBy, ...(layer ? { layer } : {}), ...(applied.author ? { author: applied.author } : {}) });
  }

  private async cached(st: StageState, cacheKey: string): Promise<boolean> {
    if (this.opts.noCache) return false;
    const id = this.deps.builder.cached(cacheKey);
    if (!id) return false;
    try {
      const img = await this.writer.base(id);
      this.out.stream(' ---> Using cache\n');
      st.image = img;
      st.config = structuredClone(img.config.config ?? {});
      return true;
    } catch (e) {
      if (errdefs.ownKind(e) !== 'not-found') throw e;
      this.deps.builder.forgetCached(cacheKey);
      return false;
    }
  }

  private async commit(
    st: StageState,
    cacheKey: string,
    c: { config: OciContainerConfig; createdBy: string; layer?: NewLayer; author?: string },
  ): Promise<void> {
    const img = await this.writer.write(st.image, {
      config: c.config,
      history: { created_by: c.createdBy },
      ...(c.layer ? { layer: c.layer } : {}),
      ...(c.author ? { author: c.author } : {}),
    });
    if (st.image.id) this.deps.builder.setParent(img.id, st.image.id);
    this.deps.builder.setCached(cacheKey, img.id);
    st.image = img;
    st.config = structuredClone(c.config);
  }

  private async run(st: StageState, ins: RunInstruction): Promise<void> {
    if (ins.flagsUsed.length > 0)
      throw new BuildError(
        `the --${ins.flagsUsed[0]} option requires BuildKit. Refer to https://docs.docker.com/go/buildkit/ to learn how to build images with BuildKit enabled`,
      );
    if (ins.heredocs.length > 0) throw new BuildError('heredocs in RUN require BuildKit: the classic builder does not run them');
    const argv = resolveCommand(ins.command, st.config.Shell ?? DEFAULT_SHELL);
    const extraEnv = st.args.inScope(st.config.Env ?? []);
    const historyArgs = st.args.historyArgs(st.config.Env ?? []);
    const createdBy = historyCreatedBy(ins, { config: st.config, ...(historyArgs ? { buildArgs: historyArgs } : {}) }) ?? argv.join(' ');
    const cacheKey = key([st.image.id, 'RUN', argv, extraEnv]);
    if (await this.cached(st, cacheKey)) return;
    if (!st.image.id) throw new BuildError(`The command '${argv.join(' ')}' cannot run: the image has no filesystem (FROM scratch)`);
    const rc = await RunContainer.run(
      this.containers,
      {
        imageId: st.image.id,
        argv,
        config: st.config,
        extraEnv,
        networkMode: this.opts.networkMode,
        ...(this.opts.signal ? { signal: this.opts.signal } : {}),
      },
      this.out,
    );
    let layer: NewLayer;
    try {
      layer = await this.writer.layerOf(rc.snapshotKey, st.image);
    } finally {
      await rc.remove(this.out);
    }
    await this.commit(st, cacheKey, { config: st.config, createdBy, layer, ...(st.image.config.author ? { author: st.image.config.author } : {}) });
  }

  /** The stage or image a `COPY --from` names. */
  private async sourceImage(from: string): Promise<BaseImage> {
    return this.stageImages.get(from.toLowerCase()) ?? (await this.fromImage(from));
  }

  /** A root to copy from: the build context, or a stage's or image's filesystem (read-only). */
  private async withSource<T>(from: { name: string; image: BaseImage } | undefined, fn: (root: Root) => Promise<T>): Promise<T> {
    if (from === undefined) return fn({ sys: this.context.sys, fd: this.context.rootFd });
    const { name: fromName, image: img } = from;
    const sys = linuxSys();
    if (!img.chainId) throw new BuildError(`COPY --from=${fromName}: the image has no filesystem`);
    const viewKey = `build-from-${randomBytes(8).toString('hex')}`;
    const cd = this.deps.ctx.cd;
    const mounts = (
      await this.store.call(
        cd.snapshots,
        cd.snapshots.view,
        spb.ViewSnapshotRequest.fromPartial({ snapshotter: SNAPSHOTTER, key: viewKey, parent: img.chainId }),
      )
    ).mounts;
    try {
      return await withTempMounts(sys, path.join(this.deps.ctx.dataRoot, 'tmp', 'build-mounts'), toSpecs(mounts), true, async (dir) => {
        const fd = openRoot(sys, dir);
        try {
          return await fn({ sys, fd });
        } finally {
          sys.close(fd);
        }
      });
    } finally {
      await cd.call(cd.snapshots, cd.snapshots.remove, { snapshotter: SNAPSHOTTER, key: viewKey }).catch(() => undefined);
    }
  }

  private async copy(st: StageState, ins: CopyInstruction | AddInstruction): Promise<void> {
    if (ins.inline.length > 0) throw new BuildError(`heredocs in ${ins.kind} require BuildKit: the classic builder does not copy them`);
    if (ins.link || ins.exclude.length > 0 || (ins.kind === 'COPY' && ins.parents))
      throw new BuildError(`${ins.kind} --${ins.link ? 'link' : ins.exclude.length > 0 ? 'exclude' : 'parents'} requires BuildKit`);
    if (ins.kind === 'ADD' && (ins.checksum !== undefined || ins.keepGitDir !== undefined))
      throw new BuildError(`ADD --${ins.checksum !== undefined ? 'checksum' : 'keep-git-dir'} requires BuildKit`);
    const from = ins.kind === 'COPY' ? ins.from : undefined;
    const opts: CopyOptions = {};
    const chownSpec = ins.chown || undefined;
    if (chownSpec && /^\d+(:\d+)?$/.test(chownSpec)) opts.chown = parseChown(chownSpec);
    if (ins.chmod) opts.chmod = parseChmod(ins.chmod);
    let dest = ins.dest;
    if (!dest.startsWith('/')) dest = `${path.posix.join(st.config.WorkingDir || '/', dest)}${dest.endsWith('/') || dest === '.' ? '/' : ''}`;
    const srcs = ins.sources;
    const urls = ins.kind === 'ADD' ? srcs.filter(isUrl) : [];
    if (urls.length > 0) {
      if (urls.length !== srcs.length) throw new BuildError('ADD of URLs cannot be mixed with local sources in this builder');
      return this.withDownloads(urls, dest, (root, names) => this.copyFrom(st, ins, root, names, dest, opts, false, chownSpec));
    }
    const image = from === undefined ? undefined : await this.sourceImage(from);
    // an image's filesystem never changes (its ID names its layers): the checksum of its sources,
    // once taken, answers the cache without mounting it again
    const sumKey = image?.id ? key([image.id, srcs]) : undefined;
    const known = sumKey === undefined ? undefined : this.deps.builder.sourceSum(sumKey);
    if (known !== undefined && (await this.cached(st, copyCacheKey(st, ins, known, dest)))) return;
    await this.withSource(from !== undefined && image ? { name: from, image } : undefined, async (root) => {
      await this.copyFrom(st, ins, root, srcs, dest, opts, ins.kind === 'ADD' && ins.unpack !== false, chownSpec, sumKey);
    });
  }

  /** Download `urls` into a private directory as ADD does (mode 0600 files named by the URL's last element); their names there. */
  private async withDownloads<T>(urls: string[], dest: string, fn: (root: Root, names: string[]) => Promise<T>): Promise<T> {
    const tmp = path.join(this.deps.ctx.dataRoot, 'tmp');
    fs.mkdirSync(tmp, { recursive: true, mode: 0o700 });
    const dir = fs.mkdtempSync(path.join(tmp, 'build-add-'));
    try {
      const names: string[] = [];
      for (const u of urls) {
        let res: Response;
        try {
          res = await fetch(u, { redirect: 'follow' });
        } catch (e) {
          throw new BuildError(`failed to download ${u}: ${(e as Error).message}`);
        }
        if (!res.ok || !res.body) throw new BuildError(`failed to GET ${u} with status ${res.status} ${res.statusText}`);
        // a file destination names the download itself; a directory one takes the URL's name
        const name = dest.endsWith('/') || urls.length > 1 ? path.posix.basename(new URL(u).pathname) || 'index.html' : path.posix.basename(dest);
        await pipeline(Readable.fromWeb(res.body as WebReadableStream<Uint8Array>), fs.createWriteStream(path.join(dir, name), { mode: 0o600, flags: 'wx' }));
        fs.chmodSync(path.join(dir, name), 0o600);
        names.push(name);
      }
      const sys = linuxSys();
      const fd = openRoot(sys, dir);
      try {
        return await fn({ sys, fd }, names);
      } finally {
        sys.close(fd);
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }

  /** COPY/ADD from `root`: sources expanded, the cache asked with their checksum, else copied into a new layer. */
  private async copyFrom(
    st: StageState,
    ins: CopyInstruction | AddInstruction,
    root: Root,
    srcs: string[],
    dest: string,
    opts: CopyOptions,
    extract: boolean,
    chownSpec: string | undefined,
    /** Set when `root` is an image's: where to remember the sources' checksum. */
    sumKey?: string,
  ): Promise<void> {
    const paths: string[] = [];
    for (const s of srcs) {
      const found = expandSource(root, s, this.opts.match);
      if (found.length === 0)
        throw new BuildError(`${ins.kind} failed: file not found in build context or excluded by .dockerignore: stat ${s}: file does not exist`);
      paths.push(...found);
    }
    const hashes: string[] = [];
    for (const p of paths) hashes.push(await sourceHash(root, p));
    const sum = multiSourceHash(hashes);
    if (sumKey !== undefined) this.deps.builder.setSourceSum(sumKey, sum);
    const cacheKey = copyCacheKey(st, ins, sum, dest);
    if (await this.cached(st, cacheKey)) return;
    const archives = new Set<string>();
    if (extract) for (const p of paths) if (await isLocalArchive(root, p)) archives.add(p);
    const layer = await this.withStepRoot(st.image, async (dst) => {
      // --chown by name: looked up in the step's own /etc/passwd and /etc/group (by fd); a user alone gives its uid as gid, as Docker
      if (chownSpec && !opts.chown) opts.chown = chownByName(chownSpec, readUserDb(dst.sys, dst.fd));
      const plain = paths.filter((p) => !archives.has(p));
      if (plain.length > 0) await copyInto(root, plain, dst, dest, opts);
      for (const p of archives) await extractArchiveInto(root, p, dst, dest, opts);
    });
    await this.commit(st, cacheKey, {
      config: st.config,
      createdBy: historyCreatedBy(ins, { config: st.config, sourceHash: sum }) ?? '',
      layer,
      ...(st.image.config.author ? { author: st.image.config.author } : {}),
    });
  }

  /** A fresh snapshot of `base`, mounted writable for `fn`, made into a layer, then removed. */
  private async withStepRoot(base: BaseImage, fn: (root: Root) => Promise<boolean>): Promise<NewLayer | undefined>;
  private async withStepRoot(base: BaseImage, fn: (root: Root) => Promise<void>): Promise<NewLayer>;
  /** `fn` may answer false: it changed nothing, and no layer is made. */
  private async withStepRoot(base: BaseImage, fn: (root: Root) => Promise<boolean | void>): Promise<NewLayer | undefined> {
    const cd = this.deps.ctx.cd;
    const stepKey = `build-step-${randomBytes(8).toString('hex')}`;
    const mounts = (
      await this.store.call(
        cd.snapshots,
        cd.snapshots.prepare,
        spb.PrepareSnapshotRequest.fromPartial({ snapshotter: SNAPSHOTTER, key: stepKey, parent: base.chainId }),
      )
    ).mounts;
    try {
      const sys = linuxSys();
      const changed = await withTempMounts(sys, path.join(this.deps.ctx.dataRoot, 'tmp', 'build-mounts'), toSpecs(mounts), false, async (dir) => {
        const fd = openRoot(sys, dir);
        try {
          return await fn({ sys, fd });
        } finally {
          sys.close(fd);
        }
      });
      if (changed === false) return undefined;
      return await this.writer.layerOf(stepKey, base);
    } finally {
      await cd.call(cd.snapshots, cd.snapshots.remove, { snapshotter: SNAPSHOTTER, key: stepKey }).catch(() => undefined);
    }
  }
}

/** The cache key of a COPY/ADD step: its parent image, flags, the sources' checksum and the destination. */
const copyCacheKey = (st: StageState, ins: CopyInstruction | AddInstruction, sum: string, dest: string) =>
  key([st.image.id, ins.kind, ins.kind === 'COPY' ? (ins.from ?? '') : '', ins.chown ?? '', ins.chmod ?? '', sum, dest]);

const toSpecs = (mounts: { type: string; source: string; options: string[]; target?: string }[]): MountSpec[] =>
  mounts.map((m) => ({ type: m.type, source: m.source, options: [...m.options], ...(m.target ? { target: m.target } : {}) }));

/** An ONBUILD trigger stored in an image config, as the instruction it is. */
function parseTrigger(text: string): Instruction {
  let ins: Instruction | undefined;
  try {
    ins = parseDockerfile(`FROM scratch\n${text}\n`).stages[0]!.instructions[0];
  } catch (e) {
    throw new BuildError(`failed to parse the ONBUILD trigger ${JSON.stringify(text)}: ${(e as Error).message}`);
  }
  if (!ins || ins.kind === 'FROM' || ins.kind === 'ONBUILD' || ins.kind === 'MAINTAINER')
    throw new BuildError(`${ins?.kind ?? 'an empty'} isn't allowed as an ONBUILD trigger`);
  return ins;
}

/** Make `dir` (and its parents) inside `root` unless it is there; whether anything was made. */
function makeDir(root: Root, dir: string): boolean {
  let made = false;
  root.sys.close(mkdirAllInRoot(root.sys, root.fd, dir, 0o755, () => (made = true)));
  return made;
}

const isUrl = (s: string) => /^https?:\/\//i.test(s);

function parseChown(s: string): { uid: number; gid: number } {
  const [u, g] = s.split(':');
  const uid = Number(u);
  return { uid, gid: g === undefined ? uid : Number(g) };
}

function chownByName(spec: string, db: UserDb): { uid: number; gid: number } {
  try {
    const r = resolveUserSpec(spec, db.passwd, db.group);
    return { uid: r.uid, gid: spec.includes(':') ? r.gid : r.uid };
  } catch (e) {
    throw new BuildError(`--chown=${spec}: ${(e as Error).message}`);
  }
}

function parseChmod(s: string): number {
  if (!/^[0-7]{3,4}$/.test(s)) throw new BuildError(`invalid chmod parameter: ${s}`);
  return parseInt(s, 8);
}
