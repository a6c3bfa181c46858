import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, rmdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildContainerSpec } from '../../src/core/runtime/spec/container-spec.js';
import { resolveUser } from '../../src/core/runtime/spec/user.js';
import type { ContainerConfig__Output } from '../../src/gen/cri/runtime/v1/ContainerConfig.js';
import type { PodSandboxConfig__Output } from '../../src/gen/cri/runtime/v1/PodSandboxConfig.js';
import { buildBusyboxRootfs } from '../support/rootfs.js';

const CGROUP_PARENT = '/berth-spec-test';
const RUN_TIMEOUT_MS = 30_000;
const CGROUP_ROOT = '/sys/fs/cgroup';

/** Bit mask of capability numbers, as /proc/<pid>/status prints it (16 hex digits). */
function capMask(numbers: number[]): string {
  let mask = 0n;
  for (const n of numbers) mask |= 1n << BigInt(n);
  return mask.toString(16).padStart(16, '0');
}

// Numbers of the capabilities this test asks for (linux/capability.h).
const CAP_NUMBERS: Record<string, number> = {
  CAP_CHOWN: 0, CAP_DAC_OVERRIDE: 1, CAP_FOWNER: 3, CAP_FSETID: 4, CAP_KILL: 5, CAP_SETGID: 6, CAP_SETUID: 7,
  CAP_SETPCAP: 8, CAP_NET_BIND_SERVICE: 10, CAP_NET_ADMIN: 12, CAP_NET_RAW: 13, CAP_SYS_CHROOT: 18, CAP_MKNOD: 27,
  CAP_AUDIT_WRITE: 29, CAP_SETFCAP: 31,
};

/** Removes `relative` (and empty parents up to it) from every mounted cgroup hierarchy. */
function removeCgroup(relative: string): void {
  for (const controller of readdirSync(CGROUP_ROOT)) {
    const dir = join(CGROUP_ROOT, controller, relative);
    if (!existsSync(dir)) continue;
    for (const child of readdirSync(dir, { withFileTypes: true })) {
      if (child.isDirectory()) rmdirSync(join(dir, child.name));
    }
    rmdirSync(dir);
  }
}

