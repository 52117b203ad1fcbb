/**
 * `run/create --use-api-socket`: the CLI's own daemon socket bind-mounted at /var/run/docker.sock,
 * and, when the CLI has registry credentials, a config.json holding them copied into the container
 * at /run/secrets/docker (with DOCKER_CONFIG pointing there), as docker 28 does.
 */
import type { ContainerCreateRequest } from '@gantry/client';
import { parseHost } from '@gantry/client';
import type { CliContext } from '../context';
import { CliError, describeError } from '../errors';
import type { allCredentials } from '../credentials';
import { END_OF_ARCHIVE, padding, tarHeader } from '../tar-writer';

const SOCKET_TARGET = '/var/run/docker.sock';
const CONFIG_DIR = '/run/secrets/docker';

type Credentials = ReturnType<typeof allCredentials>;

/** Adds the socket mount (and DOCKER_CONFIG when `credentials` is not empty) to a create body; a TCP host is refused. */
export function addApiSocket(body: ContainerCreateRequest, host: string, credentials: Credentials): void {
  const address = parseHost(host);
  if (address.proto !== 'unix') throw new CliError(`flag --use-api-socket can only be used with unix sockets: docker endpoint ${host} incompatible`, 1);
  const hc = (body.HostConfig ??= {});
  hc.Mounts = [...(hc.Mounts ?? []), { Type: 'bind', Source: address.socketPath, Target: SOCKET_TARGET, BindOptions: {} }];
  if (Object.keys(credentials).length > 0) body.Env = [...(body.Env ?? []), `DOCKER_CONFIG=${CONFIG_DIR}`];
}

/** The tar docker's CLI sends: one entry, `/run/secrets/docker/config.json`, 0600, owner 0:0, mtime 0. */
export function configTar(credentials: Credentials): Buffer {
  const data = Buffer.from(JSON.stringify({ auths: credentials }, null, '\t'));
  const header = tarHeader({ name: `${CONFIG_DIR}/config.json`, type: 'file', mode: 0o600, mtime: 0, size: data.length });
  return Buffer.concat([header, data, padding(data.length), END_OF_ARCHIVE]);
}

/** Copies the credentials into a created container (nothing without credentials). */
export async function copyCredentials(ctx: CliContext, id: string, credentials: Credentials): Promise<void> {
  if (Object.keys(credentials).length === 0) return;
  try {
    await ctx.client().containers.putArchive(id, '/', configTar(credentials), { noOverwriteDirNonDir: true });
  } catch (e) {
    throw new Error(`injecting docker config.json into container failed: copying config.json into container failed: ${describeError(e).message}`, {
      cause: e,
    });
  }
}
