/** What gantryd names in gantry-containerd, and how a call cut by a gantry-containerd restart is retried. */

export const SPEC_TYPE = 'types.containerd.io/opencontainers/runtime-spec/1/Spec';
export const RUNTIME_NAME = 'io.containerd.gantry.v1';
export const SNAPSHOTTER = 'overlayfs';

/**
 * A call of a container or task create was cut by a gantry-containerd restart (UNAVAILABLE) and
 * what it made was undone: nothing of the container ran, so the caller makes it once more.
 */
export class CutByRestart extends Error {}

/** How many times a create cut by gantry-containerd restarts is tried (kills can come in a row). */
export const MAX_ATTEMPTS_ACROSS_RESTARTS = 3;
