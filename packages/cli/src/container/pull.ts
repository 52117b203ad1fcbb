/**
 * Pulling an image for `run`/`create` as docker does: a missing image is pulled with the registry's
 * stored credentials, its progress on stderr rendered as `pull` renders it (redrawn per-layer bars
 * when stderr is a terminal, plain lines when not).
 */
import type { ContainerCreateRequest, ContainerCreateResponse } from '@gantry/client';
import { NotFoundError } from '@gantry/client';
import type { CliContext } from '../context';
import { loadAuth } from '../credentials';
import { printProgress } from '../progress';
import { termInfo } from '../tty';
import { parseReference } from '@gantry/oci';

/** `busybox` → `busybox:latest`; a tag or digest is kept. */
export function withTag(image: string): string {
  if (image.includes('@')) return image;
  return image.lastIndexOf(':') > image.lastIndexOf('/') ? image : `${image}:latest`;
}

async function pullImage(ctx: CliContext, image: string, platform: string | undefined, quiet: boolean): Promise<void> {
  const ref = withTag(image);
  const at = ref.indexOf('@');
  const colon = ref.lastIndexOf(':');
  const [name, tag] = at >= 0 ? [ref.slice(0, at), ref.slice(at + 1)] : [ref.slice(0, colon), ref.slice(colon + 1)];
  let auth;
  try {
    auth = loadAuth(ctx.env, parseReference(image).domain);
  } catch {
    auth = undefined; // a name the registry parser refuses: the daemon says why
  }
  const messages = ctx.client().images.pull(name, { tag, platform, auth });
  await printProgress(quiet ? { write: () => undefined } : ctx.stderr, messages, termInfo(ctx.stderr, ctx.env));
}

/** Create, pulling first as `--pull` says (missing: only when the daemon has no such image). */
export async function createPulling(
  ctx: CliContext,
  body: ContainerCreateRequest,
  o: { name?: string; platform?: string; pull?: string; quiet?: boolean },
): Promise<ContainerCreateResponse> {
  const image = body.Image ?? '';
  const create = (): Promise<ContainerCreateResponse> => ctx.client().containers.create(body, { name: o.name, platform: o.platform });
  if (o.pull === 'always') {
    await pullImage(ctx, image, o.platform, o.quiet === true);
    return create();
  }
  try {
    return await create();
  } catch (e) {
    if (!(e instanceof NotFoundError) || o.pull === 'never' || !/image/i.test(e.message)) throw e;
    ctx.stderr.write(`Unable to find image '${withTag(image)}' locally\n`);
    await pullImage(ctx, image, o.platform, o.quiet === true);
    return create();
  }
}
