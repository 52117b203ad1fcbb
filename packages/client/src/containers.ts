/** `/containers/…`: lifecycle, inspection, logs, attach, stats, files. */
import type { IncomingMessage } from 'node:http';
import type { Readable } from 'node:stream';
import type {
  ContainerCreateRequest,
  ContainerCreateResponse,
  ContainerInspectResponse,
  ContainerPathStat,
  ContainerPruneResponse,
  ContainerStats,
  ContainerSummary,
  ContainerTopResponse,
  ContainerUpdateRequest,
  ContainerUpdateResponse,
  ContainerWaitResponse,
  FilesystemChange,
  WaitCondition,
} from '@gantry/engine-api';
import { seg, type CallOptions, type Core, type Filters } from './core';
import { jsonLines } from './json-lines';
import { demultiplex, rawFrames, type OutputFrame } from './stdcopy';
import { hijacked, isRaw, type HijackedStream } from './streams';
import type { RequestBody } from './transport';

export interface ListContainersOptions extends CallOptions {
  all?: boolean;
  limit?: number;
  size?: boolean;
  filters?: Filters;
}

export interface LogsOptions extends CallOptions {
  stdout?: boolean;
  stderr?: boolean;
  follow?: boolean;
  /** Unix seconds (fractions allowed) or an RFC 3339 time. */
  since?: number | string;
  until?: number | string;
  timestamps?: boolean;
  /** Lines from the end, or 'all'. */
  tail?: number | 'all';
}

export interface AttachOptions extends CallOptions {
  stdin?: boolean;
  stdout?: boolean;
  stderr?: boolean;
  /** Keep streaming (false: only the replayed logs). */
  stream?: boolean;
  /** Replay the container's logs first. */
  logs?: boolean;
  detachKeys?: string;
}

export interface ArchiveResult {
  stat: ContainerPathStat;
  /** A tar of the path. */
  stream: IncomingMessage;
}

/** The X-Docker-Container-Path-Stat header: base64 JSON. */
function pathStat(res: IncomingMessage): ContainerPathStat {
  const raw = res.headers['x-docker-container-path-stat'];
  if (typeof raw !== 'string') throw new Error('the daemon sent no X-Docker-Container-Path-Stat header');
  return JSON.parse(Buffer.from(raw, 'base64').toString('utf8')) as ContainerPathStat;
}

export class Containers {
  constructor(private readonly core: Core) {}

  list(o: ListContainersOptions = {}): Promise<ContainerSummary[]> {
    return this.core.json('GET', '/containers/json', { query: { all: o.all, limit: o.limit, size: o.size, filters: o.filters }, signal: o.signal });
  }

  create(config: ContainerCreateRequest, o: CallOptions & { name?: string; platform?: string } = {}): Promise<ContainerCreateResponse> {
    return this.core.json('POST', '/containers/create', { query: { name: o.name, platform: o.platform }, json: config, signal: o.signal });
  }

  inspect(id: string, o: CallOptions & { size?: boolean } = {}): Promise<ContainerInspectResponse> {
    return this.core.json('GET', `/containers/${seg(id)}/json`, { query: { size: o.size }, signal: o.signal });
  }

  /** Start; `false` when it was already running (304). */
  async start(id: string, o: CallOptions & { detachKeys?: string } = {}): Promise<boolean> {
    return (await this.core.empty('POST', `/containers/${seg(id)}/start`, { query: { detachKeys: o.detachKeys }, signal: o.signal })) !== 304;
  }

  /** Stop; `false` when it was not running (304). `t`: seconds before SIGKILL. */
  async stop(id: string, o: CallOptions & { t?: number; signalName?: string } = {}): Promise<boolean> {
    return (await this.core.empty('POST', `/containers/${seg(id)}/stop`, { query: { t: o.t, signal: o.signalName }, signal: o.signal, stream: true })) !== 304;
  }

  async restart(id: string, o: CallOptions & { t?: number; signalName?: string } = {}): Promise<void> {
    await this.core.empty('POST', `/containers/${seg(id)}/restart`, { query: { t: o.t, signal: o.signalName }, signal: o.signal, stream: true });
  }

  async kill(id: string, o: CallOptions & { signalName?: string } = {}): Promise<void> {
    await this.core.empty('POST', `/containers/${seg(id)}/kill`, { query: { signal: o.signalName }, signal: o.signal });
  }

  async remove(id: string, o: CallOptions & { force?: boolean; v?: boolean; link?: boolean } = {}): Promise<void> {
    await this.core.empty('DELETE', `/containers/${seg(id)}`, { query: { force: o.force, v: o.v, link: o.link }, signal: o.signal, stream: true });
  }

  async rename(id: string, name: string, o: CallOptions = {}): Promise<void> {
    await this.core.empty('POST', `/containers/${seg(id)}/rename`, { query: { name }, signal: o.signal });
  }

  async pause(id: string, o: CallOptions = {}): Promise<void> {
    await this.core.empty('POST', `/containers/${seg(id)}/pause`, { signal: o.signal });
  }

