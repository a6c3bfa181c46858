import { chmod, mkdir, readFile, rm, stat, writeFile, rename } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { BerthConfig } from '../config/schema.js';
import { loadStreamTls } from '../config/stream-tls.js';
import { detectCgroupDriver, type CgroupDriver } from '../core/cgroups/detect.js';
import { ImageUserFilesCache } from '../cri/image-files.js';
import type { CriContext, RuntimeNetworkSettings } from '../cri/context.js';
import { KeyedLock } from '../cni/keyed-lock.js';
import { CniManager } from '../cni/manager.js';
import { openContainerTable, openSandboxTable } from '../core/metadata/records.js';
import { detectHostFacts } from '../core/runtime/host-facts.js';
import { TaskService } from '../core/runtime/task-service.js';
import type { RuntimeServices } from '../cri/runtime-services.js';
import { StreamingServer } from '../cri/streaming/server.js';
import { streamingBackend } from '../cri/streaming-backend.js';
import { UnavailableError } from '../core/errors.js';
import { CriGrpcServer } from '../cri/grpc-server.js';
import { EventBus, type ContainerEventBus } from '../core/events/bus.js';
import { startMetricsServer, type MetricsServer } from '../core/metrics/http.js';
import { createMetricsRegistry, type StateCounts } from '../core/metrics/registry.js';
import { stateName } from '../cri/container-view.js';
import { sandboxStateName } from '../cri/sandbox-view.js';
import { StatsService } from '../cri/stats-service.js';
import { reconcileExits } from '../cri/exit-reconciler.js';
import { criHandlers } from '../cri/handlers.js';
import { recoverAfterUncleanStop, tidyContainerDirs } from '../cri/recover.js';
import { openCoreServices } from './core-services.js';
import { RootLock } from './lock.js';
import type { Logger } from './logger.js';
import { probeNetwork, probeRuntime } from './probes.js';
import { BERTH_VERSION } from './version.js';

export interface RunningDaemon {
  readonly context: CriContext;
  /** Stops accepting calls, waits for in-flight ones, removes the socket and the lock. */
  stop(): Promise<void>;
}

