import type { ContainerRecord } from '../core/metadata/records.js';
import type { Container } from '../gen/cri/runtime/v1/Container.js';
import type { ContainerConfig__Output } from '../gen/cri/runtime/v1/ContainerConfig.js';
import type { ContainerStatus } from '../gen/cri/runtime/v1/ContainerStatus.js';

export type ContainerStateName = 'CONTAINER_CREATED' | 'CONTAINER_RUNNING' | 'CONTAINER_EXITED' | 'CONTAINER_UNKNOWN';

const STATE_NAMES: Record<ContainerRecord['state'], ContainerStateName> = {
  created: 'CONTAINER_CREATED',
  running: 'CONTAINER_RUNNING',
  exited: 'CONTAINER_EXITED',
  unknown: 'CONTAINER_UNKNOWN',
};

export function containerConfig(c: ContainerRecord): ContainerConfig__Output {
  return c.config as ContainerConfig__Output;
}

interface StartUser {
  uid: number;
  gid: number;
  supplementalGroups: number[];
}

function isStartUser(v: unknown): v is StartUser {
  const u = v as Partial<StartUser> | undefined;
  return typeof u?.uid === 'number' && typeof u.gid === 'number' && Array.isArray(u.supplementalGroups);
}

/** The identity the container's process started with (recorded at CreateContainer), as ContainerStatus.user. */
function containerUser(c: ContainerRecord): ContainerStatus['user'] | undefined {
  const u = c.extra.user;
  if (!isStartUser(u)) return undefined;
  return { linux: { uid: u.uid, gid: u.gid, supplemental_groups: [...u.supplementalGroups] } };
}

export function stateName(c: ContainerRecord): ContainerStateName {
  return STATE_NAMES[c.state];
}

export function toCriContainer(c: ContainerRecord): Container {
  const config = containerConfig(c);
  return {
    id: c.id,
    pod_sandbox_id: c.sandboxId,
    metadata: config.metadata,
    image: { image: c.imageId, annotations: config.image?.annotations ?? {}, user_specified_image: config.image?.image ?? '' },
    image_ref: c.imageId,
    state: stateName(c),
    created_at: c.createdAt.toString(),
    labels: config.labels,
    annotations: config.annotations,
    image_id: c.imageId,
  };
}

export function toCriContainerStatus(c: ContainerRecord): ContainerStatus {
  const config = containerConfig(c);
  const user = containerUser(c);
  return {
    id: c.id,
    metadata: config.metadata,
    state: stateName(c),
    created_at: c.createdAt.toString(),
    started_at: c.startedAt.toString(),
    finished_at: c.finishedAt.toString(),
    exit_code: c.exitCode,
    image: { image: c.imageRef, annotations: config.image?.annotations ?? {}, user_specified_image: config.image?.image ?? '' },
    image_ref: c.imageRef.includes('@') ? c.imageRef : c.imageId,
    reason: c.reason,
    message: c.message,
    labels: config.labels,
    annotations: config.annotations,
    mounts: config.mounts,
    log_path: c.logPath,
    image_id: c.imageId,
    ...(config.linux?.resources ? { resources: { linux: config.linux.resources } } : {}),
    ...(user ? { user } : {}),
  };
}
