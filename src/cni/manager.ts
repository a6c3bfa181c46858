/**
 * Pod networking as the CRI layer needs it: readiness, set up, check and tear
 * down a sandbox's network namespace through the configured CNI plugin chain.
 */
import { AlreadyExistsError, FailedPreconditionError, InvalidArgumentError } from '../core/errors.js';
import { ResultCache, type CacheEntry } from './cache.js';
import { addNetworkList, checkNetworkList, delNetworkList, supportsCheckAndPrevResultOnDel } from './chain.js';
import { DEFAULT_CONF_DIR, loadNetworkConfig, type LoadResult } from './config.js';
import { CniPluginNotFoundError } from './errors.js';
import { findPlugin } from './exec.js';
import { KeyedLock } from './keyed-lock.js';
import { DEFAULT_NETNS_DIR, netnsExists } from './netns.js';
import { interfacesFromResult, podIpsFromResult } from './result.js';
import type {
  BandwidthLimits,
  CniResult,
  DnsSettings,
  NetworkConfigList,
  PodIp,
  PortMapping,
  ResultInterface,
  RuntimeArgs,
} from './types.js';

export const DEFAULT_BIN_DIRS: readonly string[] = ['/opt/cni/bin', '/usr/lib/cni'];
export const DEFAULT_IFNAME = 'eth0';

export interface CniManagerOptions {
  /** Where network configs live (default /etc/cni/net.d). */
  confDir?: string;
  /** Plugin binary dirs, searched in order (default /opt/cni/bin, /usr/lib/cni). */
  binDirs?: readonly string[];
  /** Where ADD inputs and results are kept so DEL works after a restart. */
  cacheDir: string;
  /** Where pod network namespaces are pinned (default /var/run/netns). */
  netnsDir?: string;
  /** Interface name inside the pod (default eth0). */
  ifName?: string;
  /** Per plugin invocation (default 120 s). */
  pluginTimeoutMs?: number;
}

/** A CRI port mapping; protocol is TCP, UDP or SCTP in any case (default TCP). */
export interface PodPortMapping {
  hostPort: number;
  containerPort: number;
  protocol?: string;
  hostIP?: string;
}

export interface PodNetworkRequest {
  /** The sandbox id, passed as CNI_CONTAINERID and K8S_POD_INFRA_CONTAINER_ID. */
  podId: string;
  netnsPath: string;
  name: string;
  namespace: string;
  uid: string;
  portMappings?: PodPortMapping[];
  bandwidth?: BandwidthLimits;
  dns?: DnsSettings;
}

/** TearDown needs only the id and netns; pod metadata is used when nothing was cached. */
export type PodNetworkRef = Pick<PodNetworkRequest, 'podId' | 'netnsPath'> & Partial<PodNetworkRequest>;

export interface PodNetworkStatus {
  /** Name of the network the pod was attached to. */
  network: string;
  interfaces: ResultInterface[];
  /** Primary first: the first IPv4 address, then the others in result order. */
  ips: PodIp[];
  /** The final ADD result as the last plugin printed it. */
  result: CniResult;
}

export interface NetworkReadiness {
  ready: boolean;
  /** Empty when ready. */
  reason: string;
  /** Empty when ready. */
  message: string;
}

const CONTAINER_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

export class CniManager {
  readonly confDir: string;
  readonly binDirs: readonly string[];
  readonly netnsDir: string;
  readonly ifName: string;
  private readonly cache: ResultCache;
  private readonly timeoutMs: number;
  private readonly locks = new KeyedLock();

  constructor(opts: CniManagerOptions) {
    this.confDir = opts.confDir ?? DEFAULT_CONF_DIR;
    this.binDirs = [...(opts.binDirs ?? DEFAULT_BIN_DIRS)];
    this.netnsDir = opts.netnsDir ?? DEFAULT_NETNS_DIR;
    this.ifName = opts.ifName ?? DEFAULT_IFNAME;
    this.cache = new ResultCache(opts.cacheDir);
    this.timeoutMs = opts.pluginTimeoutMs ?? 120_000;
  }

