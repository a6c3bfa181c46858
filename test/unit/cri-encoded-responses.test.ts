/**
 * ListContainers, ListPodSandbox and ContainerStatus answer with bytes cached
 * per record. These tests hold them to what encoding the response objects on
 * every call gives (the way the handlers answered before), byte for byte and
 * decoded, over many shapes of records and filters, on real metadata tables
 * and a real exit monitor.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { openMetadataDb, type Db } from '../../src/core/metadata/db.js';
import { openContainerTable, openSandboxTable, type ContainerRecord, type SandboxRecord } from '../../src/core/metadata/records.js';
import { TaskService } from '../../src/core/runtime/task-service.js';
import { listContainers } from '../../src/cri/container-list.js';
import { refreshContainer } from '../../src/cri/container-state.js';
import { containerStatus } from '../../src/cri/container-status.js';
import { containerConfig, stateName, toCriContainer, toCriContainerStatus } from '../../src/cri/container-view.js';
import type { CriContext } from '../../src/cri/context.js';
import { EncodedResponse, passEncodedResponses } from '../../src/cri/encoded-response.js';
import { loadCriProto } from '../../src/cri/proto.js';
import { listPodSandbox } from '../../src/cri/sandbox-list.js';
import { liveSandboxState } from '../../src/cri/sandbox-state.js';
import { sandboxConfig, toCriSandbox } from '../../src/cri/sandbox-view.js';
import type { RuntimeServices } from '../../src/cri/runtime-services.js';
import type { ListContainersRequest__Output } from '../../src/gen/cri/runtime/v1/ListContainersRequest.js';
import type { ListPodSandboxRequest__Output } from '../../src/gen/cri/runtime/v1/ListPodSandboxRequest.js';
import type { PodSandbox } from '../../src/gen/cri/runtime/v1/PodSandbox.js';

const service = loadCriProto().runtime.v1.RuntimeService.service;
const base = mkdtempSync(join(tmpdir(), 'berth-encoded-'));
const hex = (n: number): string => n.toString(16).padStart(64, '0');
/** Ids whose first character tells them apart, as crictl's short prefixes expect. */
const sid = (n: number): string => n.toString(16) + 'a'.repeat(63);
const cid = (n: number): string => n.toString(16) + 'c'.repeat(63);
const T0 = 1_763_900_000_123_456_789n;

/** A config as berth stores it: the request decoded by the server (defaults filled in). */
function decodedContainerConfig(config: object): unknown {
  const m = service.CreateContainer;
  return m.requestDeserialize(m.requestSerialize({ pod_sandbox_id: 'x', config })).config;
}
function decodedSandboxConfig(config: object): unknown {
  const m = service.RunPodSandbox;
  return m.requestDeserialize(m.requestSerialize({ config })).config;
}

let db: Db;
let tasks: TaskService;
let rt: RuntimeServices;
let ctx: CriContext;

function writeExit(id: string, code: number): void {
  const dir = join(base, 'state', 'exits');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, id), String(code));
}

function sandbox(n: number, over: Partial<SandboxRecord> & { cfg?: object } = {}): SandboxRecord {
  const { cfg, ...rest } = over;
  return {
    id: sid(n),
    name: `pod-${n}`,
    config: decodedSandboxConfig({
      metadata: { name: `pod-${n}`, namespace: 'ns', uid: `uid-${n}`, attempt: n % 3 },
      hostname: `pod-${n}`,
      log_directory: `/var/log/pods/${n}`,
      ...cfg,
    }),
    runtimeHandler: n % 2 ? 'runc' : '',
    state: 'ready',
    netnsPath: `/var/run/netns/cni-${n}`,
    ips: [`10.0.0.${n}`],
    pid: 1000 + n,
    imageId: `sha256:${hex(0xabc)}`,
    createdAt: T0 + BigInt(n) * 1_000_000n,
    extra: {},
    ...rest,
  };
}

