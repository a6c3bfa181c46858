import assert from 'node:assert/strict';
import { existsSync, readlinkSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { status as GrpcStatus } from '@grpc/grpc-js';
import { startDaemon } from '../support/daemon.js';
import { crictl, run } from '../support/exec.js';
import { httpGet } from '../support/http.js';
import { BUSYBOX, podConfig, startNode, type TestNode } from '../support/cluster.js';

function code(err: unknown): number | undefined {
  return (err as { code?: number }).code;
}

async function conmonCount(stateDir: string): Promise<number> {
  const res = await run('pgrep', ['-f', `conmon.*${stateDir}`]);
  return res.stdout.split('\n').filter(Boolean).length;
}

/** The pinned network namespace of a pod, from its verbose status. */
async function netnsOf(node: TestNode, id: string): Promise<string> {
  const status = await node.daemon.cri.runtime.PodSandboxStatus({ pod_sandbox_id: id, verbose: true });
  const path = (JSON.parse(status.info.info!) as { netnsPath: string }).netnsPath;
  assert.match(path, /^\/var\/run\/netns\//);
  return path;
}

describe('pod sandboxes', () => {
  let node: TestNode;

  before(async () => {
    node = await startNode({ netIndex: 1 });
  });

  after(async () => {
    await node?.stop();
  });

  it('crictl runp, pods, inspectp, stopp and rmp a pod whose IP answers ping', async () => {
    const sock = node.daemon.dirs.socket;
    const { writeFile, mkdtemp } = await import('node:fs/promises');
    const dir = await mkdtemp('/tmp/berth-podjson-');
    const config = podConfig(node);
    await writeFile(`${dir}/pod.json`, JSON.stringify(config));
    const runp = await crictl(sock, ['runp', `${dir}/pod.json`]);
    assert.equal(runp.code, 0, runp.stderr);
    const id = runp.stdout.trim();
    assert.match(id, /^[a-f0-9]{64}$/);

    const pods = await crictl(sock, ['pods', '--name', config.metadata.name]);
    assert.match(pods.stdout, new RegExp(`${id.slice(0, 13)}.*Ready`));

    const inspect = await crictl(sock, ['inspectp', id.slice(0, 12)]);
    assert.equal(inspect.code, 0, inspect.stderr);
    const status = JSON.parse(inspect.stdout) as { status: { state: string; network: { ip: string }; labels: Record<string, string> }; info: { pid: number } };
    assert.equal(status.status.state, 'SANDBOX_READY');
    assert.match(status.status.network.ip, /^10\.234\.1\.\d+$/);
    assert.equal(status.status.labels.app, 'berth-test');
    assert.ok(status.info.pid > 0);
    const ping = await run('busybox', ['ping', '-c', '1', '-W', '2', status.status.network.ip]);
    assert.equal(ping.code, 0, ping.stdout + ping.stderr);

    const netns = await netnsOf(node, id);
    assert.ok(existsSync(netns));
    assert.equal((await crictl(sock, ['stopp', id])).code, 0);
    assert.equal((await crictl(sock, ['stopp', id])).code, 0, 'stop is idempotent');
    const stopped = await node.daemon.cri.runtime.PodSandboxStatus({ pod_sandbox_id: id });
    assert.equal(stopped.status!.state, 'SANDBOX_NOTREADY');
    assert.equal(existsSync(netns), false, 'stop removes the pod network namespace');
    assert.equal((await crictl(sock, ['rmp', id])).code, 0);
    await node.daemon.cri.runtime.RemovePodSandbox({ pod_sandbox_id: id }); // idempotent
    await assert.rejects(node.daemon.cri.runtime.PodSandboxStatus({ pod_sandbox_id: id }), (err) => code(err) === GrpcStatus.NOT_FOUND);
    await import('node:fs/promises').then((fs) => fs.rm(dir, { recursive: true, force: true }));
  });

  it('refuses the same pod metadata twice, naming the holder', async () => {
    const config = podConfig(node);
    const { pod_sandbox_id } = await node.daemon.cri.runtime.RunPodSandbox({ config });
    await assert.rejects(node.daemon.cri.runtime.RunPodSandbox({ config }), (err: Error) => {
      assert.equal(code(err), GrpcStatus.ALREADY_EXISTS);
      assert.match(err.message, new RegExp(pod_sandbox_id));
      return true;
    });
    await node.daemon.cri.runtime.StopPodSandbox({ pod_sandbox_id });
    await node.daemon.cri.runtime.RemovePodSandbox({ pod_sandbox_id });
  });

  it('UpdatePodSandboxResources records the pod-level resources in the pod config; bad requests change nothing', async () => {
    const rt = node.daemon.cri.runtime;
    const { pod_sandbox_id } = await rt.RunPodSandbox({ config: podConfig(node, { linux: { cgroup_parent: '', sysctls: { 'net.ipv4.ip_forward': '1' } } }) });
    const linuxConfig = async () => {
      const status = await rt.PodSandboxStatus({ pod_sandbox_id, verbose: true });
      return (JSON.parse(status.info.info!) as { config: { linux: Record<string, unknown> } }).config.linux;
    };
    await rt.UpdatePodSandboxResources({ pod_sandbox_id, resources: { cpu_shares: 512, memory_limit_in_bytes: 256 * 1024 * 1024 } });
    await rt.UpdatePodSandboxResources({ pod_sandbox_id, overhead: { cpu_shares: 10 } });
    const updated = await linuxConfig();
    assert.equal((updated['resources'] as { cpu_shares: string }).cpu_shares, '512', 'an update leaves the field it does not set');
    assert.equal((updated['resources'] as { memory_limit_in_bytes: string }).memory_limit_in_bytes, String(256 * 1024 * 1024));
    assert.equal((updated['overhead'] as { cpu_shares: string }).cpu_shares, '10');
    assert.deepEqual(updated['sysctls'], { 'net.ipv4.ip_forward': '1' }, 'the rest of the config stays');

    await assert.rejects(rt.UpdatePodSandboxResources({ pod_sandbox_id, resources: { cpu_shares: 1 } }), (err) => code(err) === GrpcStatus.INVALID_ARGUMENT);
    await assert.rejects(rt.UpdatePodSandboxResources({ pod_sandbox_id: 'f'.repeat(64), resources: { cpu_shares: 512 } }), (err) => code(err) === GrpcStatus.NOT_FOUND);
    assert.deepEqual(await linuxConfig(), updated);
    await rt.StopPodSandbox({ pod_sandbox_id });
    await rt.RemovePodSandbox({ pod_sandbox_id });
  });

  it('answers bad requests with the right code and changes nothing', async () => {
    const before = (await node.daemon.cri.runtime.ListPodSandbox({})).items.length;
    await assert.rejects(node.daemon.cri.runtime.RunPodSandbox({ config: { metadata: { name: 'x' } } }), (err) => code(err) === GrpcStatus.INVALID_ARGUMENT);
    await assert.rejects(node.daemon.cri.runtime.RunPodSandbox({ config: null }), (err) => code(err) === GrpcStatus.INVALID_ARGUMENT);
    await assert.rejects(
      node.daemon.cri.runtime.RunPodSandbox({ config: podConfig(node), runtime_handler: 'no-such-handler' }),
      (err: Error) => code(err) === GrpcStatus.INVALID_ARGUMENT && /no-such-handler/.test(err.message),
    );
    await assert.rejects(node.daemon.cri.runtime.PodSandboxStatus({ pod_sandbox_id: 'f'.repeat(64) }), (err) => code(err) === GrpcStatus.NOT_FOUND);
    await assert.rejects(node.daemon.cri.runtime.PodSandboxStatus({ pod_sandbox_id: '../../etc' }), (err) => code(err) === GrpcStatus.NOT_FOUND);
    await node.daemon.cri.runtime.StopPodSandbox({ pod_sandbox_id: 'e'.repeat(64) });
    await node.daemon.cri.runtime.RemovePodSandbox({ pod_sandbox_id: 'e'.repeat(64) });
    assert.equal((await node.daemon.cri.runtime.ListPodSandbox({})).items.length, before);
  });

  it('a host-network pod shares the host network namespace and has no pod IP', async () => {
    const config = podConfig(node, { linux: { security_context: { namespace_options: { network: 'NODE' } } } });
    const { pod_sandbox_id } = await node.daemon.cri.runtime.RunPodSandbox({ config });
    const status = await node.daemon.cri.runtime.PodSandboxStatus({ pod_sandbox_id, verbose: true });
    assert.equal(status.status!.network!.ip, '');
    assert.equal(status.status!.linux!.namespaces!.options!.network, 'NODE');
    const pid = (JSON.parse(status.info.info!) as { pid: number }).pid;
    assert.equal(readlinkSync(`/proc/${pid}/ns/net`), readlinkSync('/proc/self/ns/net'));
    await node.daemon.cri.runtime.RemovePodSandbox({ pod_sandbox_id });
  });

  it('a port mapping reaches a server in the pod from 127.0.0.1', async () => {
    await node.daemon.cri.image.PullImage({ image: { image: BUSYBOX } });
    const config = podConfig(node, { port_mappings: [{ protocol: 'TCP', container_port: 8080, host_port: 18181, host_ip: '127.0.0.1' }] });
    const { pod_sandbox_id } = await node.daemon.cri.runtime.RunPodSandbox({ config });
    const { container_id } = await node.daemon.cri.runtime.CreateContainer({
      pod_sandbox_id,
      sandbox_config: config,
      config: {
        metadata: { name: 'web' },
        image: { image: BUSYBOX },
        command: ['sh', '-c', 'echo hello-from-pod > /tmp/index.html && exec httpd -f -p 8080 -h /tmp'],
        log_path: 'web.log',
      },
    });
    await node.daemon.cri.runtime.StartContainer({ container_id });
    let body = '';
    for (let i = 0; i < 50 && !body.includes('hello-from-pod'); i++) {
      body = await httpGet('http://127.0.0.1:18181/index.html').catch(() => '');
      if (!body) await new Promise((r) => setTimeout(r, 100));
    }
    assert.match(body, /hello-from-pod/);
    await node.daemon.cri.runtime.StopPodSandbox({ pod_sandbox_id });
    await node.daemon.cri.runtime.RemovePodSandbox({ pod_sandbox_id });
    const after = await httpGet('http://127.0.0.1:18181/index.html').then(() => 'answered', () => 'refused');
    assert.equal(after, 'refused', 'the port mapping is gone after the pod');
  });

  it('20 pods started in parallel get distinct IPs and all tear down cleanly', async () => {
    const configs = Array.from({ length: 20 }, () => podConfig(node));
    const ids = await Promise.all(configs.map((config) => node.daemon.cri.runtime.RunPodSandbox({ config }).then((r) => r.pod_sandbox_id)));
    const namespaces = await Promise.all(ids.map((id) => netnsOf(node, id)));
    const ips = await Promise.all(ids.map(async (id) => (await node.daemon.cri.runtime.PodSandboxStatus({ pod_sandbox_id: id })).status!.network!.ip));
    assert.equal(new Set(ips).size, 20, ips.join(' '));
    assert.equal((await node.daemon.cri.runtime.ListPodSandbox({ filter: { label_selector: { app: 'berth-test' }, state: { state: 'SANDBOX_READY' } } })).items.length, 20);
    await Promise.all(ids.map(async (id) => {
      await node.daemon.cri.runtime.StopPodSandbox({ pod_sandbox_id: id });
      await node.daemon.cri.runtime.RemovePodSandbox({ pod_sandbox_id: id });
    }));
    assert.deepEqual(namespaces.filter((path) => existsSync(path)), [], 'no pod network namespace left');
    assert.equal(await conmonCount(node.daemon.dirs.state), 0);
    const veths = await run('ip', ['-o', 'link', 'show', 'master', node.bridge]);
    assert.equal(veths.stdout.trim(), '', 'no veth left on the bridge');
  });

  it('survives kill -9 of berthd: pods keep running and report their true state', async () => {
    const keep = podConfig(node);
    const dies = podConfig(node);
    const keepId = (await node.daemon.cri.runtime.RunPodSandbox({ config: keep })).pod_sandbox_id;
    const diesId = (await node.daemon.cri.runtime.RunPodSandbox({ config: dies })).pod_sandbox_id;
    const keepIp = (await node.daemon.cri.runtime.PodSandboxStatus({ pod_sandbox_id: keepId })).status!.network!.ip;
    const namespaces = [await netnsOf(node, keepId), await netnsOf(node, diesId)];
    const diesPid = (JSON.parse((await node.daemon.cri.runtime.PodSandboxStatus({ pod_sandbox_id: diesId, verbose: true })).info.info!) as { pid: number }).pid;

    await node.daemon.stop('SIGKILL');
    process.kill(diesPid, 'SIGKILL');
    await new Promise((r) => setTimeout(r, 300));
    node.daemon = await startDaemon({ dirs: node.daemon.dirs });

    const keepStatus = await node.daemon.cri.runtime.PodSandboxStatus({ pod_sandbox_id: keepId });
    assert.equal(keepStatus.status!.state, 'SANDBOX_READY');
    assert.equal(keepStatus.status!.network!.ip, keepIp);
    const ping = await run('busybox', ['ping', '-c', '1', '-W', '2', keepIp]);
    assert.equal(ping.code, 0);
    const diesStatus = await node.daemon.cri.runtime.PodSandboxStatus({ pod_sandbox_id: diesId });
    assert.equal(diesStatus.status!.state, 'SANDBOX_NOTREADY');

    for (const id of [keepId, diesId]) {
      await node.daemon.cri.runtime.StopPodSandbox({ pod_sandbox_id: id });
      await node.daemon.cri.runtime.RemovePodSandbox({ pod_sandbox_id: id });
    }
    assert.equal(await conmonCount(node.daemon.dirs.state), 0);
    const mounts = await import('node:fs/promises').then((fs) => fs.readFile('/proc/self/mountinfo', 'utf8'));
    assert.equal(mounts.includes(node.daemon.dirs.state), false, 'no mount left under the state dir');
    assert.deepEqual(namespaces.filter((path) => existsSync(path) || mounts.includes(path)), [], 'no pod network namespace left');
  });
});
