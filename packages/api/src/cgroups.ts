/**
 * containerd/cgroups' metrics messages: what a shim's Task.Stats returns in its Any and what
 * `ctr tasks metrics` decodes. `v1` is io.containerd.cgroups.v1 (cgroup v1 hierarchies), `v2` is
 * io.containerd.cgroups.v2 (the unified hierarchy).
 */
export * as v1 from './gen/cgroups/stats/v1/metrics';
export * as v2 from './gen/cgroups/cgroup2/stats/metrics';

/** type_url of a v1 Metrics in an Any, as containerd's shims write it (bare full name). */
export const V1_METRICS_TYPE = 'io.containerd.cgroups.v1.Metrics';
/** type_url of a v2 Metrics in an Any. */
export const V2_METRICS_TYPE = 'io.containerd.cgroups.v2.Metrics';