  /** The network config that would be used now (re-read on every call, as files may change). */
  loadConfig(): LoadResult {
    return loadNetworkConfig(this.confDir);
  }

  /** NetworkReady: a valid config exists and every plugin it names is installed. */
  status(): NetworkReadiness {
    const loaded = this.loadConfig();
    if (!loaded.config) {
      return { ready: false, reason: 'NetworkPluginNotReady', message: `cni config uninitialized: ${loaded.reason}` };
    }
    for (const plugin of loaded.config.plugins) {
      try {
        findPlugin(plugin.type, this.binDirs);
      } catch (err) {
        if (!(err instanceof CniPluginNotFoundError)) throw err;
        return { ready: false, reason: 'NetworkPluginNotReady', message: `cni plugin not initialized: ${err.message}` };
      }
    }
    return { ready: true, reason: '', message: '' };
  }

  /** Runs ADD for the pod. On failure the partial setup is deleted again before the error is thrown. */
  async setUpPod(req: PodNetworkRequest): Promise<PodNetworkStatus> {
    validatePodId(req.podId);
    const config = this.requireConfig();
    const runtime = this.runtimeArgs(req, req.netnsPath);
    return this.locks.run(req.podId, async () => {
      if (!netnsExists(req.netnsPath)) {
        throw new FailedPreconditionError(`network namespace ${req.netnsPath} of pod ${req.podId} does not exist`);
      }
      const existing = await this.cache.findForContainer(req.podId, this.ifName);
      if (existing.length > 0) {
        throw new AlreadyExistsError(
          `pod ${req.podId} already has network "${existing[0]!.config.name}" set up; tear it down first`,
        );
      }
      // Record the inputs before ADD: if berthd dies mid-ADD, DEL after restart still has them.
      await this.cache.write({ kind: 'berthCniCacheV1', config, runtime });
      let result: CniResult;
      try {
        result = await addNetworkList(config, runtime, this.chainOptions());
      } catch (addError) {
        try {
          await delNetworkList(config, runtime, undefined, this.chainOptions());
          await this.cache.remove(config.name, req.podId, this.ifName);
        } catch (delError) {
          // The cache entry stays, so a later tearDownPod retries the cleanup.
          throw new Error(
            `${errorText(addError)}; cleaning up after it also failed (${errorText(delError)}), tear the pod down to retry`,
            { cause: addError },
          );
        }
        throw addError;
      }
      await this.cache.write({ kind: 'berthCniCacheV1', config, runtime, result });
      return {
        network: config.name,
        interfaces: interfacesFromResult(result),
        ips: podIpsFromResult(result, this.ifName),
        result,
      };
    });
  }

  /** Runs CHECK with the cached ADD inputs and result; throws when the pod's network is broken. */
  async checkPod(ref: PodNetworkRef): Promise<void> {
    validatePodId(ref.podId);
    await this.locks.run(ref.podId, async () => {
      const entries = await this.cache.findForContainer(ref.podId, this.ifName);
      const entry = entries.find((e) => e.result !== undefined);
      if (!entry?.result) throw new FailedPreconditionError(`pod ${ref.podId} has no network set up`);
      if (entry.config.disableCheck) return;
      if (!supportsCheckAndPrevResultOnDel(entry.config.cniVersion)) {
        throw new FailedPreconditionError(
          `network "${entry.config.name}" uses CNI ${entry.config.cniVersion}, which has no CHECK (needs 0.4.0 or later)`,
        );
      }
      if (!netnsExists(ref.netnsPath)) {
        throw new FailedPreconditionError(`network namespace ${ref.netnsPath} of pod ${ref.podId} does not exist`);
      }
      await checkNetworkList(entry.config, { ...entry.runtime, netnsPath: ref.netnsPath }, entry.result, this.chainOptions());
    });
  }

