/**
 * Load: 8 clients at once create and delete pods with a container each for a
 * bounded time (BERTH_LOAD_SECONDS, default 60), as kubelets of a busy node
 * would, while also listing and inspecting. Every call either succeeds or
 * fails for a reason berth documents for load (RESOURCE_EXHAUSTED,
 * UNAVAILABLE, DEADLINE_EXCEEDED); afterwards nothing is left behind.
 */
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { status as GrpcStatus } from '@grpc/grpc-js';
import { BUSYBOX, removeAllPods } from '../support/cluster.js';
import { findLeaks, formatLeaks, leakCount } from '../support/leaks.js';
import { printSummary, startReliabilityNode, type ReliabilityNode } from '../support/reliability.js';

const CLIENTS = 8;
const SECONDS = Number(process.env.BERTH_LOAD_SECONDS ?? 60);
/** What berth answers when it is overloaded or a call outlives its deadline; nothing else may fail. */
const DOCUMENTED_UNDER_LOAD = new Set([GrpcStatus.RESOURCE_EXHAUSTED, GrpcStatus.UNAVAILABLE, GrpcStatus.DEADLINE_EXCEEDED]);
/** Per call, as kubelet's default runtime request timeout (2 minutes) would be too patient for a test. */
const CALL_TIMEOUT_MS = 60_000;

interface Failure {
  method: string;
  code: number;
  message: string;
}

function codeName(code: number): string {
  return GrpcStatus[code] ?? String(code);
}

describe('load: 8 clients creating and deleting pods', () => {
  let r: ReliabilityNode;
  const failures: Failure[] = [];
  const calls = new Map<string, number>();
  let cycles = 0;
  let leaksFound = 0;

  /** Runs one CRI call, counting it; a failure is recorded and rethrown. */
  async function call<T>(method: string, fn: () => Promise<T>): Promise<T> {
    calls.set(method, (calls.get(method) ?? 0) + 1);
    try {
      return await fn();
    } catch (err) {
      const e = err as { code?: number; details?: string; message: string };
      failures.push({ method, code: e.code ?? GrpcStatus.UNKNOWN, message: e.details ?? e.message });
      throw err;
    }
  }

  async function cycle(client: number, n: number): Promise<void> {
    const rt = r.node.daemon.cri.runtime;
    const config = r.pod();
    const { pod_sandbox_id } = await call('RunPodSandbox', () => rt.RunPodSandbox({ config }, CALL_TIMEOUT_MS));
    try {
      const { container_id } = await call('CreateContainer', () =>
        rt.CreateContainer(
          {
            pod_sandbox_id,
            sandbox_config: config,
            config: { metadata: { name: `load-${client}-${n}` }, image: { image: BUSYBOX }, command: ['sleep', '3600'], log_path: 'c.log' },
          },
          CALL_TIMEOUT_MS,
        ),
      );
      await call('StartContainer', () => rt.StartContainer({ container_id }, CALL_TIMEOUT_MS));
      const status = await call('ContainerStatus', () => rt.ContainerStatus({ container_id }, CALL_TIMEOUT_MS));
      assert.equal(status.status!.state, 'CONTAINER_RUNNING');
      await call('ListContainers', () => rt.ListContainers({ filter: { pod_sandbox_id } }, CALL_TIMEOUT_MS));
      await call('ListPodSandbox', () => rt.ListPodSandbox({}, CALL_TIMEOUT_MS));
      // Half the cycles take the container down first, as kubelet does when a pod is deleted.
      if (n % 2 === 0) {
        await call('StopContainer', () => rt.StopContainer({ container_id, timeout: '2' }, CALL_TIMEOUT_MS));
        await call('RemoveContainer', () => rt.RemoveContainer({ container_id }, CALL_TIMEOUT_MS));
      }
    } finally {
      await call('StopPodSandbox', () => rt.StopPodSandbox({ pod_sandbox_id }, CALL_TIMEOUT_MS));
      await call('RemovePodSandbox', () => rt.RemovePodSandbox({ pod_sandbox_id }, CALL_TIMEOUT_MS));
    }
    cycles++;
  }

  async function client(id: number, deadline: number): Promise<number> {
    let done = 0;
    for (let n = 0; Date.now() < deadline; n++) {
      try {
        await cycle(id, n);
        done++;
      } catch (err) {
        // gRPC failures are recorded by call(); anything else (an assertion) ends the client.
        if (typeof (err as { code?: unknown }).code !== 'number') throw err;
      }
    }
    return done;
  }

  function openFds(pid: number): number {
    return readdirSync(`/proc/${pid}/fd`).length;
  }

  before(async () => {
    r = await startReliabilityNode({ netIndex: 46 });
    await r.node.daemon.cri.image.PullImage({ image: { image: BUSYBOX } });
  });

  after(async () => {
    const byCode = new Map<string, number>();
    for (const f of failures) byCode.set(codeName(f.code), (byCode.get(codeName(f.code)) ?? 0) + 1);
    printSummary('load', {
      clients: CLIENTS,
      seconds: SECONDS,
      'pod cycles': cycles,
      calls: [...calls.values()].reduce((a, b) => a + b, 0),
      'failed calls': failures.length === 0 ? 0 : [...byCode].map(([c, n]) => `${c}=${n}`).join(' '),
      'leaks found': leaksFound,
    });
    await r?.stop();
  });

  it(`${CLIENTS} clients for ${SECONDS} s: every failure documented, nothing leaked`, async () => {
    const pid = r.node.daemon.process.pid!;
    const fdsBefore = openFds(pid);
    const deadline = Date.now() + SECONDS * 1000;
    const perClient = await Promise.all(Array.from({ length: CLIENTS }, (_, i) => client(i, deadline)));

    const undocumented = failures.filter((f) => !DOCUMENTED_UNDER_LOAD.has(f.code));
    if (undocumented.length > 0) {
      const failedRpcs = r.daemonLogs().split('\n').filter((line) => / rpc .*code="(?!OK")/.test(line));
      process.stderr.write(`berthd's failed calls:\n${failedRpcs.slice(-50).join('\n')}\n`);
    }
    assert.deepEqual(
      undocumented.map((f) => `${f.method}: ${codeName(f.code)} ${f.message}`),
      [],
      'calls failed for reasons berth does not document for load',
    );
    assert.ok(perClient.every((n) => n > 0), `every client completed a pod cycle (${perClient.join(', ')})`);
    assert.equal(r.node.daemon.process.exitCode, null, 'berthd is still up');
    // A pod whose removal failed for a documented reason is removed again, as kubelet retries.
    await removeAllPods(r.node.daemon);

    const leaks = await findLeaks(r.scope);
    leaksFound = leakCount(leaks);
    assert.equal(leaksFound, 0, `left behind after the load:\n${formatLeaks(leaks)}`);
    // A handful of descriptors come and go (connections, watchers); one per pod or call would be hundreds.
    const fdsAfter = openFds(pid);
    assert.ok(fdsAfter <= fdsBefore + 16, `berthd held ${fdsBefore} descriptors before the load and ${fdsAfter} after`);
  });
});
