import type { BerthConfig } from '../config/schema.js';
import type { ContainerEventBus } from '../core/events/bus.js';
import type { BerthMetrics } from '../core/metrics/registry.js';
import type { CgroupDriver } from '../core/cgroups/detect.js';
import type { ImageService } from '../core/images/image-service.js';
import type { Logger } from '../daemon/logger.js';
import type { RuntimeServices } from './runtime-services.js';
import type { StatsService } from './stats-service.js';
import type { StreamingServer } from './streaming/server.js';

/** Runtime configuration the kubelet pushes through UpdateRuntimeConfig. */
export interface RuntimeNetworkSettings {
  podCidr: string;
}

/** What every CRI handler may use: configuration and the core services. */
export interface CriContext {
  readonly config: BerthConfig;
  readonly logger: Logger;
  readonly cgroupDriver: CgroupDriver;
  readonly berthVersion: string;
  readonly network: RuntimeNetworkSettings;
  /** Persists `network` (so the pod CIDR survives a restart). */
  saveNetworkSettings(): Promise<void>;
  /** Health of the pieces behind RuntimeReady and NetworkReady. */
  probeRuntime(): Promise<ConditionProbe>;
  probeNetwork(): Promise<ConditionProbe>;
  readonly images: ImageService;
  readonly runtime: RuntimeServices;
  /** The streaming server (started with the daemon). */
  streaming(): StreamingServer;
  /** Bytes and inodes used under the snapshotter root (cached briefly: kubelet polls it). */
  imageFsUsage(): Promise<{ mountpoint: string; bytes: number; inodes: number }>;
  /** Container and pod usage for the stats and metrics RPCs. */
  readonly stats: StatsService;
  /** Lifecycle events behind GetContainerEvents (publish with publishContainerEvent). */
  readonly events: ContainerEventBus;
  /** The prom-client registry served on /metrics. */
  readonly metrics: BerthMetrics;
}

export interface ConditionProbe {
  ready: boolean;
  reason: string;
  message: string;
}
