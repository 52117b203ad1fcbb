export { TaskService, TaskStatus } from './task-service';
export type { CreateRequest, ExecRequest, ProcessInfo, RootfsMount, ShimEvent } from './task-service';
export { ProcessStdio } from './stdio';
export type { StdioPaths } from './stdio';
export { runtimeFailure } from './errors';
export { taskServer, PROCESS_TYPE, RESOURCES_TYPE, SHIM_VERSION } from './grpc-service';
export { encodeEvent } from './event-codec';
export { Publisher } from './publisher';
export { StrayReaper } from './reaper';
