/**
 * A RUN step: a real container of the step's image, made, started and waited for through the
 * same ContainerManager path `docker run` takes (so the same spec, seccomp profile, networks and
 * user lookup), its output streamed to the build, then removed. The caller turns the container's
 * snapshot into the step's layer before `remove`.
 */
import type { ContainerManager } from '../containers/manager';
import type { OciContainerConfig } from '../images/catalog';
import { shortId } from '../images/names';
import { BuildError, type BuildOutput } from './output';

export interface RunSpec {
  imageId: string;
  argv: string[];
  config: OciContainerConfig;
  /** Build args in scope: in the command's environment, not in the image. */
  extraEnv: string[];
  networkMode: string;
  /** The build was cancelled: the container is killed. */
  signal?: AbortSignal;
}

export class RunContainer {
  private constructor(
    private readonly m: ContainerManager,
    readonly id: string,
  ) {}

  /** Create and run the container to its exit; a non-zero exit is a BuildError (and the container is gone). */
  static async run(m: ContainerManager, spec: RunSpec, out: BuildOutput): Promise<RunContainer> {
    const c = spec.config;
    const body = {
      Image: spec.imageId,
      Cmd: spec.argv,
      Entrypoint: [],
      Env: [...(c.Env ?? []), ...spec.extraEnv],
      WorkingDir: c.WorkingDir ?? '',
      User: c.User ?? '',
      AttachStdout: true,
      AttachStderr: true,
      HostConfig: { NetworkMode: spec.networkMode || 'default' },
    };
    const { Id: id } = await m.create(body, null);
    const rc = new RunContainer(m, id);
    out.stream(` ---> Running in ${shortId(id)}\n`);
    let drained: Promise<void> = Promise.resolve();
    m.ioWatchers.set(id, (io) => {
      io.subscribe((chunk) => void out.stream(chunk.data.toString('utf8')));
      drained = io.ended;
    });
    const cancel = () => void m.kill(id, 'SIGKILL').catch(() => undefined);
    spec.signal?.addEventListener('abort', cancel);
    try {
      if (spec.signal?.aborted) throw new BuildError('the build was cancelled: the client went away');
      const exited = m.wait(id, 'next-exit');
      await m.start(id);
      if (spec.signal?.aborted) cancel();
      const r = await exited;
      await drained;
      if (r.StatusCode !== 0) throw new BuildError(`The command '${spec.argv.join(' ')}' returned a non-zero code: ${r.StatusCode}`, r.StatusCode);
    } catch (e) {
      // a failed step leaves no container behind
      await m.remove(id, { force: true, removeVolumes: true }).catch(() => undefined);
      throw e;
    } finally {
      spec.signal?.removeEventListener('abort', cancel);
      m.ioWatchers.delete(id);
    }
    return rc;
  }

  /** The container's snapshot (its changes are the step's layer). */
  get snapshotKey(): string {
    return this.m.store.get(this.id).SnapshotKey;
  }

  async remove(out?: BuildOutput): Promise<void> {
    await this.m.remove(this.id, { force: true, removeVolumes: true });
    out?.stream(` ---> Removed intermediate container ${shortId(this.id)}\n`);
  }
}
