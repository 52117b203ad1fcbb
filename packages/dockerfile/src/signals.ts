/** STOPSIGNAL's check, as Docker's signal.ParseSignal on Linux (the table is @gantry/oci's). */
import { isDockerSignal } from '@gantry/oci';
import { InstructionValueError } from './errors';

/** Throws InstructionValueError (`Invalid signal: FOO`) unless Docker accepts the signal. */
export function checkSignal(raw: string): void {
  if (!isDockerSignal(raw)) throw new InstructionValueError(`Invalid signal: ${raw}`);
}