describe('spec builder output runs under runc', { timeout: 2 * RUN_TIMEOUT_MS }, () => {
  const base = mkdtempSync(join(tmpdir(), 'berth-spec-'));
  const runcRoot = join(base, 'runc');
  const id = `spec-${randomBytes(6).toString('hex')}`;

  after(() => {
    spawnSync('runc', ['--root', runcRoot, 'delete', '--force', id], { timeout: RUN_TIMEOUT_MS });
    try {
      removeCgroup(CGROUP_PARENT);
    } finally {
      rmSync(base, { recursive: true, force: true });
    }
  });

  it('runc accepts the spec; uid, groups, capabilities, oom score, memory limit and pod files are as built', () => {
    const bundle = join(base, 'bundle');
    const rootfs = buildBusyboxRootfs(join(bundle, 'rootfs'), { applets: ['grep'] });
    const podDir = join(base, 'pod');
    const shm = join(podDir, 'shm');
    mkdirSync(shm, { recursive: true });
    writeFileSync(join(podDir, 'hosts'), '127.0.0.1 localhost berth-spec-marker\n');
    writeFileSync(join(podDir, 'resolv.conf'), 'nameserver 127.0.0.1\n');
    writeFileSync(join(podDir, 'hostname'), 'spec-pod\n');

    const floor = Number(readFileSync('/proc/self/oom_score_adj', 'utf8').trim());
    const memoryLimit = 64 * 1024 * 1024;
    const config: ContainerConfig__Output = {
      metadata: { name: 'probe', attempt: 0 }, image: null,
      command: ['sh', '-c', 'id; grep Cap /proc/self/status; cat /proc/self/oom_score_adj; cat /etc/hosts; cat /sys/fs/cgroup/memory/memory.limit_in_bytes; echo HOST=$HOSTNAME'],
      args: [], working_dir: '/tmp', envs: [{ key: 'FOO', value: 'bar' }], mounts: [], devices: [], labels: {}, annotations: {},
      log_path: '', stdin: false, stdin_once: false, tty: false, windows: null, CDI_devices: [], stop_signal: 'RUNTIME_DEFAULT',
      linux: {
        resources: {
          cpu_period: '0', cpu_quota: '0', cpu_shares: '256', memory_limit_in_bytes: String(memoryLimit), oom_score_adj: '-1000',
          cpuset_cpus: '', cpuset_mems: '', hugepage_limits: [], unified: {}, memory_swap_limit_in_bytes: '0',
        },
        security_context: {
          capabilities: { add_capabilities: ['NET_ADMIN'], drop_capabilities: ['CHOWN'], add_ambient_capabilities: ['NET_BIND_SERVICE'] },
          privileged: false, namespace_options: { network: 'POD', pid: 'CONTAINER', ipc: 'POD', target_id: '', userns_options: null },
          selinux_options: null, run_as_user: { value: '1000' }, run_as_username: '', readonly_rootfs: false,
          supplemental_groups: ['2000'], apparmor_profile: '', seccomp_profile_path: '', no_new_privs: true,
          run_as_group: { value: '1000' }, masked_paths: [], readonly_paths: [],
          seccomp: { profile_type: 'RuntimeDefault', localhost_ref: '' }, apparmor: null, supplemental_groups_policy: 'Merge',
        },
      },
    };
    const sandboxConfig: PodSandboxConfig__Output = {
      metadata: { name: 'spec-pod', uid: 'u', namespace: 'default', attempt: 0 }, hostname: 'spec-pod', log_directory: '',
      dns_config: null, port_mappings: [], labels: {}, annotations: {}, windows: null,
      linux: { cgroup_parent: CGROUP_PARENT, security_context: null, sysctls: {}, overhead: null, resources: null },
    };
    const user = resolveUser({
      criUser: { uid: 1000, gid: 1000 }, imageUser: '',
      passwd: readFileSync(join(rootfs, 'etc/passwd'), 'utf8'), group: readFileSync(join(rootfs, 'etc/group'), 'utf8'),
      supplementalGroups: [2000], policy: 'Merge',
    });
    const spec = buildContainerSpec({
      id, config, sandboxConfig, user, rootfsPath: rootfs, imageName: 'busybox:test',
      imageConfig: { architecture: 'amd64', os: 'linux', config: { Env: ['PATH=/bin'] }, rootfs: { type: 'layers', diff_ids: [] }, history: [] },
      // The test process stands in for the pause process: joining its namespaces is joining the host's.
      sandbox: {
        id: 'sandbox-for-spec-test', pid: process.pid,
        files: { hostsPath: join(podDir, 'hosts'), resolvConfPath: join(podDir, 'resolv.conf'), hostnamePath: join(podDir, 'hostname'), shmPath: shm },
      },
      host: {
        cgroupDriver: 'cgroupfs', cgroupV2: false, oomScoreAdjFloor: floor, seccompAvailable: true, apparmorAvailable: false,
        apparmorDefaultProfile: '', swapLimitSupported: existsSync('/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes'), nodeHostname: 'node',
      },
    });
    writeFileSync(join(bundle, 'config.json'), JSON.stringify(spec, null, 2));

    const run = spawnSync('runc', ['--root', runcRoot, 'run', '--bundle', bundle, id], { encoding: 'utf8', timeout: RUN_TIMEOUT_MS, stdio: ['ignore', 'pipe', 'pipe'] });
    assert.equal(run.status, 0, `runc run failed: ${run.stderr}${run.stdout}`);
    const out = run.stdout;

    assert.match(out, /uid=1000 gid=1000 groups=1000,2000/);
    const expectedCaps = spec.process.capabilities!.bounding;
    assert.ok(expectedCaps.includes('CAP_NET_ADMIN') && !expectedCaps.includes('CAP_CHOWN'));
    const mask = capMask(expectedCaps.map((c) => CAP_NUMBERS[c]!));
    const capLine = (name: string) => new RegExp(`^${name}:\\s+(\\w+)$`, 'm').exec(out)?.[1];
    assert.equal(capLine('CapBnd'), mask);
    // For a non-root user the kernel drops permitted/effective caps at execve; only ambient ones survive.
    const ambient = capMask([CAP_NUMBERS.CAP_NET_BIND_SERVICE!]);
    assert.equal(capLine('CapAmb'), ambient);
    assert.equal(capLine('CapEff'), ambient);
    assert.equal(capLine('CapPrm'), ambient);
    assert.equal(capLine('CapInh'), ambient);
    assert.match(out, new RegExp(`^${Math.max(floor, -1000)}$`, 'm'));
    assert.match(out, /berth-spec-marker/);
    assert.match(out, new RegExp(`^${memoryLimit}$`, 'm'));
    assert.match(out, /^HOST=spec-pod$/m);
  });
});
