import { events, packAny, timestampFromDate, type protobuf } from '@gantry/api';
import type { ShimEvent } from './task-service';

/** A shim event as containerd puts it on the wire: its topic and the payload in an Any. */
export function encodeEvent(e: ShimEvent): { topic: string; event: protobuf.Any } {
  switch (e.topic) {
    case '/tasks/create':
      return {
        topic: e.topic,
        event: packAny(
          'containerd.events.TaskCreate',
          events.TaskCreate,
          events.TaskCreate.fromPartial({ containerId: e.containerId, pid: e.pid, bundle: e.bundle }),
        ),
      };
    case '/tasks/start':
      return { topic: e.topic, event: packAny('containerd.events.TaskStart', events.TaskStart, { containerId: e.containerId, pid: e.pid }) };
    case '/tasks/exit':
      return {
        topic: e.topic,
        event: packAny('containerd.events.TaskExit', events.TaskExit, {
          containerId: e.containerId,
          id: e.id,
          pid: e.pid,
          exitStatus: e.exitStatus,
          exitedAt: timestampFromDate(e.exitedAt),
        }),
      };
    case '/tasks/delete':
      return {
        topic: e.topic,
        event: packAny('containerd.events.TaskDelete', events.TaskDelete, {
          containerId: e.containerId,
          id: e.id,
          pid: e.pid,
          exitStatus: e.exitStatus,
          exitedAt: timestampFromDate(e.exitedAt),
        }),
      };
    case '/tasks/exec-added':
      return { topic: e.topic, event: packAny('containerd.events.TaskExecAdded', events.TaskExecAdded, { containerId: e.containerId, execId: e.execId }) };
    case '/tasks/exec-started':
      return {
        topic: e.topic,
        event: packAny('containerd.events.TaskExecStarted', events.TaskExecStarted, { containerId: e.containerId, execId: e.execId, pid: e.pid }),
      };
    case '/tasks/paused':
      return { topic: e.topic, event: packAny('containerd.events.TaskPaused', events.TaskPaused, { containerId: e.containerId }) };
    case '/tasks/resumed':
      return { topic: e.topic, event: packAny('containerd.events.TaskResumed', events.TaskResumed, { containerId: e.containerId }) };
    case '/tasks/oom':
      return { topic: e.topic, event: packAny('containerd.events.TaskOOM', events.TaskOOM, { containerId: e.containerId }) };
  }
}
