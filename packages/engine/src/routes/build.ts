/**
 * POST /commit (`docker commit`) and POST /build (the classic builder, `DOCKER_BUILDKIT=0 docker
 * build`): thin handlers over src/build/.
 */
import { decode } from '../containers/decode';
import type { ContainerConfig } from '@gantry/engine-api';
import type { ContainerManager } from '../containers/manager';
import { CONFIG_BODY } from '../containers/validate';
import type { Router } from '../http/router';
import { Reply } from '../http/router';
import { commitContainer, type ImageDeps } from '../build/commit';
import { serveBuild } from '../build/serve';

const truthy = (v: string | null, dflt: boolean) => (v === null || v === '' ? dflt : v !== '0' && v.toLowerCase() !== 'false');

export function registerBuildRoutes(router: Router, deps: ImageDeps, containers: ContainerManager): void {
  router.post('/commit', async (c) => {
    const q = c.query;
    const body = (decode(await c.json<unknown>(), CONFIG_BODY, 'Config') ?? {}) as ContainerConfig;
    const id = await commitContainer(deps, containers, {
      container: q.get('container') ?? '',
      repo: q.get('repo') ?? '',
      tag: q.get('tag') ?? '',
      comment: q.get('comment') ?? '',
      author: q.get('author') ?? '',
      pause: truthy(q.get('pause'), true),
      changes: q.getAll('changes'),
      config: body,
    });
    return Reply.created({ Id: id });
  });

  router.post('/build', (c) => serveBuild(c, deps, containers));
}
