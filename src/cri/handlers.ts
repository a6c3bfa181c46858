import { createContainer } from './container-create.js';
import { getContainerEvents } from './container-events.js';
import { containerStats } from './container-stats.js';
import { listContainerStats } from './container-stats-list.js';
import { listMetricDescriptors } from './metric-descriptors-list.js';
import { listPodSandboxMetrics } from './sandbox-metrics-list.js';
import { podSandboxStats } from './sandbox-stats.js';
import { listPodSandboxStats } from './sandbox-stats-list.js';
import { attach } from './container-attach.js';
import { exec } from './container-exec.js';
import { execSync } from './container-exec-sync.js';
import { portForward } from './sandbox-port-forward.js';
import { reopenContainerLog } from './container-reopen-log.js';
import { updateContainerResources } from './container-update.js';
import { listContainers } from './container-list.js';
import { removeContainer } from './container-remove.js';
import { startContainer } from './container-start.js';
import { containerStatus } from './container-status.js';
import { stopContainer } from './container-stop.js';
import type { CriHandlers } from './grpc-server.js';
import { streamedList } from './list-streaming.js';
import { listPodSandbox } from './sandbox-list.js';
import { removePodSandbox } from './sandbox-remove.js';
import { runPodSandbox } from './sandbox-run.js';
import { podSandboxStatus } from './sandbox-status.js';
import { stopPodSandbox } from './sandbox-stop.js';
import { updatePodSandboxResources } from './sandbox-update-resources.js';
import { imageFsInfo } from './image-fs-info.js';
import { listImages } from './image-list.js';
import { pullImage } from './image-pull.js';
import { removeImage } from './image-remove.js';
import { imageStatus } from './image-status.js';
import { runtimeConfig } from './runtime-config.js';
import { updateRuntimeConfig } from './runtime-config-update.js';
import { status } from './status.js';
import { version } from './version.js';

/** Every CRI method berth implements; the rest answer UNIMPLEMENTED. */
export function criHandlers(): CriHandlers {
  return {
    RuntimeService: {
      unary: {
        Version: version,
        Status: status,
        RuntimeConfig: runtimeConfig,
        UpdateRuntimeConfig: updateRuntimeConfig,
        RunPodSandbox: runPodSandbox,
        StopPodSandbox: stopPodSandbox,
        RemovePodSandbox: removePodSandbox,
        PodSandboxStatus: podSandboxStatus,
        ListPodSandbox: listPodSandbox,
        CreateContainer: createContainer,
        StartContainer: startContainer,
        StopContainer: stopContainer,
        RemoveContainer: removeContainer,
        ContainerStatus: containerStatus,
        ListContainers: listContainers,
        ExecSync: execSync,
        Exec: exec,
        Attach: attach,
        PortForward: portForward,
        UpdateContainerResources: updateContainerResources,
        ReopenContainerLog: reopenContainerLog,
        ContainerStats: containerStats,
        ListContainerStats: listContainerStats,
        PodSandboxStats: podSandboxStats,
        ListPodSandboxStats: listPodSandboxStats,
        ListMetricDescriptors: listMetricDescriptors,
        ListPodSandboxMetrics: listPodSandboxMetrics,
        UpdatePodSandboxResources: updatePodSandboxResources,
      },
      subscriptions: {
        GetContainerEvents: getContainerEvents,
      },
      stream: {
        StreamPodSandboxes: streamedList('RuntimeService', 'ListPodSandbox', listPodSandbox),
        StreamContainers: streamedList('RuntimeService', 'ListContainers', listContainers),
        StreamContainerStats: streamedList('RuntimeService', 'ListContainerStats', listContainerStats),
        StreamPodSandboxStats: streamedList('RuntimeService', 'ListPodSandboxStats', listPodSandboxStats),
        StreamPodSandboxMetrics: streamedList('RuntimeService', 'ListPodSandboxMetrics', listPodSandboxMetrics),
      },
    },
    ImageService: {
      unary: {
        PullImage: pullImage,
        ListImages: listImages,
        ImageStatus: imageStatus,
        RemoveImage: removeImage,
        ImageFsInfo: imageFsInfo,
      },
      stream: {
        StreamImages: streamedList('ImageService', 'ListImages', listImages),
      },
    },
  };
}
