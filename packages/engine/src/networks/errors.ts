/** How the network code's failures reach the client: as a kind (errdefs), never as bare text. */
import { errdefs, KindError } from '@gantry/linux';

/** An error of a kind (the network layer's carry theirs) as it is; anything else internal. */
export function kindError(e: unknown): KindError {
  if (e instanceof KindError) return e;
  return errdefs.internal(e instanceof Error ? e.message : String(e));
}