function container(n: number, sandboxId: string, over: Partial<ContainerRecord> & { cfg?: object } = {}): ContainerRecord {
  const { cfg, ...rest } = over;
  return {
    id: cid(n),
    sandboxId,
    name: `c-${n}`,
    config: decodedContainerConfig({
      metadata: { name: `c-${n}`, attempt: n % 2 },
      image: { image: 'registry.k8s.io/e2e-test-images/busybox:1.29-2' },
      command: ['sleep', '1000'],
      log_path: `c-${n}.log`,
      linux: {},
      ...cfg,
    }),
    imageId: `sha256:${hex(0xdef)}`,
    imageRef: 'registry.k8s.io/e2e-test-images/busybox:1.29-2',
    state: 'running',
    pid: 2000 + n,
    createdAt: T0 + BigInt(n) * 7_000_001n,
    startedAt: T0 + BigInt(n) * 7_000_001n + 999n,
    finishedAt: 0n,
    exitCode: 0,
    reason: '',
    message: '',
    logPath: `/var/log/pods/x/c-${n}.log`,
    extra: {},
    ...rest,
  };
}

/** The handlers as they were before the cache: build objects, encode them whole. */
const reference = {
  listContainers(req: ListContainersRequest__Output): Buffer {
    const f = req.filter;
    const out = [];
    for (const record of rt.containers.all()) {
      if (f?.id && !record.id.startsWith(f.id)) continue;
      if (f?.pod_sandbox_id && !record.sandboxId.startsWith(f.pod_sandbox_id)) continue;
      const labels = containerConfig(record).labels;
      if (f?.label_selector && !Object.entries(f.label_selector).every(([k, v]) => labels[k] === v)) continue;
      const c = refreshContainer(rt, record);
      if (f?.state && f.state.state !== stateName(c)) continue;
      out.push(toCriContainer(c));
    }
    return service.ListContainers.responseSerialize({ containers: out });
  },
  listPodSandbox(req: ListPodSandboxRequest__Output): Buffer {
    const filter = req.filter;
    const out: PodSandbox[] = [];
    for (const s of rt.sandboxes.all()) {
      if (filter?.id && !s.id.startsWith(filter.id)) continue;
      const labels = sandboxConfig(s).labels;
      if (filter?.label_selector && !Object.entries(filter.label_selector).every(([k, v]) => labels[k] === v)) continue;
      const state = liveSandboxState(rt, s);
      if (filter?.state && filter.state.state !== state) continue;
      out.push(toCriSandbox(s, state));
    }
    out.sort((a, b) => (BigInt(String(b.created_at)) > BigInt(String(a.created_at)) ? 1 : -1));
    return service.ListPodSandbox.responseSerialize({ items: out });
  },
  containerStatus(id: string, verbose: boolean): Buffer {
    const c = refreshContainer(rt, rt.containers.get(id)!);
    const info: Record<string, string> = {};
    if (verbose) {
      const s = rt.sandboxes.get(c.sandboxId);
      info.info = JSON.stringify({
        sandboxID: c.sandboxId,
        pid: c.state === 'running' ? c.pid : 0,
        removing: false,
        snapshotKey: c.id,
        runtimeType: s?.runtimeHandler ?? ctx.config.default_runtime,
        bundle: rt.tasks.bundleDir(c.id),
        config: containerConfig(c),
      });
    }
    return service.ContainerStatus.responseSerialize({ status: toCriContainerStatus(c), info });
  },
};

function bytesOf(response: unknown): Buffer {
  assert.ok(response instanceof EncodedResponse, 'the handler answers with encoded bytes');
  return response.bytes;
}

/** Byte-identical, and so decoded identically by any client; the decoded form is compared too for readable failures. */
function assertSameWire(fast: Buffer, slow: Buffer, decode: (b: Buffer) => unknown, what: string): void {
  assert.deepEqual(decode(fast), decode(slow), what);
  assert.ok(fast.equals(slow), `${what}: same bytes`);
}