async function removeStaleSocket(path: string): Promise<void> {
  try {
    const info = await stat(path);
    if (!info.isSocket()) throw new Error(`${path} exists and is not a socket; refusing to remove it`);
    await rm(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}

async function loadNetworkSettings(path: string): Promise<RuntimeNetworkSettings> {
  try {
    const saved = JSON.parse(await readFile(path, 'utf8')) as Partial<RuntimeNetworkSettings>;
    return { podCidr: typeof saved.podCidr === 'string' ? saved.podCidr : '' };
  } catch {
    return { podCidr: '' };
  }
}

function countStates<T>(items: readonly T[], state: (item: T) => string): StateCounts {
  const counts: Record<string, number> = {};
  for (const item of items) counts[state(item)] = (counts[state(item)] ?? 0) + 1;
  return counts;
}

async function writeFileAtomic(path: string, data: string): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}`;
  await writeFile(tmp, data, { mode: 0o600, flush: true });
  await rename(tmp, path);
}

function resolveCgroupDriver(config: BerthConfig): CgroupDriver {
  return config.cgroup_driver === 'auto' ? detectCgroupDriver() : config.cgroup_driver;
}

/** Starts berthd: directories, root lock, CRI socket. */
export async function startDaemon(config: BerthConfig, logger: Logger): Promise<RunningDaemon> {
  // Before anything is created: a bad certificate or key stops berthd naming the key.
  const streamTls = await loadStreamTls(config.stream);
  await mkdir(config.root, { recursive: true, mode: 0o711 });
  await mkdir(config.state, { recursive: true, mode: 0o711 });
  await mkdir(dirname(config.address), { recursive: true, mode: 0o711 });
  const lock = RootLock.acquire(join(config.root, 'berthd.lock'));
  try {
    const networkFile = join(config.root, 'runtime-network.json');
    const network = await loadNetworkSettings(networkFile);
    const cni = new CniManager({
      confDir: config.cni.conf_dir,
      binDirs: config.cni.bin_dirs,
      cacheDir: join(config.root, 'cni', 'results'),
    });
    const core = await openCoreServices(config, logger);
    const containersDir = join(config.root, 'containers');
    const cgroupDriver = resolveCgroupDriver(config);
    const runtime: RuntimeServices = {
      tasks: new TaskService({
        stateDir: config.state,
        runtimes: config.runtimes,
        systemdCgroup: cgroupDriver === 'systemd',
        onExitReadError: (id, err) => logger.warn('reading an exit file failed', { id, error: err.message }),
      }),
      cni,
      snapshots: core.snapshots,
      sandboxes: openSandboxTable(core.db),
      containers: openContainerTable(core.db),
      host: detectHostFacts(cgroupDriver),
      locks: new KeyedLock(),
      podDir: (id) => join(config.root, 'sandboxes', id),
      podRunDir: (id) => join(config.state, 'sandboxes', id),
      containerDir: (id) => join(containersDir, id),
      netnsDir: '/var/run/netns',
      userFiles: new ImageUserFilesCache(),
    };
    const metrics = createMetricsRegistry({
      containerStates: () => countStates(runtime.containers.all(), stateName),
      sandboxStates: () => countStates(runtime.sandboxes.all(), sandboxStateName),
      onCollectError: (metric, err) => logger.warn('collecting a metric failed', { metric, error: (err as Error).message }),
    });
    const events: ContainerEventBus = new EventBus();
    let streaming: StreamingServer | undefined;
    const context: CriContext = {
      runtime,
      streaming: () => {
        if (!streaming) throw new UnavailableError('the streaming server is not running');
        return streaming;
      },
      images: core.images,
      imageFsUsage: core.imageFsUsage,
      config,
      logger,
      cgroupDriver,
      berthVersion: BERTH_VERSION,
      network,
      saveNetworkSettings: () => writeFileAtomic(networkFile, JSON.stringify(network)),
      probeRuntime: () => probeRuntime(config),
      probeNetwork: () => probeNetwork(cni),
      stats: new StatsService(),
      events,
      metrics,
    };
    // Before the first RPC: exits that happened while berthd was down reach the records now.
    const stopReconciling = reconcileExits(context);
    await runtime.tasks.exits.start();
    streaming = new StreamingServer({
      address: config.stream.address,
      port: config.stream.port,
      tls: streamTls,
      backend: streamingBackend(context),
      logger,
    });
    const recovered = await recoverAfterUncleanStop(context);
    if (recovered.unmonitored + recovered.reconciled > 0) logger.info('recovered containers after an unclean stop', { ...recovered });
    const orphanDirs = await tidyContainerDirs(context, containersDir);
    if (orphanDirs > 0) logger.info('removed directories no container owns', { count: orphanDirs });
    const streamingUrl = await streaming.start();
    const server = new CriGrpcServer(context, criHandlers());
    await removeStaleSocket(config.address);
    await server.listen(config.address);
    await chmod(config.address, 0o660);
    let metricsServer: MetricsServer | undefined;
    if (config.metrics.address !== '') {
      // Metrics are not worth refusing CRI for (a port taken by another daemon): log and go on.
      metricsServer = await startMetricsServer(metrics.registry, config.metrics.address).catch((err: unknown) => {
        logger.warn('metrics are not served', { error: (err as Error).message });
        return undefined;
      });
    }
    logger.info('berthd serving CRI', { streaming: streamingUrl, metrics: metricsServer?.url ?? '', address: config.address, root: config.root, state: config.state, cgroupDriver: context.cgroupDriver });
    let stopping: Promise<void> | undefined;
    return {
      context,
      stop: () => {
        stopping ??= (async () => {
          // Ends GetContainerEvents streams, so the server's shutdown does not wait on them.
          events.close();
          await server.shutdown(10_000);
          stopReconciling();
          runtime.tasks.exits.close();
          await metricsServer?.stop();
          await streaming?.stop();
          await rm(config.address, { force: true });
          await core.images.collectionsSettled(10_000);
          core.close();
          lock.release();
          logger.info('berthd stopped');
        })();
        return stopping;
      },
    };
  } catch (err) {
    lock.release();
    throw err;
  }
}