  async unpause(id: string, o: CallOptions = {}): Promise<void> {
    await this.core.empty('POST', `/containers/${seg(id)}/unpause`, { signal: o.signal });
  }

  /** Wait for `condition` (default not-running); not cut by the client timeout. */
  wait(id: string, o: CallOptions & { condition?: WaitCondition } = {}): Promise<ContainerWaitResponse> {
    return this.core.json('POST', `/containers/${seg(id)}/wait`, { query: { condition: o.condition }, signal: o.signal, stream: true });
  }

  top(id: string, o: CallOptions & { psArgs?: string } = {}): Promise<ContainerTopResponse> {
    return this.core.json('GET', `/containers/${seg(id)}/top`, { query: { ps_args: o.psArgs }, signal: o.signal });
  }

  update(id: string, resources: ContainerUpdateRequest, o: CallOptions = {}): Promise<ContainerUpdateResponse> {
    return this.core.json('POST', `/containers/${seg(id)}/update`, { json: resources, signal: o.signal });
  }

  async resize(id: string, size: { h: number; w: number }, o: CallOptions = {}): Promise<void> {
    await this.core.empty('POST', `/containers/${seg(id)}/resize`, { query: { h: size.h, w: size.w }, signal: o.signal });
  }

  async changes(id: string, o: CallOptions = {}): Promise<FilesystemChange[]> {
    return (await this.core.json<FilesystemChange[] | null>('GET', `/containers/${seg(id)}/changes`, { signal: o.signal })) ?? [];
  }

  prune(o: CallOptions & { filters?: Filters } = {}): Promise<ContainerPruneResponse> {
    return this.core.json('POST', '/containers/prune', { query: { filters: o.filters }, signal: o.signal });
  }

  /** One stats sample. */
  stats(id: string, o: CallOptions & { oneShot?: boolean } = {}): Promise<ContainerStats> {
    return this.core.json('GET', `/containers/${seg(id)}/stats`, { query: { stream: false, 'one-shot': o.oneShot }, signal: o.signal });
  }

  /** Stats samples as the daemon sends them (about one a second) until the container stops or `signal` aborts. */
  async *statsStream(id: string, o: CallOptions = {}): AsyncGenerator<ContainerStats> {
    const res = await this.core.call('GET', `/containers/${seg(id)}/stats`, { query: { stream: true }, signal: o.signal, stream: true });
    yield* jsonLines<ContainerStats>(res);
  }

  /** Log output, demultiplexed (all stdout for a TTY container). */
  async *logs(id: string, o: LogsOptions = {}): AsyncGenerator<OutputFrame> {
    const res = await this.core.call('GET', `/containers/${seg(id)}/logs`, {
      query: {
        stdout: o.stdout ?? true,
        stderr: o.stderr ?? true,
        follow: o.follow,
        since: o.since,
        until: o.until,
        timestamps: o.timestamps,
        tail: o.tail,
      },
      signal: o.signal,
      stream: true,
    });
    yield* isRaw(res.headers['content-type']) ? rawFrames(res) : demultiplex(res);
  }

  /** Attach to the container's stdio over a hijacked connection. */
  async attach(id: string, o: AttachOptions = {}): Promise<HijackedStream> {
    const { socket, contentType } = await this.core.hijack(`/containers/${seg(id)}/attach`, {
      query: { stdin: o.stdin, stdout: o.stdout ?? true, stderr: o.stderr ?? true, stream: o.stream ?? true, logs: o.logs, detachKeys: o.detachKeys },
      signal: o.signal,
    });
    return hijacked(socket, contentType);
  }

  /** Stat a path in the container (HEAD archive). */
  async statPath(id: string, path: string, o: CallOptions = {}): Promise<ContainerPathStat> {
    const res = await this.core.call('HEAD', `/containers/${seg(id)}/archive`, { query: { path }, signal: o.signal });
    res.resume();
    return pathStat(res);
  }

  /** A tar of `path` in the container, and its stat. */
  async getArchive(id: string, path: string, o: CallOptions = {}): Promise<ArchiveResult> {
    const res = await this.core.call('GET', `/containers/${seg(id)}/archive`, { query: { path }, signal: o.signal, stream: true });
    return { stat: pathStat(res), stream: res };
  }

  /** Extract a tar into directory `path` of the container. */
  async putArchive(id: string, path: string, tar: RequestBody, o: CallOptions & { noOverwriteDirNonDir?: boolean; copyUIDGID?: boolean } = {}): Promise<void> {
    await this.core.empty('PUT', `/containers/${seg(id)}/archive`, {
      query: { path, noOverwriteDirNonDir: o.noOverwriteDirNonDir, copyUIDGID: o.copyUIDGID },
      body: tar,
      contentType: 'application/x-tar',
      signal: o.signal,
      stream: true,
    });
  }

  /** The container's filesystem as a tar. */
  export(id: string, o: CallOptions = {}): Promise<Readable> {
    return this.core.call('GET', `/containers/${seg(id)}/export`, { signal: o.signal, stream: true });
  }
}
