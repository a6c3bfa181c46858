/**
 * The security-context cases critest judges, end to end through berthd and runc:
 * privileged containers, "ALL" capabilities on a host that withholds some,
 * Localhost seccomp profiles, the host-side precondition of propagating mounts,
 * and StopContainer of an unknown id.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, readdir, lstat, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { status as GrpcStatus } from '@grpc/grpc-js';
import { run as runCommand } from '../support/exec.js';
import { BUSYBOX, podConfig, startNode, type TestNode } from '../support/cluster.js';

function code(err: unknown): number | undefined {
  return (err as { code?: number }).code;
}

function capLine(status: string, field: string): string {
  return new RegExp(`^${field}:\\s*([0-9a-f]+)$`, 'm').exec(status)?.[1] ?? '';
}

describe('security profiles', () => {
  let node: TestNode;
  let work: string;
  let podId: string;
  let pod: ReturnType<typeof podConfig>;
  let privilegedPodId: string;
  let privilegedPod: ReturnType<typeof podConfig>;
  const hostStatus = () => readFile('/proc/self/status', 'utf8');

  const create = (podSandboxId: string, sandbox: ReturnType<typeof podConfig>, name: string, config: Record<string, unknown>) =>
    node.daemon.cri.runtime.CreateContainer({
      pod_sandbox_id: podSandboxId,
      sandbox_config: sandbox,
      config: { metadata: { name }, image: { image: BUSYBOX }, command: ['sleep', '1000'], ...config },
    });
  const start = async (podSandboxId: string, sandbox: ReturnType<typeof podConfig>, name: string, config: Record<string, unknown>) => {
    const { container_id } = await create(podSandboxId, sandbox, name, config);
    await node.daemon.cri.runtime.StartContainer({ container_id });
    return container_id;
  };
  const exec = (id: string, cmd: string[]) => node.daemon.cri.runtime.ExecSync({ container_id: id, cmd, timeout: 10 });
  const containerCount = async () => (await node.daemon.cri.runtime.ListContainers({})).containers.length;

  before(async () => {
    node = await startNode({ netIndex: 20 });
    await node.daemon.cri.image.PullImage({ image: { image: BUSYBOX } });
    work = await mkdtemp(join(tmpdir(), 'berth-secprof-'));
    pod = podConfig(node);
    podId = (await node.daemon.cri.runtime.RunPodSandbox({ config: pod })).pod_sandbox_id;
    privilegedPod = podConfig(node, { linux: { security_context: { privileged: true } } });
    privilegedPodId = (await node.daemon.cri.runtime.RunPodSandbox({ config: privilegedPod })).pod_sandbox_id;
  });

  after(async () => {
    await node?.stop();
    if (work) {
      await runCommand('umount', ['-R', join(work, 'shared')]).catch(() => undefined);
      await rm(work, { recursive: true, force: true });
    }
  });

  it('privileged: every capability the daemon holds, the host devices, no seccomp, writable sysfs', async () => {
    const id = await start(privilegedPodId, privilegedPod, 'privileged', { linux: { security_context: { privileged: true } } });
    const status = (await exec(id, ['cat', '/proc/self/status'])).stdout.toString();
    const host = await hostStatus();
    assert.equal(capLine(status, 'CapEff'), capLine(host, 'CapEff'));
    assert.equal(capLine(status, 'CapBnd'), capLine(host, 'CapEff'));
    assert.match(status, /^Seccomp:\s+0$/m);
    // A block device of the host (not in the default device list) shows up, with its numbers.
    const blocks: string[] = [];
    for (const name of await readdir('/dev')) if ((await lstat(join('/dev', name))).isBlockDevice()) blocks.push(name);
    if (blocks.length > 0) {
      const listed = await exec(id, ['ls', '-l', `/dev/${blocks[0]}`]);
      assert.equal(listed.exit_code, 0, listed.stderr.toString());
      assert.match(listed.stdout.toString(), /^b/);
    }
    assert.equal((await exec(id, ['brctl', 'addbr', 'berthsp0'])).exit_code, 0);
    const mounts = (await exec(id, ['cat', '/proc/self/mounts'])).stdout.toString();
    assert.match(mounts, /^sysfs \/sys sysfs rw,/m);
    await node.daemon.cri.runtime.RemoveContainer({ container_id: id });
  });

  it('add ALL: the daemon\'s capabilities (a host may withhold some); drop ALL: none', async () => {
    const all = await start(podId, pod, 'add-all', { linux: { security_context: { capabilities: { add_capabilities: ['ALL'] } } } });
    const status = (await exec(all, ['cat', '/proc/self/status'])).stdout.toString();
    assert.equal(capLine(status, 'CapBnd'), capLine(await hostStatus(), 'CapEff'));
    const none = await start(podId, pod, 'drop-all', { linux: { security_context: { capabilities: { drop_capabilities: ['ALL'] } } } });
    assert.match((await exec(none, ['cat', '/proc/self/status'])).stdout.toString(), /^CapBnd:\s+0000000000000000$/m);
    await node.daemon.cri.runtime.RemoveContainer({ container_id: all });
    await node.daemon.cri.runtime.RemoveContainer({ container_id: none });
  });

  it('a Localhost seccomp profile applies to the pod and the container; a privileged container ignores it', async () => {
    const profile = join(work, 'block-chmod.json');
    await writeFile(profile, JSON.stringify({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['chmod', 'fchmodat'], action: 'SCMP_ACT_ERRNO' }] }));
    const seccomp = { profile_type: 'Localhost', localhost_ref: profile };
    const seccompPod = podConfig(node, { linux: { security_context: { seccomp } } });
    const seccompPodId = (await node.daemon.cri.runtime.RunPodSandbox({ config: seccompPod })).pod_sandbox_id;
    const id = await start(seccompPodId, seccompPod, 'no-chmod', { linux: { security_context: { seccomp } } });
    const denied = await exec(id, ['chmod', '400', '/tmp']);
    assert.notEqual(denied.exit_code, 0);
    assert.match(denied.stderr.toString(), /Operation not permitted/);
    assert.equal((await exec(id, ['touch', '/tmp/ok'])).exit_code, 0);
    const privileged = await start(privilegedPodId, privilegedPod, 'no-chmod-privileged', {
      linux: { security_context: { privileged: true, seccomp: { profile_type: 'Localhost', localhost_ref: join(work, 'absent.json') } } },
    });
    assert.equal((await exec(privileged, ['chmod', '400', '/tmp'])).exit_code, 0);
    await node.daemon.cri.runtime.StopPodSandbox({ pod_sandbox_id: seccompPodId });
    await node.daemon.cri.runtime.RemovePodSandbox({ pod_sandbox_id: seccompPodId });
    await node.daemon.cri.runtime.RemoveContainer({ container_id: privileged });
  });

  it('refuses a Localhost profile that is missing, relative or malformed, and creates nothing', async () => {
    const malformed = join(work, 'malformed.json');
    await writeFile(malformed, '{"defaultAction": "ALLOW"}');
    const before = await containerCount();
    for (const [ref, message] of [
      [join(work, 'absent.json'), /cannot read seccomp localhost profile .*ENOENT/],
      ['relative.json', /must be an absolute path/],
      [malformed, /defaultAction "ALLOW" is not a seccomp action/],
    ] as const) {
      await assert.rejects(
        create(podId, pod, `bad-profile-${before}`, { linux: { security_context: { seccomp: { profile_type: 'Localhost', localhost_ref: ref } } } }),
        (err: Error) => code(err) === GrpcStatus.INVALID_ARGUMENT && message.test(err.message),
      );
      const badPod = podConfig(node, { linux: { security_context: { seccomp: { profile_type: 'Localhost', localhost_ref: ref } } } });
      await assert.rejects(node.daemon.cri.runtime.RunPodSandbox({ config: badPod }), (err) => code(err) === GrpcStatus.INVALID_ARGUMENT);
    }
    assert.equal(await containerCount(), before);
    assert.equal((await node.daemon.cri.runtime.ListPodSandbox({})).items.length, 2);
  });

  it('Bidirectional needs a shared host mount, HostToContainer a shared or slave one', async () => {
    const plain = join(work, 'plain');
    await mkdir(plain);
    const before = await containerCount();
    for (const propagation of ['PROPAGATION_BIDIRECTIONAL', 'PROPAGATION_HOST_TO_CONTAINER']) {
      await assert.rejects(
        create(privilegedPodId, privilegedPod, 'propagation-refused', {
          linux: { security_context: { privileged: true } },
          mounts: [{ host_path: plain, container_path: '/data', propagation }],
        }),
        (err: Error) => code(err) === GrpcStatus.FAILED_PRECONDITION && /not shared|neither shared nor slave/.test(err.message),
      );
    }
    assert.equal(await containerCount(), before);

    const shared = join(work, 'shared');
    await mkdir(join(shared, 'sub'), { recursive: true });
    assert.equal((await runCommand('mount', ['--bind', shared, shared])).code, 0);
    assert.equal((await runCommand('mount', ['--make-rshared', shared])).code, 0);
    const id = await start(privilegedPodId, privilegedPod, 'propagation-shared', {
      linux: { security_context: { privileged: true } },
      mounts: [{ host_path: shared, container_path: '/data', propagation: 'PROPAGATION_BIDIRECTIONAL' }],
    });
    // A mount made inside the container reaches the host.
    assert.equal((await exec(id, ['mount', '-t', 'tmpfs', 'berth-propagated', '/data/sub'])).exit_code, 0);
    assert.match(await readFile('/proc/self/mountinfo', 'utf8'), new RegExp(` ${join(shared, 'sub')} .* tmpfs berth-propagated `));
    await node.daemon.cri.runtime.RemoveContainer({ container_id: id });
  });

  it('Status reports the handler features and the supplemental groups policy; ContainerStatus the user it started', async () => {
    const status = await node.daemon.cri.runtime.Status({});
    assert.equal(status.features?.supplemental_groups_policy, true);
    const runc = status.runtime_handlers.find((h) => h.name === '');
    // runc 1.1 lists rro in `runc features`; this kernel has mount_setattr.
    assert.equal(runc?.features?.recursive_read_only_mounts, true);
    const strict = await start(podId, pod, 'groups-strict', {
      linux: { security_context: { run_as_user: { value: 33 }, supplemental_groups: [1234], supplemental_groups_policy: 'Strict' } },
    });
    const { status: cs } = await node.daemon.cri.runtime.ContainerStatus({ container_id: strict });
    assert.deepEqual(cs?.user?.linux, { uid: '33', gid: '33', supplemental_groups: ['33', '1234'] });
    assert.equal((await exec(strict, ['id', '-G'])).stdout.toString().trim().split(' ').sort().join(' '), '1234 33');
    await node.daemon.cri.runtime.RemoveContainer({ container_id: strict });
  });

  it('StopContainer of an unknown or removed id succeeds, as cri-api asks', async () => {
    await node.daemon.cri.runtime.StopContainer({ container_id: 'f'.repeat(64), timeout: 0 });
    await node.daemon.cri.runtime.StopContainer({ container_id: 'not-an-id-3f1c', timeout: 0 });
    const { container_id } = await create(podId, pod, 'stop-removed', {});
    await node.daemon.cri.runtime.RemoveContainer({ container_id });
    await node.daemon.cri.runtime.StopContainer({ container_id, timeout: 0 });
  });
});
