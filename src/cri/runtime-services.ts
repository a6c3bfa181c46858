import type { CniManager } from '../cni/manager.js';
import type { KeyedLock } from '../cni/keyed-lock.js';
import type { CachedTable } from '../core/metadata/cached-table.js';
import type { ContainerRecord, SandboxRecord } from '../core/metadata/records.js';
import type { HostFacts } from '../core/runtime/spec/index.js';
import type { TaskService } from '../core/runtime/task-service.js';
import type { OverlaySnapshotter } from '../core/snapshots/overlay.js';
import type { ImageUserFilesCache } from './image-files.js';

/** The core services pod and container RPCs compose. */
export interface RuntimeServices {
  tasks: TaskService;
  cni: CniManager;
  snapshots: OverlaySnapshotter;
  sandboxes: CachedTable<SandboxRecord>;
  containers: CachedTable<ContainerRecord>;
  host: HostFacts;
  /** Serialises lifecycle calls per sandbox / container id. */
  locks: KeyedLock;
  /** Per-pod persistent directory (hosts, resolv.conf, hostname). */
  podDir(id: string): string;
  /** Per-pod runtime directory (shm). */
  podRunDir(id: string): string;
  /** Per-container persistent directory (the image's volumes); removed with the container. */
  containerDir(id: string): string;
  /** Where pinned network namespaces live. */
  netnsDir: string;
  /** Images' /etc/passwd and /etc/group, by chain id. */
  userFiles: ImageUserFilesCache;
}
