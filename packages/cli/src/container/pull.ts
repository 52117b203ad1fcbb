/** Pulling an image for `run`/`create` as docker does: a missing image is pulled, its progress on stderr. */
import type { ContainerCreateRequest, ContainerCreateResponse, JsonMessage } from '@gantry/client';
import { NotFoundError } from '@gantry/client';
import type { CliContext } from '../context';

/** `busybox` → `busybox:latest`; a tag or digest is kept. */
export function withTag(image: string): string {
  if (image.includes('@')) return image;
  return image.lastIndexOf(':') > image.lastIndexOf('/') ? image : `${image}:latest`;
}

/** One progress message as docker prints it without a terminal (no progress bars). */
export function progressLine(m: JsonMessage): string | undefined {
  if (m.status === undefined) return undefined;
  if (m.progressDetail !== undefined && (m.progressDetail.current ?? 0) > 0) return undefined;
  return m.id !== undefined && m.id !== '' ? `${m.id}: ${m.status}` : m.status;
}

async function pullImage(ctx: CliContext, image: string, platform: string | undefined, quiet: boolean): Promise<void> {
  const ref = withTag(image);
  const at = ref.indexOf('@');
  const colon = ref.lastIndexOf(':');
  const [name, tag] = at >= 0 ? [ref.slice(0, at), ref.slice(at + 1)] : [ref.slice(0, colon), ref.slice(colon + 1)];
  for await (const m of ctx.client().images.pull(name, { tag, platform })) {
    const line = progressLine(m);
    if (!quiet && line !== undefined) ctx.stderr.write(line + '\n');
  }
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
