/**
 * The events service (containerd.services.events.v1: Publish, Forward, Subscribe, Envelope) and the
 * payloads that travel in an Envelope's `event` Any: containerd.events.* (tasks, containers,
 * namespaces, content, snapshots) and containerd.services.images.v1.Image{Create,Update,Delete}.
 */
export * from './gen/containerd/services/events/v1/events';
export * from './gen/containerd/events/task';
export * from './gen/containerd/events/container';
export * from './gen/containerd/events/namespace';
export * from './gen/containerd/events/content';
export * from './gen/containerd/events/snapshot';
export * from './gen/containerd/events/image';