const containerFilters = (): Array<ListContainersRequest__Output['filter']> => [
  null,
  { id: '', state: null, pod_sandbox_id: '', label_selector: {} },
  { id: cid(3), state: null, pod_sandbox_id: '', label_selector: {} },
  { id: cid(3).slice(0, 1), state: null, pod_sandbox_id: '', label_selector: {} },
  { id: 'ffff', state: null, pod_sandbox_id: '', label_selector: {} },
  { id: '', state: { state: 'CONTAINER_RUNNING' }, pod_sandbox_id: '', label_selector: {} },
  { id: '', state: { state: 'CONTAINER_EXITED' }, pod_sandbox_id: '', label_selector: {} },
  { id: '', state: { state: 'CONTAINER_CREATED' }, pod_sandbox_id: '', label_selector: {} },
  { id: '', state: null, pod_sandbox_id: sid(1), label_selector: {} },
  { id: '', state: null, pod_sandbox_id: sid(2).slice(0, 1), label_selector: { tier: 'web' } },
  { id: '', state: null, pod_sandbox_id: '', label_selector: { tier: 'web' } },
  { id: '', state: null, pod_sandbox_id: '', label_selector: { tier: 'web', 'app.kubernetes.io/name': 'ünïcode ✓' } },
  { id: '', state: { state: 'CONTAINER_RUNNING' }, pod_sandbox_id: '', label_selector: { tier: 'db' } },
];

const sandboxFilters = (): Array<ListPodSandboxRequest__Output['filter']> => [
  null,
  { id: '', state: null, label_selector: {} },
  { id: sid(2), state: null, label_selector: {} },
  { id: sid(2).slice(0, 3), state: null, label_selector: {} },
  { id: 'nope', state: null, label_selector: {} },
  { id: '', state: { state: 'SANDBOX_READY' }, label_selector: {} },
  { id: '', state: { state: 'SANDBOX_NOTREADY' }, label_selector: {} },
  { id: '', state: null, label_selector: { team: 'a' } },
  { id: '', state: { state: 'SANDBOX_READY' }, label_selector: { team: 'a', env: 'prod' } },
];

