/**
 * containerd/cgroups' metrics messages: what a shim's Task.Stats returns in its Any and what
 * `ctr tasks metrics` decodes. `v1` is io.containerd.cgroups.v1 (cgroup v1 hierarchies), `v2` is
 * io.containerd.cgroups.v2 (the unified hierarchy).
 */
import type { MemoryStat as V1MemoryStat } from './gen/cgroups/stats/v1/metrics';
import type { MemoryStat as V2MemoryStat } from './gen/cgroups/cgroup2/stats/metrics';

export * as v1 from './gen/cgroups/stats/v1/metrics';
export * as v2 from './gen/cgroups/cgroup2/stats/metrics';

/** type_url of a v1 Metrics in an Any, as containerd's shims write it (bare full name). */
export const V1_METRICS_TYPE = 'io.containerd.cgroups.v1.Metrics';
/** type_url of a v2 Metrics in an Any. */
export const V2_METRICS_TYPE = 'io.containerd.cgroups.v2.Metrics';

/** memory.stat keys of a cgroup v1 hierarchy and the io.containerd.cgroups.v1 MemoryStat field that carries each (the shim fills them, gantryd reads them back under dockerd's names). */
export const V1_MEMORY_STAT_FIELDS: readonly (readonly [string, keyof V1MemoryStat])[] = [
  ['cache', 'cache'],
  ['rss', 'rss'],
  ['rss_huge', 'rssHuge'],
  ['mapped_file', 'mappedFile'],
  ['dirty', 'dirty'],
  ['writeback', 'writeback'],
  ['pgpgin', 'pgPgIn'],
  ['pgpgout', 'pgPgOut'],
  ['pgfault', 'pgFault'],
  ['pgmajfault', 'pgMajFault'],
  ['inactive_anon', 'inactiveAnon'],
  ['active_anon', 'activeAnon'],
  ['inactive_file', 'inactiveFile'],
  ['active_file', 'activeFile'],
  ['unevictable', 'unevictable'],
  ['hierarchical_memory_limit', 'hierarchicalMemoryLimit'],
  ['hierarchical_memsw_limit', 'hierarchicalSwapLimit'],
  ['total_cache', 'totalCache'],
  ['total_rss', 'totalRss'],
  ['total_rss_huge', 'totalRssHuge'],
  ['total_mapped_file', 'totalMappedFile'],
  ['total_dirty', 'totalDirty'],
  ['total_writeback', 'totalWriteback'],
  ['total_pgpgin', 'totalPgPgIn'],
  ['total_pgpgout', 'totalPgPgOut'],
  ['total_pgfault', 'totalPgFault'],
  ['total_pgmajfault', 'totalPgMajFault'],
  ['total_inactive_anon', 'totalInactiveAnon'],
  ['total_active_anon', 'totalActiveAnon'],
  ['total_inactive_file', 'totalInactiveFile'],
  ['total_active_file', 'totalActiveFile'],
  ['total_unevictable', 'totalUnevictable'],
];

/** memory.stat keys of the unified hierarchy and their io.containerd.cgroups.v2 MemoryStat fields. */
export const V2_MEMORY_STAT_FIELDS: readonly (readonly [string, keyof V2MemoryStat])[] = [
  ['anon', 'anon'],
  ['file', 'file'],
  ['kernel_stack', 'kernelStack'],
  ['slab', 'slab'],
  ['sock', 'sock'],
  ['shmem', 'shmem'],
  ['file_mapped', 'fileMapped'],
  ['file_dirty', 'fileDirty'],
  ['file_writeback', 'fileWriteback'],
  ['anon_thp', 'anonThp'],
  ['inactive_anon', 'inactiveAnon'],
  ['active_anon', 'activeAnon'],
  ['inactive_file', 'inactiveFile'],
  ['active_file', 'activeFile'],
  ['unevictable', 'unevictable'],
  ['slab_reclaimable', 'slabReclaimable'],
  ['slab_unreclaimable', 'slabUnreclaimable'],
  ['pgfault', 'pgfault'],
  ['pgmajfault', 'pgmajfault'],
  ['workingset_refault', 'workingsetRefault'],
  ['workingset_activate', 'workingsetActivate'],
  ['workingset_nodereclaim', 'workingsetNodereclaim'],
  ['pgrefill', 'pgrefill'],
  ['pgscan', 'pgscan'],
  ['pgsteal', 'pgsteal'],
  ['pgactivate', 'pgactivate'],
  ['pgdeactivate', 'pgdeactivate'],
  ['pglazyfree', 'pglazyfree'],
  ['pglazyfreed', 'pglazyfreed'],
  ['thp_fault_alloc', 'thpFaultAlloc'],
  ['thp_collapse_alloc', 'thpCollapseAlloc'],
];