  /**
   * Runs DEL with the inputs cached at ADD (or, with nothing cached, with the
   * current config). Safe to repeat, and works once the netns is gone: plugins
   * then get an empty CNI_NETNS and release what they hold on the host.
   */
  async tearDownPod(ref: PodNetworkRef): Promise<void> {
    validatePodId(ref.podId);
    await this.locks.run(ref.podId, async () => {
      const netnsPath = netnsExists(ref.netnsPath) ? ref.netnsPath : '';
      const entries: CacheEntry[] = await this.cache.findForContainer(ref.podId, this.ifName);
      if (entries.length === 0) {
        const loaded = this.loadConfig();
        if (!loaded.config) return; // never set up by us and no network configured: nothing to release
        await delNetworkList(loaded.config, this.runtimeArgs(ref, netnsPath), undefined, this.chainOptions());
        return;
      }
      for (const entry of entries) {
        await delNetworkList(entry.config, { ...entry.runtime, netnsPath }, entry.result, this.chainOptions());
        await this.cache.remove(entry.config.name, ref.podId, this.ifName);
      }
    });
  }

  private requireConfig(): NetworkConfigList {
    const loaded = this.loadConfig();
    if (!loaded.config) throw new FailedPreconditionError(`cni config uninitialized: ${loaded.reason}`);
    return loaded.config;
  }

  private chainOptions(): { binDirs: readonly string[]; timeoutMs: number } {
    return { binDirs: this.binDirs, timeoutMs: this.timeoutMs };
  }

  private runtimeArgs(req: PodNetworkRef, netnsPath: string): RuntimeArgs {
    for (const [field, value] of [['name', req.name], ['namespace', req.namespace], ['uid', req.uid]] as const) {
      if (value !== undefined && /[;=]/.test(value)) {
        throw new InvalidArgumentError(`pod ${field} "${value}" may not contain ';' or '='`);
      }
    }
    const capabilityArgs: RuntimeArgs['capabilityArgs'] = {
      portMappings: toCniPortMappings(req.portMappings ?? []),
    };
    if (req.bandwidth && Object.values(req.bandwidth).some((v) => v !== undefined)) {
      capabilityArgs.bandwidth = req.bandwidth;
    }
    if (req.dns) capabilityArgs.dns = req.dns;
    return {
      containerId: req.podId,
      netnsPath,
      ifName: this.ifName,
      args: [
        ['IgnoreUnknown', '1'],
        ['K8S_POD_NAMESPACE', req.namespace ?? ''],
        ['K8S_POD_NAME', req.name ?? ''],
        ['K8S_POD_INFRA_CONTAINER_ID', req.podId],
        ['K8S_POD_UID', req.uid ?? ''],
      ],
      capabilityArgs,
    };
  }
}

/** CRI mappings to the portmap plugin's shape; mappings without a host port are not published (as containerd). */
export function toCniPortMappings(mappings: readonly PodPortMapping[]): PortMapping[] {
  const out: PortMapping[] = [];
  for (const m of mappings) {
    if (!Number.isInteger(m.hostPort) || m.hostPort <= 0) continue;
    if (m.hostPort > 65535 || !Number.isInteger(m.containerPort) || m.containerPort <= 0 || m.containerPort > 65535) {
      throw new InvalidArgumentError(`port mapping ${m.hostPort}->${m.containerPort}: ports must be 1-65535`);
    }
    const protocol = (m.protocol ?? 'tcp').toLowerCase();
    if (!['tcp', 'udp', 'sctp'].includes(protocol)) {
      throw new InvalidArgumentError(`port mapping ${m.hostPort}->${m.containerPort}: unknown protocol "${m.protocol}"`);
    }
    out.push({
      hostPort: m.hostPort,
      containerPort: m.containerPort,
      protocol,
      ...(m.hostIP ? { hostIP: m.hostIP } : {}),
    });
  }
  return out;
}

function validatePodId(podId: string): void {
  if (!CONTAINER_ID_PATTERN.test(podId)) {
    throw new InvalidArgumentError(`pod id "${podId}" must be letters, digits, '_', '.', '-' and start with a letter or digit`);
  }
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
