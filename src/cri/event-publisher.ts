import type { ContainerEvent, ContainerEventBus, ContainerEventType } from '../core/events/bus.js';
import type { ContainerEventResponse } from '../gen/cri/runtime/v1/ContainerEventResponse.js';
import type { CriContext } from './context.js';
import { toCriContainerStatus } from './container-view.js';
import { nowNanos } from './ids.js';
import { sandboxStateName, toCriSandboxStatus } from './sandbox-view.js';

/**
 * Publishes a GetContainerEvents event for a container or, with the sandbox
 * id, for the pod itself (as containerd does, the event's container id is
 * then the sandbox id). It carries what the records say now: the pod's
 * status and the statuses of every container still in the pod. Synchronous,
 * so events leave in the order of the calls.
 *
 * After a record was deleted, pass the pod's id as `sandboxId` (for a
 * removed container) so the event still carries the pod's state; a removed
 * pod's own DELETED event has no pod status, as in containerd.
 */
export function publishContainerEvent(ctx: CriContext, bus: ContainerEventBus, id: string, type: ContainerEventType, sandboxId?: string): void {
  const rt = ctx.runtime;
  const podId = rt.containers.get(id)?.sandboxId ?? sandboxId ?? id;
  const sandbox = rt.sandboxes.get(podId);
  // The record's state, not a probe of the pause process: probing is async and would let events overtake each other.
  const podSandboxStatus = sandbox === undefined ? null : toCriSandboxStatus(sandbox, sandboxStateName(sandbox));
  const containersStatuses = rt.containers.all().filter((c) => c.sandboxId === podId).map(toCriContainerStatus);
  const event: ContainerEvent = { containerId: id, type, createdAt: nowNanos().toString(), podSandboxStatus, containersStatuses };
  bus.publish(event);
  ctx.logger.debug('container event', { id, type, sandbox: podId });
}

/** The wire form of a bus event. */
export function toContainerEventResponse(event: ContainerEvent): ContainerEventResponse {
  return {
    container_id: event.containerId,
    container_event_type: event.type,
    created_at: event.createdAt,
    pod_sandbox_status: event.podSandboxStatus,
    containers_statuses: event.containersStatuses,
  };
}
