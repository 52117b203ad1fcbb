/** `/images/…`, `/commit`, `/build`, `/distribution/…`: images and their progress streams. */
import type { Readable } from 'node:stream';
import type {
  AuthConfig,
  CommitOptions,
  ContainerConfig,
  DistributionInspect,
  HistoryResponseItem,
  IdResponse,
  ImageDeleteResponseItem,
  ImageInspect,
  ImagePruneResponse,
  ImageSummary,
  JsonMessage,
} from '@gantry/engine-api';
import { registryAuthHeader, registryConfigHeader } from './auth';
import { imageSeg, type CallOptions, type Core, type Filters } from './core';
import { progressMessages } from './json-lines';
import type { RequestBody } from './transport';

export interface PullOptions extends CallOptions {
  /** Tag or digest; default what `image` names (or latest). */
  tag?: string;
  platform?: string;
  auth?: AuthConfig;
}

export interface BuildOptions extends CallOptions {
  /** Tags (`t=`, repeatable). */
  tags?: string[];
  dockerfile?: string;
  target?: string;
  buildargs?: Record<string, string>;
  labels?: Record<string, string>;
  nocache?: boolean;
  pull?: boolean;
  quiet?: boolean;
  networkmode?: string;
  platform?: string;
  /** Credentials for the registries FROM pulls from. */
  registryConfig?: Record<string, AuthConfig>;
}

export interface ImportOptions extends CallOptions {
  repo?: string;
  tag?: string;
  message?: string;
  /** Dockerfile instructions applied to the image config. */
  changes?: string[];
  platform?: string;
}

export class Images {
  constructor(private readonly core: Core) {}

  list(o: CallOptions & { all?: boolean; filters?: Filters; sharedSize?: boolean; digests?: boolean } = {}): Promise<ImageSummary[]> {
    return this.core.json('GET', '/images/json', {
      query: { all: o.all, filters: o.filters, 'shared-size': o.sharedSize, digests: o.digests },
      signal: o.signal,
    });
  }

  inspect(name: string, o: CallOptions = {}): Promise<ImageInspect> {
    return this.core.json('GET', `/images/${imageSeg(name)}/json`, { signal: o.signal });
  }

  history(name: string, o: CallOptions = {}): Promise<HistoryResponseItem[]> {
    return this.core.json('GET', `/images/${imageSeg(name)}/history`, { signal: o.signal });
  }

  async tag(name: string, repo: string, tag?: string, o: CallOptions = {}): Promise<void> {
    await this.core.empty('POST', `/images/${imageSeg(name)}/tag`, { query: { repo, tag }, signal: o.signal });
  }

  remove(name: string, o: CallOptions & { force?: boolean; noprune?: boolean } = {}): Promise<ImageDeleteResponseItem[]> {
    return this.core.json('DELETE', `/images/${imageSeg(name)}`, { query: { force: o.force, noprune: o.noprune }, signal: o.signal });
  }

  prune(o: CallOptions & { filters?: Filters } = {}): Promise<ImagePruneResponse> {
    return this.core.json('POST', '/images/prune', { query: { filters: o.filters }, signal: o.signal });
  }

  /** Pull from a registry (`POST /images/create?fromImage=`): the progress messages; a failure is thrown. */
  async *pull(image: string, o: PullOptions = {}): AsyncGenerator<JsonMessage> {
    const res = await this.core.call('POST', '/images/create', {
      query: { fromImage: image, tag: o.tag, platform: o.platform },
      headers: registryAuthHeader(o.auth),
      signal: o.signal,
      stream: true,
    });
    yield* progressMessages(res);
  }

  /** Import a filesystem tar as an image (`POST /images/create?fromSrc=-`). */
  async *import(tar: RequestBody, o: ImportOptions = {}): AsyncGenerator<JsonMessage> {
    yield* this.importFrom('-', tar, o);
  }

  /** Import a filesystem tar the daemon downloads itself from `url` (`docker import http://…`). */
  async *importUrl(url: string, o: ImportOptions = {}): AsyncGenerator<JsonMessage> {
    yield* this.importFrom(url, undefined, o);
  }

  private async *importFrom(fromSrc: string, tar: RequestBody | undefined, o: ImportOptions): AsyncGenerator<JsonMessage> {
    const res = await this.core.call('POST', '/images/create', {
      query: { fromSrc, repo: o.repo, tag: o.tag, message: o.message, changes: o.changes, platform: o.platform },
      body: tar,
      contentType: tar === undefined ? undefined : 'application/x-tar',
      signal: o.signal,
      stream: true,
    });
    yield* progressMessages(res);
  }

  /** Push to a registry: the progress messages; a failure is thrown. */
  async *push(name: string, o: CallOptions & { tag?: string; auth?: AuthConfig } = {}): AsyncGenerator<JsonMessage> {
    const res = await this.core.call('POST', `/images/${imageSeg(name)}/push`, {
      query: { tag: o.tag },
      headers: registryAuthHeader(o.auth ?? {}),
      signal: o.signal,
      stream: true,
    });
    yield* progressMessages(res);
  }

  /** Load a docker-archive / OCI layout tar (`docker load`). */
  async *load(tar: RequestBody, o: CallOptions & { quiet?: boolean } = {}): AsyncGenerator<JsonMessage> {
    const res = await this.core.call('POST', '/images/load', {
      query: { quiet: o.quiet },
      body: tar,
      contentType: 'application/x-tar',
      signal: o.signal,
      stream: true,
    });
    yield* progressMessages(res);
  }

  /** The images as a docker-archive tar (`docker save`). */
  save(names: string[], o: CallOptions = {}): Promise<Readable> {
    return this.core.call('GET', '/images/get', { query: { names }, signal: o.signal, stream: true });
  }

  /** An image from a container's changes (`POST /commit`); `config` overrides the container's. */
  commit(c: CommitOptions, config: ContainerConfig = {}, o: CallOptions = {}): Promise<IdResponse> {
    return this.core.json('POST', '/commit', {
      query: { container: c.container, repo: c.repo, tag: c.tag, comment: c.comment, author: c.author, pause: c.pause, changes: c.changes },
      json: config,
      signal: o.signal,
      stream: true,
    });
  }

  /**
   * Build from a tar of the context (`POST /build`): the build's messages (`stream` lines, `aux`
   * with the image ID); a failed step is thrown as a ProgressError.
   */
  async *build(context: RequestBody, o: BuildOptions = {}): AsyncGenerator<JsonMessage> {
    const res = await this.core.call('POST', '/build', {
      query: {
        t: o.tags,
        dockerfile: o.dockerfile,
        target: o.target,
        buildargs: o.buildargs === undefined ? undefined : JSON.stringify(o.buildargs),
        labels: o.labels === undefined ? undefined : JSON.stringify(o.labels),
        nocache: o.nocache,
        pull: o.pull,
        q: o.quiet,
        networkmode: o.networkmode,
        platform: o.platform,
      },
      headers: registryConfigHeader(o.registryConfig),
      body: context,
      contentType: 'application/x-tar',
      signal: o.signal,
      stream: true,
    });
    yield* progressMessages(res);
  }

  /** The registry's manifest descriptor and platforms for `name`. */
  distribution(name: string, o: CallOptions & { auth?: AuthConfig } = {}): Promise<DistributionInspect> {
    return this.core.json('GET', `/distribution/${imageSeg(name)}/json`, { headers: registryAuthHeader(o.auth), signal: o.signal });
  }
}
