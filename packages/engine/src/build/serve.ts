import type { RequestContext } from '../http/router';
import type { ContainerManager } from '../containers/manager';
import type { ImageDeps } from './commit';
import { errdefs } from '@gantry/linux';

export function serveBuild(_c: RequestContext, _deps: ImageDeps, _m: ContainerManager): Promise<unknown> {
  return Promise.reject(errdefs.unimplemented('not yet'));
}
