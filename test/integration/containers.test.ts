import assert from 'node:assert/strict';
import { readFile, rename, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { status as GrpcStatus } from '@grpc/grpc-js';
import { startDaemon } from '../support/daemon.js';
import { crictl } from '../support/exec.js';
import { BUSYBOX, podConfig, runInPod, startNode, type TestNode } from '../support/cluster.js';
import { waitForContainerExit, waitUntil } from '../support/wait.js';

const NONEWPRIVS = 'registry.k8s.io/e2e-test-images/nonewprivs:1.3';

function code(err: unknown): number | undefined {
  return (err as { code?: number }).code;
}

describe('containers', () => {
  let node: TestNode;
  let podId: string;
  let pod: ReturnType<typeof podConfig>;

  const run = (name: string, config: Record<string, unknown>, start = true): Promise<string> => runInPod(node.daemon, podId, pod, name, config, start);

  const exited = (id: string) => waitForContainerExit(node.daemon.cri.runtime, id);

  before(async () => {
    node = await startNode({ netIndex: 2, images: ['pause', 'busybox', 'nonewprivs'] });
    await node.daemon.cri.image.PullImage({ image: { image: BUSYBOX } });
    await node.daemon.cri.image.PullImage({ image: { image: NONEWPRIVS } });
    pod = podConfig(node);
    podId = (await node.daemon.cri.runtime.RunPodSandbox({ config: pod })).pod_sandbox_id;
  });

  after(async () => {
    await node?.stop();
  });

  it('runs a container and reports its lifecycle, logs and exit code', async () => {
    const id = await run('lifecycle', { command: ['sh', '-c', 'echo to-stdout; echo to-stderr >&2; exit 3'], labels: { role: 'test' } });
    const status = await exited(id);
    assert.equal(status.exit_code, 3);
    assert.equal(status.reason, 'Error');
    assert.ok(BigInt(String(status.finished_at)) >= BigInt(String(status.started_at)));
    assert.ok(BigInt(String(status.started_at)) >= BigInt(String(status.created_at)));
    assert.equal(status.log_path, join(pod.log_directory, 'lifecycle.log'));
    const log = await readFile(status.log_path, 'utf8');
    assert.match(log, /^\S+ stdout F to-stdout$/m);
    assert.match(log, /^\S+ stderr F to-stderr$/m);
    const logs = await crictl(node.daemon.dirs.socket, ['logs', id]);
    assert.match(logs.stdout, /to-stdout/);
    assert.match(logs.stderr, /to-stderr/);
    const listed = await node.daemon.cri.runtime.ListContainers({ filter: { label_selector: { role: 'test' } } });
    assert.deepEqual(listed.containers.map((c) => c.id), [id]);
    const ps = await crictl(node.daemon.dirs.socket, ['ps', '-a', '--id', id.slice(0, 12)]);
    assert.match(ps.stdout, /Exited/);
    await node.daemon.cri.runtime.RemoveContainer({ container_id: id });
    await assert.rejects(node.daemon.cri.runtime.ContainerStatus({ container_id: id }), (err) => code(err) === GrpcStatus.NOT_FOUND);
  });

  it('crictl create, start, exec, stop and rm', async () => {
    const id = await run('crictl', { command: ['sleep', '1000'] }, false);
    const sock = node.daemon.dirs.socket;
    assert.equal((await crictl(sock, ['start', id])).code, 0);
    const exec = await crictl(sock, ['exec', '-s', id, 'sh', '-c', 'echo out; echo err >&2; exit 7']);
    // crictl exits 1 and names the command's exit code.
    assert.notEqual(exec.code, 0);
    assert.match(exec.stderr, /exited with 7: err/);
    const ok = await crictl(sock, ['exec', '-s', id, 'sh', '-c', 'echo out']);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /out/);
    const split = await node.daemon.cri.runtime.ExecSync({ container_id: id, cmd: ['sh', '-c', 'echo out; echo err >&2; exit 5'], timeout: 10 });
    assert.equal(split.exit_code, 5);
    assert.equal(split.stdout.toString(), 'out\n');
    assert.equal(split.stderr.toString(), 'err\n');
    const res = await node.daemon.cri.runtime.ExecSync({ container_id: id, cmd: ['sh', '-c', 'head -c 3000000 /dev/zero'], timeout: 10 });
    assert.equal(res.stdout.length, 3_000_000);
    await assert.rejects(
      node.daemon.cri.runtime.ExecSync({ container_id: id, cmd: ['sleep', '30'], timeout: 1 }),
      (err) => code(err) === GrpcStatus.DEADLINE_EXCEEDED,
    );
    const inspect = JSON.parse((await crictl(sock, ['inspect', id])).stdout) as { status: { state: string }; info: { pid: number } };
    assert.equal(inspect.status.state, 'CONTAINER_RUNNING');
    assert.ok(inspect.info.pid > 0);
    assert.equal((await crictl(sock, ['stop', '--timeout', '1', id])).code, 0);
    assert.equal((await crictl(sock, ['rm', id])).code, 0);
  });

  it('removing a created, never started container leaves no exit record behind', async () => {
    const rt = node.daemon.cri.runtime;
    const { container_id } = await rt.CreateContainer({
      pod_sandbox_id: podId,
      sandbox_config: pod,
      config: { metadata: { name: 'never-started' }, image: { image: BUSYBOX }, command: ['sleep', '1000'] },
    });
    await rt.RemoveContainer({ container_id });
    // conmon records the kill asynchronously; give a late write the time to appear.
    await new Promise((r) => setTimeout(r, 500));
    await assert.rejects(stat(join(node.daemon.dirs.state, 'exits', container_id)), { code: 'ENOENT' });
  });

  it('refuses the same container name twice in a pod and bad requests', async () => {
    const id = await run('dup', { command: ['sleep', '1000'] }, false);
    await assert.rejects(run('dup', { command: ['true'] }, false), (err: Error) => code(err) === GrpcStatus.ALREADY_EXISTS && err.message.includes(id));
    await assert.rejects(run('no-image', { image: { image: 'never-pulled:1' } }, false), (err) => code(err) === GrpcStatus.NOT_FOUND);
    await assert.rejects(
      node.daemon.cri.runtime.CreateContainer({ pod_sandbox_id: 'a'.repeat(64), config: { metadata: { name: 'x' }, image: { image: BUSYBOX } } }),
      (err) => code(err) === GrpcStatus.NOT_FOUND,
    );
    await assert.rejects(node.daemon.cri.runtime.CreateContainer({ pod_sandbox_id: podId, config: null }), (err) => code(err) === GrpcStatus.INVALID_ARGUMENT);
    await assert.rejects(node.daemon.cri.runtime.StartContainer({ container_id: 'b'.repeat(64) }), (err) => code(err) === GrpcStatus.NOT_FOUND);
    await node.daemon.cri.runtime.RemoveContainer({ container_id: id });
    await node.daemon.cri.runtime.RemoveContainer({ container_id: id });
  });

  it('stop of a container that ignores SIGTERM ends by SIGKILL after the timeout', async () => {
    const id = await run('stubborn', { command: ['sh', '-c', "trap '' TERM; echo ready; while true; do sleep 1; done"] });
    await waitUntil(async () => (await readFile(join(pod.log_directory, 'stubborn.log'), 'utf8').catch(() => '')).includes('ready'), 'ready');
    const started = Date.now();
    await node.daemon.cri.runtime.StopContainer({ container_id: id, timeout: 2 });
    const elapsed = Date.now() - started;
    const { status } = await node.daemon.cri.runtime.ContainerStatus({ container_id: id });
    assert.equal(status!.state, 'CONTAINER_EXITED');
    assert.equal(status!.exit_code, 137);
    assert.ok(elapsed >= 1900, `SIGKILL came only after the grace period (${elapsed} ms)`);
    await node.daemon.cri.runtime.StopContainer({ container_id: id, timeout: 2 }); // idempotent
    await node.daemon.cri.runtime.RemoveContainer({ container_id: id });
  });

  it('a container allocating past its memory limit is reported OOMKilled', async () => {
    const id = await run('oom', {
      command: ['sh', '-c', 'x=a; while true; do x=$x$x; done'],
      linux: { resources: { memory_limit_in_bytes: 32 * 1024 * 1024 } },
    });
    const status = await exited(id);
    assert.equal(status.reason, 'OOMKilled');
    assert.equal(status.exit_code, 137);
    await node.daemon.cri.runtime.RemoveContainer({ container_id: id });
  });

  it('enforces security contexts: read-only rootfs, dropped capability, no_new_privs', async () => {
    const ro = await run('readonly', { command: ['sh', '-c', 'touch /newfile'], linux: { security_context: { readonly_rootfs: true } } });
    assert.notEqual((await exited(ro)).exit_code, 0);
    const caps = await run('nochown', {
      command: ['sh', '-c', 'touch /tmp/f && chown 1000 /tmp/f'],
      linux: { security_context: { capabilities: { drop_capabilities: ['CHOWN'] } } },
    });
    assert.notEqual((await exited(caps)).exit_code, 0);
    const allowed = await run('chown', { command: ['sh', '-c', 'touch /tmp/f && chown 1000 /tmp/f'] });
    assert.equal((await exited(allowed)).exit_code, 0);
    for (const [name, nnp, expected] of [['nnp-on', true, 'Effective uid: 1000'], ['nnp-off', false, 'Effective uid: 0']] as const) {
      const id = await run(name, { image: { image: NONEWPRIVS }, linux: { security_context: { no_new_privs: nnp } } });
      await exited(id);
      const log = await readFile(join(pod.log_directory, `${name}.log`), 'utf8');
      assert.match(log, new RegExp(expected), log);
    }
  });

  it('UpdateContainerResources changes the cgroup value live', async () => {
    const id = await run('update', { command: ['sleep', '1000'], linux: { resources: { memory_limit_in_bytes: 64 * 1024 * 1024 } } });
    const { info } = await node.daemon.cri.runtime.ContainerStatus({ container_id: id, verbose: true });
    const pid = (JSON.parse(info.info!) as { pid: number }).pid;
    const cgroupLine = (await readFile(`/proc/${pid}/cgroup`, 'utf8')).split('\n').find((l) => /:memory:/.test(l))!;
    const limitFile = join('/sys/fs/cgroup/memory', cgroupLine.split(':')[2]!, 'memory.limit_in_bytes');
    assert.equal((await readFile(limitFile, 'utf8')).trim(), String(64 * 1024 * 1024));
    await node.daemon.cri.runtime.UpdateContainerResources({ container_id: id, linux: { memory_limit_in_bytes: 96 * 1024 * 1024 } });
    assert.equal((await readFile(limitFile, 'utf8')).trim(), String(96 * 1024 * 1024));
    const { status } = await node.daemon.cri.runtime.ContainerStatus({ container_id: id });
    assert.equal(Number(status!.resources!.linux!.memory_limit_in_bytes), 96 * 1024 * 1024);
    await node.daemon.cri.runtime.RemoveContainer({ container_id: id });
  });

  it('ReopenContainerLog makes conmon write to a new file after rotation', async () => {
    const id = await run('rotate', { command: ['sh', '-c', 'i=0; while true; do echo line-$i; i=$((i+1)); sleep 0.1; done'] });
    const logPath = join(pod.log_directory, 'rotate.log');
    await waitUntil(async () => (await readFile(logPath, 'utf8').catch(() => '')).includes('line-1'), 'first lines');
    await rename(logPath, `${logPath}.1`);
    await node.daemon.cri.runtime.ReopenContainerLog({ container_id: id });
    assert.ok(await stat(logPath), 'the new log file exists when ReopenContainerLog returns');
    await waitUntil(async () => Boolean((await stat(logPath).catch(() => undefined))?.size), 'lines in the new log file');
    assert.match(await readFile(logPath, 'utf8'), /stdout F line-\d+/);
    await node.daemon.cri.runtime.RemoveContainer({ container_id: id });
  });

  it('containers keep running across kill -9 of berthd; one that exits meanwhile reports its real exit', async () => {
    const keeps = await run('keeps', { command: ['sleep', '1000'] });
    const ends = await run('ends', { command: ['sh', '-c', 'read x < /tmp/never 2>/dev/null; sleep 2; exit 42'] });
    await node.daemon.stop('SIGKILL');
    await new Promise((r) => setTimeout(r, 3000));
    node.daemon = await startDaemon({ dirs: node.daemon.dirs });
    const keepsStatus = (await node.daemon.cri.runtime.ContainerStatus({ container_id: keeps })).status!;
    assert.equal(keepsStatus.state, 'CONTAINER_RUNNING');
    const endsStatus = (await node.daemon.cri.runtime.ContainerStatus({ container_id: ends })).status!;
    assert.equal(endsStatus.state, 'CONTAINER_EXITED');
    assert.equal(endsStatus.exit_code, 42);
    const finishedMs = Number(BigInt(String(endsStatus.finished_at)) / 1_000_000n);
    assert.ok(finishedMs < Date.now() - 500, 'finish time is when it exited, not when berthd noticed');
    await node.daemon.cri.runtime.StopContainer({ container_id: keeps, timeout: 0 });
    assert.equal((await node.daemon.cri.runtime.ContainerStatus({ container_id: keeps })).status!.exit_code, 137);
  });
});
