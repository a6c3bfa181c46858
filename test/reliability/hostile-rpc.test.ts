/**
 * Every CRI RPC fed hostile requests: malformed protobuf (wrong wire types,
 * lengths past the end, noise) and well-formed messages full of path
 * escapes, NULs, huge strings, unknown ids and absurd numbers. The daemon
 * must stay up, answer each with a clean status, and change nothing.
 *
 * The requests follow from the seed alone: BERTH_FUZZ_SEED=<n> replays (or
 * varies) a run, BERTH_FUZZ_REQUESTS=<n> changes the count, and
 * BERTH_FUZZ_VERBOSE=1 prints how many of each status every RPC answered.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { status as GrpcStatus } from '@grpc/grpc-js';
import { BUSYBOX, podConfig, runInPod, startNode, type TestNode } from '../support/cluster.js';
import { criMethods, HostileStrings, malformedBytes, MessageFuzzer, RawCriClient, type CriMethod } from '../support/cri-fuzz.js';
import { fuzzSeed, Prng } from '../support/prng.js';

const REQUESTS = Number(process.env['BERTH_FUZZ_REQUESTS'] ?? 4000);
const BATCH = 100;
const CONCURRENCY = 4;
const CALL_DEADLINE_MS = 30_000;
const SEED = fuzzSeed(0x10b0a7);

/** RPCs berth documents as not built yet (README "What works today"). */
const NOT_BUILT = new Set(['CheckpointContainer']);

/** Read-only RPCs that may be aimed at the live pod or container with hostile other fields. */
const READ_ONLY_ID_FIELDS: Record<string, string> = {
  ContainerStatus: 'container_id',
  ContainerStats: 'container_id',
  ExecSync: 'container_id',
  Exec: 'container_id',
  Attach: 'container_id',
  PodSandboxStatus: 'pod_sandbox_id',
  PodSandboxStats: 'pod_sandbox_id',
  PortForward: 'pod_sandbox_id',
};

/**
 * Codes an RPC may answer besides OK, INVALID_ARGUMENT and NOT_FOUND, each
 * documented: a pull from an unreachable or refusing registry is UNAVAILABLE
 * or FAILED_PRECONDITION (auth); an exec whose timeout passes is DEADLINE_EXCEEDED.
 */
const EXTRA_CODES: Record<string, GrpcStatus[]> = {
  PullImage: [GrpcStatus.UNAVAILABLE, GrpcStatus.FAILED_PRECONDITION],
  ExecSync: [GrpcStatus.DEADLINE_EXCEEDED],
};

function allowedCodes(method: CriMethod): Set<GrpcStatus> {
  if (NOT_BUILT.has(method.name)) return new Set([GrpcStatus.UNIMPLEMENTED]);
  return new Set([GrpcStatus.OK, GrpcStatus.INVALID_ARGUMENT, GrpcStatus.NOT_FOUND, ...(EXTRA_CODES[method.name] ?? [])]);
}

interface StateSnapshot {
  pods: unknown[];
  containers: unknown[];
  images: unknown[];
  podCidr: unknown;
}

function collectStrings(value: unknown, out: string[], depth = 0): void {
  if (depth > 12 || value === null || value === undefined) return;
  if (typeof value === 'string') out.push(value);
  else if (Array.isArray(value)) for (const v of value) collectStrings(v, out, depth + 1);
  else if (typeof value === 'object' && !Buffer.isBuffer(value)) {
    for (const [k, v] of Object.entries(value)) {
      out.push(k);
      collectStrings(v, out, depth + 1);
    }
  }
}