describe('encoded list and status responses', () => {
  before(async () => {
    db = openMetadataDb(join(base, 'metadata.db'));
    tasks = new TaskService({ stateDir: join(base, 'state'), runtimes: { runc: { path: 'runc' } }, systemdCgroup: false });
    rt = { tasks, sandboxes: openSandboxTable(db), containers: openContainerTable(db) } as unknown as RuntimeServices;
    ctx = { runtime: rt, config: { default_runtime: 'runc' } } as unknown as CriContext;

    const pods = [
      sandbox(1, { cfg: { labels: { team: 'a', env: 'prod' }, annotations: { 'kubernetes.io/config.seen': '2025-01-01T00:00:00Z', empty: '' } } }),
      sandbox(2, { cfg: { labels: { team: 'a' }, linux: { security_context: { namespace_options: { network: 'NODE', pid: 'CONTAINER', ipc: 'POD' } } } } }),
      sandbox(3, { state: 'notready', ips: [], netnsPath: '', cfg: { labels: { team: 'b' }, annotations: { long: 'x'.repeat(5000) } } }),
      // Same creation time as pod 4: the sort must keep the order the objects had.
      sandbox(4, { createdAt: T0 + 5_000_000n, cfg: { port_mappings: [{ protocol: 'UDP', container_port: 53, host_port: 5353, host_ip: '' }] } }),
      sandbox(5, { ips: ['10.0.0.5', 'fd00::5'], cfg: { labels: { 'app.kubernetes.io/name': 'ünïcode ✓' } } }),
      // Ready in the record, but its pause process exited: the list records it not ready.
      sandbox(6, { cfg: { labels: { team: 'a', env: 'prod' } } }),
      sandbox(7, { createdAt: 0n }),
    ];
    for (const p of pods) rt.sandboxes.insert(p);
    const [p1, p2, p3, p4, p5, p6] = pods.map((p) => p.id);
    const containers = [
      container(1, p1!, { cfg: { labels: { tier: 'web', 'app.kubernetes.io/name': 'ünïcode ✓' }, annotations: { 'io.kubernetes.container.hash': 'abc', 'io.kubernetes.container.restartCount': '0' } } }),
      container(2, p1!, {
        cfg: {
          labels: { tier: 'db' },
          image: { image: 'docker.io/library/redis:7', annotations: { 'io.kubernetes.image.pinned': 'true' }, user_specified_image: 'redis:7' },
          mounts: [
            { container_path: '/data', host_path: '/var/lib/data', readonly: false, selinux_relabel: false, propagation: 'PROPAGATION_PRIVATE' },
            { container_path: '/etc/config', host_path: '/etc/cfg', readonly: true, propagation: 'PROPAGATION_HOST_TO_CONTAINER', recursive_read_only: true },
            { container_path: '/shared', host_path: '/mnt/shared', propagation: 'PROPAGATION_BIDIRECTIONAL', uid_mappings: [{ host_id: 1000, container_id: 0, length: 1 }] },
          ],
          linux: { resources: { cpu_period: '100000', cpu_quota: '50000', cpu_shares: '512', memory_limit_in_bytes: '268435456', oom_score_adj: '-997', cpuset_cpus: '0-1', unified: { 'memory.high': '200000000' }, hugepage_limits: [{ page_size: '2MB', limit: '0' }] } },
        },
        imageRef: `docker.io/library/redis@sha256:${hex(0x1234)}`,
        extra: { user: { uid: 999, gid: 999, supplementalGroups: [1000, 1001] }, stopSignal: 'SIGQUIT' },
      }),
      container(3, p2!, { state: 'created', startedAt: 0n, pid: 0, cfg: { labels: { tier: 'web' } } }),
      container(4, p2!, { state: 'exited', exitCode: 137, reason: 'OOMKilled', message: 'the OOM killer ended it', finishedAt: T0 + 99_999_999_999n }),
      container(5, p3!, { state: 'exited', exitCode: 0, reason: 'Completed', finishedAt: T0 + 1n, cfg: { labels: { tier: 'web' } } }),
      container(6, p4!, { state: 'unknown', cfg: { annotations: { note: 'état inconnu' } } }),
      container(7, p5!, { logPath: '', cfg: { log_path: '' } }),
      // Running in the record, but exited meanwhile: the first call records the exit.
      container(8, p6!, { cfg: { labels: { tier: 'web' } } }),
      container(9, p6!, { createdAt: 0n, startedAt: 0n }),
    ];
    for (const c of containers) rt.containers.insert(c);
    writeExit(cid(8), 3);
    writeExit(sid(6), 0);
    await tasks.exits.start();
  });

  after(() => {
    tasks.exits.close();
    db.close();
    rmSync(base, { recursive: true, force: true });
  });

  it('ListContainers: the same bytes as encoding the list whole, for every filter, before and after an exit is recorded', async () => {
    const decode = service.ListContainers.responseDeserialize;
    const exited = cid(8);
    assert.equal(rt.containers.get(exited)!.state, 'running');
    const fast = bytesOf(await listContainers(ctx, { filter: null }));
    // The call recorded the exit it found in the monitor.
    assert.equal(rt.containers.get(exited)!.state, 'exited');
    assertSameWire(fast, reference.listContainers({ filter: null }), decode, 'unfiltered, with an exit recorded on the way');
    for (const filter of containerFilters()) {
      for (let round = 0; round < 2; round++) {
        const what = `filter ${JSON.stringify(filter)} round ${round}`;
        assertSameWire(bytesOf(await listContainers(ctx, { filter })), reference.listContainers({ filter }), decode, what);
      }
    }
    const all = decode(fast).containers;
    assert.equal(all.length, 9);
    const byId = new Map(all.map((c) => [c.id, c]));
    for (const record of rt.containers.all()) assert.equal(byId.get(record.id)?.created_at, record.createdAt.toString(), 'created_at travels unchanged');
    assert.equal(byId.get(exited)?.state, 'CONTAINER_EXITED');
    assert.equal(decode(bytesOf(await listContainers(ctx, { filter: containerFilters()[4]! }))).containers.length, 0);
  });

  it('ListContainers: a changed record is answered fresh, never from its old bytes', async () => {
    const decode = service.ListContainers.responseDeserialize;
    const id = cid(1);
    const before = decode(bytesOf(await listContainers(ctx, { filter: null })));
    rt.containers.update(id, (r) => ({ ...r, state: 'exited', exitCode: 2, reason: 'Error', finishedAt: T0 + 5n }));
    const after = decode(bytesOf(await listContainers(ctx, { filter: null })));
    assert.equal(before.containers.find((c) => c.id === id)?.state, 'CONTAINER_RUNNING');
    assert.equal(after.containers.find((c) => c.id === id)?.state, 'CONTAINER_EXITED');
    assertSameWire(bytesOf(await listContainers(ctx, { filter: null })), reference.listContainers({ filter: null }), decode, 'after the update');
    rt.containers.update(id, (r) => ({ ...r, state: 'running', exitCode: 0, reason: '', finishedAt: 0n }));
  });

  it('ListPodSandbox: the same bytes and order as encoding the sorted list whole, for every filter', async () => {
    const decode = service.ListPodSandbox.responseDeserialize;
    const exited = sid(6);
    assert.equal(rt.sandboxes.get(exited)!.state, 'ready');
    const fast = bytesOf(await listPodSandbox(ctx, { filter: null }));
    assert.equal(rt.sandboxes.get(exited)!.state, 'notready');
    assertSameWire(fast, reference.listPodSandbox({ filter: null }), decode, 'unfiltered, with an exit recorded on the way');
    for (const filter of sandboxFilters()) {
      for (let round = 0; round < 2; round++) {
        assertSameWire(bytesOf(await listPodSandbox(ctx, { filter })), reference.listPodSandbox({ filter }), decode, `filter ${JSON.stringify(filter)} round ${round}`);
      }
    }
    const items = decode(fast).items;
    assert.equal(items.length, 7);
    assert.deepEqual(items.map((s) => s.created_at), [...rt.sandboxes.all()].map((s) => s.createdAt).sort((a, b) => (a < b ? 1 : a > b ? -1 : 0)).map(String), 'newest first, times unchanged');
    assert.equal(items.find((s) => s.id === exited)?.state, 'SANDBOX_NOTREADY');
    rt.sandboxes.update(sid(1), (r) => ({ ...r, state: 'notready' }));
    assertSameWire(bytesOf(await listPodSandbox(ctx, { filter: null })), reference.listPodSandbox({ filter: null }), decode, 'after an update');
    rt.sandboxes.update(sid(1), (r) => ({ ...r, state: 'ready' }));
  });

  it('ContainerStatus: the same bytes as encoding the status whole, verbose or not, for every shape of container', async () => {
    const decode = service.ContainerStatus.responseDeserialize;
    for (const record of rt.containers.all()) {
      for (const verbose of [false, true, false]) {
        const fast = bytesOf(await containerStatus(ctx, { container_id: record.id, verbose }));
        assertSameWire(fast, reference.containerStatus(record.id, verbose), decode, `${record.name} verbose=${verbose}`);
        const status = decode(fast).status!;
        const current = rt.containers.get(record.id)!;
        assert.deepEqual([status.created_at, status.started_at, status.finished_at], [current.createdAt, current.startedAt, current.finishedAt].map(String));
        assert.equal(Object.keys(decode(fast).info).length, verbose ? 1 : 0);
      }
    }
    const byPrefix = bytesOf(await containerStatus(ctx, { container_id: cid(2).slice(0, 2), verbose: false }));
    assertSameWire(byPrefix, reference.containerStatus(cid(2), false), decode, 'by id prefix');
    await assert.rejects(containerStatus(ctx, { container_id: 'f'.repeat(64), verbose: false }), /not found/);
  });

  it('the server sends an EncodedResponse as it is and encodes any other response as before', () => {
    const wrapped = passEncodedResponses(service);
    const bytes = Buffer.from([0x0a, 0x00]);
    assert.equal(wrapped['ListContainers']!.responseSerialize(new EncodedResponse(bytes)), bytes);
    const response = { version: '0.1.0', runtime_name: 'berth', runtime_version: '0.1.0', runtime_api_version: 'v1' };
    assert.ok(wrapped['Version']!.responseSerialize(response).equals(service.Version.responseSerialize(response)));
  });
});
