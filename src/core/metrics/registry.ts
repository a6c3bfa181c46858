import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/** state name → number of objects in it, e.g. { CONTAINER_RUNNING: 3, CONTAINER_EXITED: 1 } */
export type StateCounts = Readonly<Record<string, number>>;

export interface BerthMetricsOptions {
  /** called at each scrape to fill berth_containers{state} */
  containerStates?: () => StateCounts | Promise<StateCounts>;
  /** called at each scrape to fill berth_sandboxes{state} */
  sandboxStates?: () => StateCounts | Promise<StateCounts>;
  /** a failing state callback leaves its gauge empty for that scrape and reports here */
  onCollectError?: (metric: string, err: unknown) => void;
  /** process_* and nodejs_* metrics; default true */
  defaultMetrics?: boolean;
}

export interface BerthMetrics {
  readonly registry: Registry;
  readonly rpcDuration: Histogram<'method' | 'code'>;
  readonly rpcRequests: Counter<'method' | 'code'>;
  readonly imagePullBytes: Counter;
  readonly imagePullDuration: Histogram;
  /** records one finished RPC: its gRPC method, status code name ("OK", "NOT_FOUND") and latency */
  observeRpc(method: string, code: string, seconds: number): void;
  /** starts timing an RPC; call the returned function with the final status code name */
  startRpcTimer(method: string): (code: string) => void;
  /** records one finished image pull */
  observeImagePull(bytes: number, seconds: number): void;
}

const RPC_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
const PULL_BUCKETS = [0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600];

function stateGauge(
  registry: Registry,
  name: string,
  help: string,
  source: (() => StateCounts | Promise<StateCounts>) | undefined,
  onError: ((metric: string, err: unknown) => void) | undefined,
): Gauge<'state'> {
  return new Gauge({
    name,
    help,
    labelNames: ['state'] as const,
    registers: [registry],
    async collect() {
      this.reset();
      if (source === undefined) return;
      try {
        const counts = await source();
        for (const [state, count] of Object.entries(counts)) this.set({ state }, count);
      } catch (err) {
        this.reset();
        onError?.(name, err);
      }
    },
  });
}

/** A prom-client registry holding every metric berthd exports on /metrics. */
export function createMetricsRegistry(options: BerthMetricsOptions = {}): BerthMetrics {
  const registry = new Registry();
  if (options.defaultMetrics !== false) collectDefaultMetrics({ register: registry });

  const rpcDuration = new Histogram({
    name: 'berth_grpc_request_duration_seconds',
    help: 'Latency of CRI gRPC requests, by method and status code.',
    labelNames: ['method', 'code'] as const,
    buckets: RPC_BUCKETS,
    registers: [registry],
  });
  const rpcRequests = new Counter({
    name: 'berth_grpc_requests_total',
    help: 'CRI gRPC requests handled, by method and status code (code != OK are errors).',
    labelNames: ['method', 'code'] as const,
    registers: [registry],
  });
  stateGauge(registry, 'berth_containers', 'Containers known to berth, by CRI state.', options.containerStates, options.onCollectError);
  stateGauge(registry, 'berth_sandboxes', 'Pod sandboxes known to berth, by CRI state.', options.sandboxStates, options.onCollectError);
  const imagePullBytes = new Counter({
    name: 'berth_image_pull_bytes_total',
    help: 'Bytes fetched from registries by image pulls.',
    registers: [registry],
  });
  const imagePullDuration = new Histogram({
    name: 'berth_image_pull_duration_seconds',
    help: 'Duration of image pulls, from resolve to unpacked.',
    buckets: PULL_BUCKETS,
    registers: [registry],
  });

  const observeRpc = (method: string, code: string, seconds: number): void => {
    rpcDuration.observe({ method, code }, seconds);
    rpcRequests.inc({ method, code });
  };
  return {
    registry,
    rpcDuration,
    rpcRequests,
    imagePullBytes,
    imagePullDuration,
    observeRpc,
    startRpcTimer(method: string): (code: string) => void {
      const start = process.hrtime.bigint();
      return (code: string) => observeRpc(method, code, Number(process.hrtime.bigint() - start) / 1e9);
    },
    observeImagePull(bytes: number, seconds: number): void {
      imagePullBytes.inc(bytes);
      imagePullDuration.observe(seconds);
    },
  };
}