describe('reliability: hostile CRI requests', () => {
  let node: TestNode;
  let podId: string;
  let containerId: string;
  let liveIds: string[] = [];

  before(async () => {
    node = await startNode({ netIndex: 40 });
    await node.daemon.cri.image.PullImage({ image: { image: BUSYBOX } });
    const pod = podConfig(node);
    podId = (await node.daemon.cri.runtime.RunPodSandbox({ config: pod })).pod_sandbox_id;
    containerId = await runInPod(node.daemon, podId, pod, 'target', { command: ['sleep', '3600'] });
    const images = (await node.daemon.cri.image.ListImages({})).images;
    liveIds = [podId, containerId, ...images.map((i) => i.id.replace(/^sha256:/, ''))];
  });

  after(async () => {
    await node?.stop();
  });

  async function snapshot(): Promise<StateSnapshot> {
    const cri = node.daemon.cri;
    const pods = (await cri.runtime.ListPodSandbox({})).items.map((p) => ({ id: p.id, state: p.state, metadata: p.metadata, labels: p.labels }));
    const containers = (await cri.runtime.ListContainers({})).containers.map((c) => ({ id: c.id, state: c.state, pod: c.pod_sandbox_id, labels: c.labels }));
    const images = (await cri.image.ListImages({})).images.map((i) => ({ id: i.id, tags: i.repo_tags, digests: i.repo_digests }));
    const status = await cri.runtime.Status({ verbose: true });
    const podCidr = (JSON.parse(status.info['config'] ?? '{}') as { podCIDR?: unknown }).podCIDR;
    return { pods, containers, images, podCidr };
  }

  /**
   * Whether a string could select a live object as an id prefix (crictl-style) and so change state.
   * Any short hex string counts, whatever the live ids are, so a seed always yields the same requests.
   */
  const isLive = (s: string): boolean => /^(?:sha256:)?[a-f0-9]{1,63}$/.test(s) || liveIds.includes(s.replace(/^sha256:/, ''));

  /** Garbage that happens to decode into a request able to act on something real is regenerated. */
  function couldChangeState(method: CriMethod, bytes: Buffer): boolean {
    let decoded: unknown;
    try {
      decoded = method.deserialize(bytes);
    } catch {
      return false; // undecodable: the daemon must refuse it
    }
    const strings: string[] = [];
    collectStrings(decoded, strings);
    if (strings.some(isLive)) return true;
    const req = decoded as { config?: { metadata?: { name?: string; namespace?: string; uid?: string } } };
    const m = req.config?.metadata;
    if (method.name === 'RunPodSandbox' && m?.name && m.namespace && m.uid) return true;
    if (method.name === 'UpdateRuntimeConfig' && strings.some((s) => /\d+\.\d+\.\d+\.\d+\/\d+|:.*\/\d+/.test(s))) return true;
    return false;
  }

  it('refuses absurd values in otherwise valid RunPodSandbox and CreateContainer requests before creating anything', async () => {
    const cri = node.daemon.cri;
    const before = await snapshot();
    const escape = join(tmpdir(), `berth-log-escape-${process.pid}.log`);
    const podCases: Record<string, Record<string, unknown>> = {
      'container port 70000': { port_mappings: [{ container_port: 70000, host_port: 8080 }] },
      'negative host port': { port_mappings: [{ container_port: 80, host_port: -1 }] },
      'protocol 99': { port_mappings: [{ protocol: 99, container_port: 80 }] },
      'hostname over 64 bytes': { hostname: 'h'.repeat(300) },
      'log_directory with NUL': { log_directory: '/tmp/x\0y' },
      'relative log_directory': { log_directory: 'relative/dir' },
      'sysctl climbing out of /proc/sys': { linux: { sysctls: { 'net/../../../../proc/sysrq-trigger': 'b' } } },
      'resolv.conf line injected through a DNS server': { dns_config: { servers: ['1.1.1.1\nsearch evil'] } },
      'resolv.conf line injected through a DNS option': { dns_config: { options: ['ndots:5\nnameserver 6.6.6.6'] } },
      'cgroup parent climbing with ..': { linux: { cgroup_parent: '../../../../berth-evil' } },
    };
    for (const [what, overrides] of Object.entries(podCases)) {
      await assert.rejects(cri.runtime.RunPodSandbox({ config: podConfig(node, overrides) }), (err: { code?: number }) => err.code === GrpcStatus.INVALID_ARGUMENT, what);
    }
    await assert.rejects(cri.runtime.RunPodSandbox({ config: podConfig(node), runtime_handler: '../../bin/sh' }), (err: { code?: number }) => err.code === GrpcStatus.INVALID_ARGUMENT);

    const containerCases: Record<string, Record<string, unknown>> = {
      'mount host_path with NUL': { mounts: [{ container_path: '/x', host_path: '/tmp\0' }] },
      'relative mount host_path': { mounts: [{ container_path: '/x', host_path: 'relative/path' }] },
      'relative working_dir': { working_dir: 'relative' },
      'env name with =': { envs: [{ key: 'A=B', value: 'c' }] },
      'env value with NUL': { envs: [{ key: 'A', value: 'c\0d' }] },
      'command with NUL': { command: ['sh', '-c', 'a\0b'] },
      'negative memory limit': { linux: { resources: { memory_limit_in_bytes: '-5' } } },
      'cpu shares 2^63-1': { linux: { resources: { cpu_shares: '9223372036854775807' } } },
      'cpu period of 1 µs': { linux: { resources: { cpu_period: '1', cpu_quota: '1' } } },
      'uid 2^63-1': { linux: { security_context: { run_as_user: { value: '9223372036854775807' } } } },
      'log_path climbing out of the log directory': { log_path: `../../../../../../../..${escape}` },
      'image reference with ..': { image: { image: '../../x' } },
    };
    for (const [what, overrides] of Object.entries(containerCases)) {
      const config = { metadata: { name: 'absurd' }, image: { image: BUSYBOX }, command: ['sleep', '60'], log_path: 'absurd.log', ...overrides };
      await assert.rejects(
        cri.runtime.CreateContainer({ pod_sandbox_id: podId, config }),
        (err: { code?: number }) => err.code === GrpcStatus.INVALID_ARGUMENT,
        what,
      );
    }
    await assert.rejects(
      cri.runtime.UpdateContainerResources({ container_id: containerId, linux: { cpu_quota: '5', memory_limit_in_bytes: '-1' } }),
      (err: { code?: number }) => err.code === GrpcStatus.INVALID_ARGUMENT,
    );
    assert.equal(existsSync(escape), false, 'no log file outside the pod log directory');
    assert.deepEqual(await snapshot(), before);
  });

  it('answers every RPC fed malformed and hostile messages with a clean status, stays up and changes nothing', async () => {
    const rng = new Prng(SEED);
    const strings = new HostileStrings(rng, isLive);
    const fuzzer = new MessageFuzzer({ rng, strings });
    const methods = criMethods();
    assert.equal(methods.length, 41, 'every RPC of RuntimeService and ImageService');
    const raw = new RawCriClient(node.daemon.dirs.socket);
    const before = await snapshot();

    const failures: string[] = [];
    const codeCounts = new Map<string, number>();
    let malformed = 0;
    let structured = 0;

    const makeRequest = (method: CriMethod): { bytes: Buffer; kind: string } => {
      for (;;) {
        const message = fuzzer.message(method.requestType);
        if (method.name === 'RunPodSandbox') {
          // Metadata that must be refused, so no pod is ever created; the rest of the config stays hostile.
          const config = (message['config'] ??= {}) as Record<string, unknown>;
          const bad = rng.pick(['', 'a/b', '..\0', 'n'.repeat(300)]);
          config['metadata'] = rng.chance(0.2) ? undefined : { name: bad, namespace: strings.next(), uid: strings.next(), attempt: rng.pick([0, 2 ** 32 - 1]) };
        }
        const idField = READ_ONLY_ID_FIELDS[method.name];
        if (idField && rng.chance(0.3)) message[idField] = idField === 'container_id' ? containerId : podId;
        let valid: Buffer;
        try {
          valid = method.serialize(message);
        } catch {
          continue;
        }
        if (valid.length > 15 * 1024 * 1024) continue;
        if (rng.chance(0.4)) {
          const fieldNumbers = method.requestType.field.map((f) => f.number);
          const bytes = malformedBytes(rng, valid, fieldNumbers);
          if (couldChangeState(method, bytes)) continue;
          return { bytes, kind: 'malformed' };
        }
        return { bytes: valid, kind: 'structured' };
      }
    };

    for (let sent = 0; sent < REQUESTS; ) {
      const batch: { method: CriMethod; bytes: Buffer; kind: string; index: number }[] = [];
      for (let i = 0; i < BATCH && sent < REQUESTS; i++, sent++) {
        const method = methods[sent % methods.length]!;
        batch.push({ method, ...makeRequest(method), index: sent });
      }
      let next = 0;
      const worker = async (): Promise<void> => {
        while (next < batch.length) {
          const { method, bytes, kind, index } = batch[next++]!;
          if (kind === 'malformed') malformed++;
          else structured++;
          const outcome = await raw.call(method, bytes, CALL_DEADLINE_MS);
          const key = `${method.name} ${GrpcStatus[outcome.code]}`;
          codeCounts.set(key, (codeCounts.get(key) ?? 0) + 1);
          if (!allowedCodes(method).has(outcome.code)) {
            failures.push(`#${index} ${method.name} (${kind}, ${bytes.length} bytes, hex ${bytes.subarray(0, 48).toString('hex')}): ${GrpcStatus[outcome.code]} ${outcome.details.slice(0, 300)}`);
          }
        }
      };
      await Promise.all(Array.from({ length: CONCURRENCY }, worker));
      assert.equal(node.daemon.process.exitCode, null, `berthd exited after request ${sent}: ${node.daemon.output().slice(-2000)}`);
      const version = await node.daemon.cri.runtime.Version({ version: '0.1.0' }, 10_000);
      assert.equal(version.runtime_name, 'berth');
    }
    raw.close();

    const afterState = await snapshot();
    assert.deepEqual(afterState, before, 'hostile requests changed what the daemon lists');
    const status = await node.daemon.cri.runtime.ContainerStatus({ container_id: containerId });
    assert.equal(status.status?.state, 'CONTAINER_RUNNING');

    if (failures.length > 0) {
      const counts = [...codeCounts.entries()].sort().map(([k, n]) => `${k}: ${n}`).join('\n');
      assert.fail(`${failures.length} requests got an unexpected status (seed ${SEED}):\n${failures.slice(0, 40).join('\n')}\n--- all outcomes ---\n${counts}`);
    }
    if (process.env['BERTH_FUZZ_VERBOSE']) console.log([...codeCounts.entries()].sort().map(([k, n]) => `${k}: ${n}`).join('\n'));
    console.log(
      `reliability: hostile-rpc: ${malformed + structured} requests fuzzed (${malformed} malformed, ${structured} hostile) over ${methods.length} RPCs, seed ${SEED}, 0 crashes`,
    );
  });
});
