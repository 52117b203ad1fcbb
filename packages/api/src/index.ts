/**
 * @gantry/api: containerd's v1 gRPC API and the runtime v2 shim task API, generated from proto/
 * by tools/codegen.sh (ts-proto, @grpc/grpc-js services). Each namespace holds one proto package's
 * messages (interface + codec constant of the same name), and for services `<Name>Service` (the
 * grpc-js service definition for `server.addService`), `<Name>Server` (the handler interface) and
 * `<Name>Client` (the client class).
 */
export * as version from './gen/containerd/services/version/v1/version';
export * as namespaces from './gen/containerd/services/namespaces/v1/namespace';
export * as containers from './gen/containerd/services/containers/v1/containers';
export * as tasks from './gen/containerd/services/tasks/v1/tasks';
export * as events from './events';
export * as introspection from './gen/containerd/services/introspection/v1/introspection';
export * as content from './gen/containerd/services/content/v1/content';
export * as images from './gen/containerd/services/images/v1/images';
export * as snapshots from './gen/containerd/services/snapshots/v1/snapshots';
export * as diff from './gen/containerd/services/diff/v1/diff';
export * as leases from './gen/containerd/services/leases/v1/leases';
/** gantry.services.archives.v1: Gantry's own image archive import/export (not part of containerd's API). */
export * as archives from './gen/gantry/services/archives/v1/archives';
/** containerd.task.v2: the shim task API (containerd speaks it over ttrpc). */
export * as shim from './gen/containerd/runtime/task/v2/shim';
/** containerd.services.events.ttrpc.v1: what a shim forwards events to (ttrpc). */
export * as ttrpcEvents from './gen/containerd/services/ttrpc/events/v1/events';
/** runtime.v1: Kubernetes' CRI (RuntimeService, ImageService), served by gantry-containerd. */
export * as cri from './gen/k8s/cri/runtime/v1/api';
/** io.containerd.cgroups.v1 / .v2 Metrics (Task.Stats payloads) and their type URLs. */
export * as cgroups from './cgroups';
export * as types from './types';
export * as protobuf from './protobuf';
export * from './util';
export * from './client';
export { tracedService } from './trace-service';
export { ContainerdClient, type ContainerdClientOptions } from './containerd-client';
