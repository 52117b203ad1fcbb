/** containerd.types (Mount, Metric, Descriptor, Platform) and containerd.v1.types (task Status, Process, ProcessInfo). */
export * from './gen/containerd/types/mount';
export * from './gen/containerd/types/metrics';
export * from './gen/containerd/types/descriptor';
export * from './gen/containerd/types/platform';
export * from './gen/containerd/types/task/task';
