import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  DEFAULT_DEVICE_RULES, DEFAULT_MASKED_PATHS, DEFAULT_READONLY_PATHS, buildContainerSpec, containerArgs, containerEnv,
  type ContainerSpecInput, type HostFacts,
} from '../../src/core/runtime/spec/container-spec.js';
import { buildSandboxSpec, type SandboxSpecInput } from '../../src/core/runtime/spec/sandbox-spec.js';
import { ALL_CAPABILITIES, DEFAULT_CAPABILITIES } from '../../src/core/runtime/spec/capabilities.js';
import { DEFAULT_RLIMITS, cgroupsPath, clampOomScoreAdj } from '../../src/core/runtime/spec/common.js';
import type { Mount } from '../../src/core/runtime/spec/oci-types.js';
import { FailedPreconditionError, InvalidArgumentError } from '../../src/core/errors.js';
import type { ImageConfig } from '../../src/core/images/manifest.js';
import type { ContainerConfig__Output } from '../../src/gen/cri/runtime/v1/ContainerConfig.js';
import type { PodSandboxConfig__Output } from '../../src/gen/cri/runtime/v1/PodSandboxConfig.js';
import type { LinuxContainerSecurityContext__Output } from '../../src/gen/cri/runtime/v1/LinuxContainerSecurityContext.js';
import type { LinuxContainerResources__Output } from '../../src/gen/cri/runtime/v1/LinuxContainerResources.js';
import type { LinuxSandboxSecurityContext__Output } from '../../src/gen/cri/runtime/v1/LinuxSandboxSecurityContext.js';
import type { Mount__Output } from '../../src/gen/cri/runtime/v1/Mount.js';
import type { NamespaceOption__Output } from '../../src/gen/cri/runtime/v1/NamespaceOption.js';

// ---- fixtures: __Output objects have every field, so build them from full defaults ----

function securityContext(o: Partial<LinuxContainerSecurityContext__Output> = {}): LinuxContainerSecurityContext__Output {
  return {
    capabilities: null, privileged: false, namespace_options: null, selinux_options: null, run_as_user: null,
    run_as_username: '', readonly_rootfs: false, supplemental_groups: [], apparmor_profile: '', seccomp_profile_path: '',
    no_new_privs: false, run_as_group: null, masked_paths: [], readonly_paths: [], seccomp: null, apparmor: null,
    supplemental_groups_policy: 'Merge', ...o,
  };
}

function resources(o: Partial<LinuxContainerResources__Output> = {}): LinuxContainerResources__Output {
  return {
    cpu_period: '0', cpu_quota: '0', cpu_shares: '0', memory_limit_in_bytes: '0', oom_score_adj: '0', cpuset_cpus: '',
    cpuset_mems: '', hugepage_limits: [], unified: {}, memory_swap_limit_in_bytes: '0', ...o,
  };
}

function nsOptions(o: Partial<NamespaceOption__Output> = {}): NamespaceOption__Output {
  return { network: 'POD', pid: 'CONTAINER', ipc: 'POD', target_id: '', userns_options: null, ...o };
}

function criMount(o: Partial<Mount__Output>): Mount__Output {
  return {
    container_path: '/data', host_path: '/srv/data', readonly: false, selinux_relabel: false, propagation: 'PROPAGATION_PRIVATE',
    uidMappings: [], gidMappings: [], recursive_read_only: false, image: null, image_sub_path: '', ...o,
  };
}

function containerConfig(o: Partial<ContainerConfig__Output> = {}, sc?: LinuxContainerSecurityContext__Output, res?: LinuxContainerResources__Output): ContainerConfig__Output {
  return {
    metadata: { name: 'web', attempt: 0 }, image: null, command: [], args: [], working_dir: '', envs: [], mounts: [],
    devices: [], labels: {}, annotations: {}, log_path: '', stdin: false, stdin_once: false, tty: false,
    linux: { security_context: sc ?? securityContext(), resources: res ?? null }, windows: null, CDI_devices: [],
    stop_signal: 'RUNTIME_DEFAULT', ...o,
  };
}

function sandboxSc(o: Partial<LinuxSandboxSecurityContext__Output> = {}): LinuxSandboxSecurityContext__Output {
  return {
    namespace_options: null, selinux_options: null, run_as_user: null, readonly_rootfs: false, supplemental_groups: [],
    privileged: false, seccomp_profile_path: '', run_as_group: null, seccomp: null, apparmor: null,
    supplemental_groups_policy: 'Merge', ...o,
  };
}

function podConfig(sc: LinuxSandboxSecurityContext__Output = sandboxSc(), o: Partial<PodSandboxConfig__Output> = {}, sysctls: Record<string, string> = {}): PodSandboxConfig__Output {
  return {
    metadata: { name: 'pod-a', uid: 'uid-1', namespace: 'ns-1', attempt: 0 }, hostname: 'pod-a-host', log_directory: '/var/log/pods/a',
    dns_config: null, port_mappings: [], labels: {}, annotations: {},
    linux: { cgroup_parent: '/kubepods/pod-a', security_context: sc, sysctls, overhead: null, resources: null },
    windows: null, ...o,
  };
}

function image(config: ImageConfig['config'] = { Entrypoint: ['/bin/app'], Cmd: ['--serve'] }): ImageConfig {
  return { architecture: 'amd64', os: 'linux', config, rootfs: { type: 'layers', diff_ids: [] }, history: [] };
}

const HOST: HostFacts = {
  cgroupDriver: 'cgroupfs', cgroupV2: false, oomScoreAdjFloor: -999, seccompAvailable: true, apparmorAvailable: false,
  apparmorDefaultProfile: 'berth-default', swapLimitSupported: true, nodeHostname: 'node-1',
};

function input(o: Partial<ContainerSpecInput> = {}): ContainerSpecInput {
  return {
    id: 'c1', config: containerConfig(), sandboxConfig: podConfig(), imageConfig: image(), imageName: 'docker.io/library/app:1',
    user: { uid: 0, gid: 0, additionalGids: [0] }, rootfsPath: '/run/berth/c1/rootfs',
    sandbox: { id: 's1', pid: 4242, netnsPath: '/run/netns/cni-1', files: { hostsPath: '/pods/s1/hosts', resolvConfPath: '/pods/s1/resolv.conf', hostnamePath: '/pods/s1/hostname', shmPath: '/pods/s1/shm' } },
    host: HOST, ...o,
  };
}

const withSc = (sc: Partial<LinuxContainerSecurityContext__Output>, pod?: PodSandboxConfig__Output) =>
  buildContainerSpec(input({ config: containerConfig({}, securityContext(sc)), ...(pod ? { sandboxConfig: pod } : {}) }));

const dest = (mounts: Mount[], d: string) => mounts.filter((m) => m.destination === d);

// ---- tests ----

describe('process args (Kubernetes command/args table)', () => {
  const img = { Entrypoint: ['/ep-1', '/ep-2'], Cmd: ['foo', 'bar'] };
  const cases: Array<[string, string[], string[], ImageConfig['config'], string[]]> = [
    ['neither: entrypoint + cmd', [], [], img, ['/ep-1', '/ep-2', 'foo', 'bar']],
    ['command only: image cmd dropped', ['/cmd'], [], img, ['/cmd']],
    ['args only: entrypoint + args', [], ['zoo', 'boo'], img, ['/ep-1', '/ep-2', 'zoo', 'boo']],
    ['command and args', ['/cmd'], ['zoo', 'boo'], img, ['/cmd', 'zoo', 'boo']],
    ['image with cmd only', [], [], { Cmd: ['sh'] }, ['sh']],
    ['entrypoint [""] is cleared', [], [], { Entrypoint: [''], Cmd: ['sh'] }, ['sh']],
  ];
  for (const [name, command, args, cfg, expect] of cases) {
    it(name, () => assert.deepEqual(containerArgs({ command, args }, image(cfg)), expect));
  }
  it('nothing to run is an error', () => {
    assert.throws(() => containerArgs({ command: [], args: [] }, image({})), (e: unknown) => e instanceof InvalidArgumentError && /no command/.test(e.message));
  });
});

describe('env', () => {
  it('default PATH, HOSTNAME, image env, CRI env override in place and append', () => {
    const env = containerEnv(
      { envs: [{ key: 'B', value: 'cri' }, { key: 'C', value: '3' }] },
      image({ Env: ['A=1', 'B=image'] }), 'h1',
    );
    assert.deepEqual(env, ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'HOSTNAME=h1', 'A=1', 'B=cri', 'C=3']);
  });
  it('image PATH replaces the default; CRI may replace HOSTNAME', () => {
    const env = containerEnv({ envs: [{ key: 'HOSTNAME', value: 'mine' }] }, image({ Env: ['PATH=/bin'] }), 'h1');
    assert.deepEqual(env, ['PATH=/bin', 'HOSTNAME=mine']);
  });
  it('HOSTNAME is the pod hostname, or the node hostname when the pod has none', () => {
    assert.ok(buildContainerSpec(input()).process.env.includes('HOSTNAME=pod-a-host'));
    assert.ok(buildContainerSpec(input({ sandboxConfig: podConfig(sandboxSc(), { hostname: '' }) })).process.env.includes('HOSTNAME=node-1'));
  });
});

describe('working dir, user, tty, rootfs', () => {
  it('cwd: CRI, then image, then /', () => {
    assert.equal(buildContainerSpec(input({ config: containerConfig({ working_dir: '/w' }), imageConfig: image({ Cmd: ['x'], WorkingDir: '/img' }) })).process.cwd, '/w');
    assert.equal(buildContainerSpec(input({ imageConfig: image({ Cmd: ['x'], WorkingDir: '/img' }) })).process.cwd, '/img');
    assert.equal(buildContainerSpec(input()).process.cwd, '/');
  });
  it('user comes from the resolved user', () => {
    const spec = buildContainerSpec(input({ user: { uid: 1000, gid: 1000, additionalGids: [1000, 50000] } }));
    assert.deepEqual(spec.process.user, { uid: 1000, gid: 1000, additionalGids: [1000, 50000] });
  });
  it('tty, readonly rootfs, no_new_privs', () => {
    const spec = buildContainerSpec(input({ config: containerConfig({ tty: true }, securityContext({ readonly_rootfs: true, no_new_privs: true })) }));
    assert.equal(spec.process.terminal, true);
    assert.deepEqual(spec.root, { path: '/run/berth/c1/rootfs', readonly: true });
    assert.equal(spec.process.noNewPrivileges, true);
    assert.equal(buildContainerSpec(input()).process.noNewPrivileges, false);
  });
  it('rlimits: inherited unless given', () => {
    assert.equal(buildContainerSpec(input()).process.rlimits, undefined);
    assert.deepEqual(buildContainerSpec(input({ rlimits: DEFAULT_RLIMITS })).process.rlimits, [{ type: 'RLIMIT_NOFILE', hard: 1048576, soft: 1048576 }]);
  });
});

describe('security context', () => {
  it('default: containerd capabilities, default masked/readonly paths, no seccomp', () => {
    const spec = withSc({});
    assert.deepEqual(spec.process.capabilities?.bounding, [...DEFAULT_CAPABILITIES]);
    assert.deepEqual(spec.linux.maskedPaths, [...DEFAULT_MASKED_PATHS]);
    assert.deepEqual(spec.linux.readonlyPaths, [...DEFAULT_READONLY_PATHS]);
    assert.equal(spec.linux.seccomp, undefined);
    assert.equal(spec.process.apparmorProfile, undefined);
  });
  it('capabilities add/drop reach the spec', () => {
    const spec = withSc({ capabilities: { add_capabilities: ['SYS_ADMIN'], drop_capabilities: ['CHOWN'], add_ambient_capabilities: [] } });
    assert.ok(spec.process.capabilities?.effective.includes('CAP_SYS_ADMIN'));
    assert.ok(!spec.process.capabilities?.effective.includes('CAP_CHOWN'));
  });
  it('CRI masked/readonly paths replace the defaults', () => {
    const spec = withSc({ masked_paths: ['/proc/x'], readonly_paths: ['/proc/y'] });
    assert.deepEqual(spec.linux.maskedPaths, ['/proc/x']);
    assert.deepEqual(spec.linux.readonlyPaths, ['/proc/y']);
  });
  it('RuntimeDefault seccomp follows the bounding set', () => {
    const spec = withSc({ seccomp: { profile_type: 'RuntimeDefault', localhost_ref: '' }, capabilities: { add_capabilities: ['SYS_ADMIN'], drop_capabilities: [], add_ambient_capabilities: [] } });
    assert.equal(spec.linux.seccomp?.defaultAction, 'SCMP_ACT_ERRNO');
    assert.ok(spec.linux.seccomp?.syscalls?.some((s) => s.action === 'SCMP_ACT_ALLOW' && !s.args && s.names.includes('mount')));
  });
  it('Localhost seccomp uses the profile the caller loaded', () => {
    const profile = { defaultAction: 'SCMP_ACT_LOG' as const };
    const spec = buildContainerSpec(input({ config: containerConfig({}, securityContext({ seccomp_profile_path: 'localhost//p.json' })), localhostSeccompProfile: profile }));
    assert.deepEqual(spec.linux.seccomp, profile);
  });
  it('apparmor default profile when the host has AppArmor', () => {
    const spec = buildContainerSpec(input({ host: { ...HOST, apparmorAvailable: true } }));
    assert.equal(spec.process.apparmorProfile, 'berth-default');
  });
  it('privileged: all caps, no seccomp/apparmor, no masked paths, rw sysfs and cgroup, host devices, all devices allowed', () => {
    const pod = podConfig(sandboxSc({ privileged: true }));
    const spec = buildContainerSpec(input({
      sandboxConfig: pod,
      config: containerConfig({}, securityContext({ privileged: true, seccomp: { profile_type: 'RuntimeDefault', localhost_ref: '' } })),
      host: { ...HOST, apparmorAvailable: true, cgroupV2: true },
      hostDevices: [{ path: '/dev/sda', type: 'b', major: 8, minor: 0 }],
    }));
    assert.deepEqual(spec.process.capabilities?.bounding, [...ALL_CAPABILITIES]);
    assert.deepEqual(spec.process.capabilities?.effective, [...ALL_CAPABILITIES]);
    assert.equal(spec.linux.seccomp, undefined);
    assert.equal(spec.process.apparmorProfile, undefined);
    assert.deepEqual(spec.linux.maskedPaths, []);
    assert.deepEqual(spec.linux.readonlyPaths, []);
    assert.deepEqual(dest(spec.mounts, '/sys')[0]?.options?.at(-1), 'rw');
    assert.deepEqual(dest(spec.mounts, '/sys/fs/cgroup')[0]?.options?.at(-1), 'rw');
    assert.deepEqual(spec.linux.devices, [{ path: '/dev/sda', type: 'b', major: 8, minor: 0 }]);
    assert.deepEqual(spec.linux.resources?.devices, [{ allow: true, access: 'rwm' }]);
    assert.ok(!spec.linux.namespaces.some((n) => n.type === 'cgroup'));
  });
  it('privileged container in an unprivileged pod is refused', () => {
    assert.throws(() => withSc({ privileged: true }), (e: unknown) => e instanceof FailedPreconditionError && /privileged pod/.test(e.message));
  });
});

describe('namespaces', () => {
  const ns = (o: Partial<NamespaceOption__Output>, extra: Partial<ContainerSpecInput> = {}) =>
    buildContainerSpec(input({ config: containerConfig({}, securityContext({ namespace_options: nsOptions(o) })), ...extra })).linux.namespaces;
  const cases: Array<[string, Partial<NamespaceOption__Output>, Partial<ContainerSpecInput>, Array<{ type: string; path?: string }>]> = [
    ['pod network/ipc, container pid', {}, {}, [
      { type: 'pid' }, { type: 'network', path: '/run/netns/cni-1' }, { type: 'ipc', path: '/proc/4242/ns/ipc' },
      { type: 'uts', path: '/proc/4242/ns/uts' }, { type: 'mount' }]],
    ['pod pid', { pid: 'POD' }, {}, [
      { type: 'pid', path: '/proc/4242/ns/pid' }, { type: 'network', path: '/run/netns/cni-1' }, { type: 'ipc', path: '/proc/4242/ns/ipc' },
      { type: 'uts', path: '/proc/4242/ns/uts' }, { type: 'mount' }]],
    ['host pid, network and ipc', { pid: 'NODE', network: 'NODE', ipc: 'NODE' }, {}, [{ type: 'mount' }]],
    ['target pid', { pid: 'TARGET', target_id: 'c0' }, { targetPid: 777 }, [
      { type: 'pid', path: '/proc/777/ns/pid' }, { type: 'network', path: '/run/netns/cni-1' }, { type: 'ipc', path: '/proc/4242/ns/ipc' },
      { type: 'uts', path: '/proc/4242/ns/uts' }, { type: 'mount' }]],
    ['cgroup namespace on v2', { pid: 'NODE', network: 'NODE', ipc: 'NODE' }, { host: { ...HOST, cgroupV2: true } }, [{ type: 'mount' }, { type: 'cgroup' }]],
  ];
  for (const [name, o, extra, expect] of cases) it(name, () => assert.deepEqual(ns(o, extra), expect));
  it('netns falls back to the sandbox pid', () => {
    const spec = buildContainerSpec(input({ sandbox: { id: 's1', pid: 9, files: {} } }));
    assert.deepEqual(spec.linux.namespaces.find((n) => n.type === 'network'), { type: 'network', path: '/proc/9/ns/net' });
  });
  it('TARGET without a pid is refused', () => {
    assert.throws(() => ns({ pid: 'TARGET', target_id: 'c0' }), (e: unknown) => e instanceof InvalidArgumentError && /"c0"/.test(e.message));
  });
});

describe('mounts', () => {
  const mountsOf = (mounts: Mount__Output[], sc: Partial<LinuxContainerSecurityContext__Output> = {}) =>
    buildContainerSpec(input({ config: containerConfig({ mounts }, securityContext(sc)) }));
  it('default mounts then the pod files, sorted by depth', () => {
    const spec = mountsOf([]);
    assert.deepEqual(spec.mounts.map((m) => m.destination), [
      '/proc', '/dev', '/dev/pts', '/dev/mqueue', '/sys', '/sys/fs/cgroup', '/etc/hostname', '/etc/hosts', '/etc/resolv.conf', '/dev/shm',
    ]);
    assert.deepEqual(dest(spec.mounts, '/etc/hosts')[0], { destination: '/etc/hosts', type: 'bind', source: '/pods/s1/hosts', options: ['rbind', 'rprivate', 'rw'] });
    assert.deepEqual(dest(spec.mounts, '/dev/shm')[0]?.source, '/pods/s1/shm');
    assert.deepEqual(dest(spec.mounts, '/sys')[0]?.options, ['nosuid', 'noexec', 'nodev', 'ro']);
    assert.deepEqual(dest(spec.mounts, '/sys/fs/cgroup')[0]?.options, ['nosuid', 'noexec', 'nodev', 'relatime', 'ro']);
    assert.equal(spec.linux.rootfsPropagation, undefined);
  });
  it('readonly rootfs makes the pod files read-only', () => {
    assert.equal(dest(mountsOf([], { readonly_rootfs: true }).mounts, '/etc/resolv.conf')[0]?.options?.at(-1), 'ro');
  });
  const propagation: Array<[Mount__Output['propagation'], string, string | undefined]> = [
    ['PROPAGATION_PRIVATE', 'rprivate', undefined],
    ['PROPAGATION_HOST_TO_CONTAINER', 'rslave', 'rslave'],
    ['PROPAGATION_BIDIRECTIONAL', 'rshared', 'rshared'],
  ];
  for (const [p, opt, rootfs] of propagation) {
    it(`${p} → ${opt}`, () => {
      const spec = mountsOf([criMount({ propagation: p, readonly: true })]);
      assert.deepEqual(dest(spec.mounts, '/data')[0], { destination: '/data', type: 'bind', source: '/srv/data', options: ['rbind', opt, 'ro'] });
      assert.equal(spec.linux.rootfsPropagation, rootfs);
    });
  }
  it('rshared wins over rslave for the rootfs', () => {
    const spec = mountsOf([
      criMount({ container_path: '/a', propagation: 'PROPAGATION_BIDIRECTIONAL' }),
      criMount({ container_path: '/b', propagation: 'PROPAGATION_HOST_TO_CONTAINER' }),
    ]);
    assert.equal(spec.linux.rootfsPropagation, 'rshared');
  });
  it('a CRI mount replaces the default and pod mounts at its destination', () => {
    const spec = mountsOf([criMount({ container_path: '/etc/hosts', host_path: '/mine/hosts' }), criMount({ container_path: '/sys/', host_path: '/mysys' })]);
    assert.deepEqual(dest(spec.mounts, '/etc/hosts').map((m) => m.source), ['/mine/hosts']);
    assert.equal(spec.mounts.filter((m) => m.type === 'sysfs').length, 0);
  });
  it('image volumes are read-write private binds, even over a read-only rootfs; a CRI mount at their path wins', () => {
    const spec = buildContainerSpec(
      input({
        config: containerConfig({ mounts: [criMount({ container_path: '/data/', host_path: '/mine' })] }, securityContext({ readonly_rootfs: true })),
        imageVolumes: [
          { containerPath: '/data', hostPath: '/volumes/1' },
          { containerPath: '/var/cache/app', hostPath: '/volumes/2' },
        ],
      }),
    );
    assert.deepEqual(spec.mounts.filter((m) => m.destination.startsWith('/data')).map((m) => m.source), ['/mine']);
    assert.deepEqual(dest(spec.mounts, '/var/cache/app'), [{ destination: '/var/cache/app', type: 'bind', source: '/volumes/2', options: ['rbind', 'rprivate', 'rw'] }]);
    assert.equal(spec.root.readonly, true);
    assert.equal(spec.mounts.at(-1)?.destination, '/var/cache/app', 'deeper paths mount after their parents');
  });
  it('a CRI /dev mount removes every default below /dev', () => {
    const spec = mountsOf([criMount({ container_path: '/dev', host_path: '/dev' })]);
    const devs = spec.mounts.filter((m) => m.destination.startsWith('/dev'));
    assert.deepEqual(devs.map((m) => `${m.destination}:${m.type}`), ['/dev:bind', '/dev/shm:bind']);
  });
  it('CRI mounts are sorted parents first, stable for equal depth', () => {
    const spec = mountsOf([
      criMount({ container_path: '/a/b/c', host_path: '/1' }),
      criMount({ container_path: '/z', host_path: '/2' }),
      criMount({ container_path: '/a', host_path: '/3' }),
    ]);
    const binds = spec.mounts.filter((m) => m.type === 'bind').map((m) => m.destination);
    assert.deepEqual(binds, ['/z', '/a', '/etc/hostname', '/etc/hosts', '/etc/resolv.conf', '/dev/shm', '/a/b/c']);
  });
  it('a relative container path is refused', () => {
    assert.throws(() => mountsOf([criMount({ container_path: 'rel' })]), InvalidArgumentError);
  });
});

describe('devices', () => {
  const host = [{ hostPath: '/dev/fuse', type: 'c' as const, major: 10, minor: 229, fileMode: 0o20666, uid: 0, gid: 0 }];
  it('adds the device and a cgroup rule after the default allowlist', () => {
    const spec = buildContainerSpec(input({ config: containerConfig({ devices: [{ host_path: '/dev/fuse', container_path: '/dev/myfuse', permissions: 'rw' }] }), devices: host }));
    assert.deepEqual(spec.linux.devices, [{ path: '/dev/myfuse', type: 'c', major: 10, minor: 229, fileMode: 0o20666, uid: 0, gid: 0 }]);
    const rules = spec.linux.resources?.devices ?? [];
    assert.deepEqual(rules.slice(0, DEFAULT_DEVICE_RULES.length), [...DEFAULT_DEVICE_RULES]);
    assert.deepEqual(rules.at(-1), { allow: true, type: 'c', major: 10, minor: 229, access: 'rw' });
    assert.deepEqual(rules[0], { allow: false, access: 'rwm' });
  });
  it('empty container path and permissions default to host path and rwm', () => {
    const spec = buildContainerSpec(input({ config: containerConfig({ devices: [{ host_path: '/dev/fuse', container_path: '', permissions: '' }] }), devices: host }));
    assert.equal(spec.linux.devices?.[0]?.path, '/dev/fuse');
    assert.equal(spec.linux.resources?.devices?.at(-1)?.access, 'rwm');
  });
  it('a device the caller did not find is refused', () => {
    assert.throws(() => buildContainerSpec(input({ config: containerConfig({ devices: [{ host_path: '/dev/nope', container_path: '', permissions: '' }] }) })),
      (e: unknown) => e instanceof InvalidArgumentError && /"\/dev\/nope"/.test(e.message));
  });
});

describe('resources and cgroups', () => {
  const withRes = (r: Partial<LinuxContainerResources__Output>, host: HostFacts = HOST) =>
    buildContainerSpec(input({ config: containerConfig({}, securityContext(), resources(r)), host }));
  it('maps cpu, memory, hugepages and unified', () => {
    const spec = withRes({
      cpu_period: '100000', cpu_quota: '50000', cpu_shares: '512', cpuset_cpus: '0-1', cpuset_mems: '0',
      memory_limit_in_bytes: '268435456', hugepage_limits: [{ page_size: '2MB', limit: '4194304' }], unified: { 'memory.high': '100M' },
    });
    assert.deepEqual(spec.linux.resources?.cpu, { period: 100000, quota: 50000, shares: 512, cpus: '0-1', mems: '0' });
    assert.deepEqual(spec.linux.resources?.memory, { limit: 268435456, swap: 268435456 });
    assert.deepEqual(spec.linux.resources?.hugepageLimits, [{ pageSize: '2MB', limit: 4194304 }]);
    assert.deepEqual(spec.linux.resources?.unified, { 'memory.high': '100M' });
    assert.equal(spec.linux.resources?.pids, undefined);
  });
  it('explicit swap limit; no swap without the controller', () => {
    assert.deepEqual(withRes({ memory_limit_in_bytes: '100', memory_swap_limit_in_bytes: '200' }).linux.resources?.memory, { limit: 100, swap: 200 });
    assert.deepEqual(withRes({ memory_limit_in_bytes: '100' }, { ...HOST, swapLimitSupported: false }).linux.resources?.memory, { limit: 100 });
  });
  it('empty resources set nothing', () => {
    const spec = withRes({});
    assert.equal(spec.linux.resources?.cpu, undefined);
    assert.equal(spec.linux.resources?.memory, undefined);
  });
  const oom: Array<[string, string, number]> = [['above the floor', '500', 500], ['below the floor', '-1000', -999], ['zero', '0', 0]];
  for (const [name, req, expect] of oom) {
    it(`oom_score_adj ${name}`, () => assert.equal(withRes({ oom_score_adj: req }).process.oomScoreAdj, expect));
  }
  it('no resources: oom_score_adj left to inherit', () => {
    assert.equal(buildContainerSpec(input()).process.oomScoreAdj, undefined);
  });
  it('clamp and cgroups paths', () => {
    assert.equal(clampOomScoreAdj(-998, 0), 0);
    assert.equal(clampOomScoreAdj(1500, -999), 1000);
    assert.equal(cgroupsPath('/kubepods/pod-a', 'c1', 'cgroupfs'), '/kubepods/pod-a/c1');
    assert.equal(cgroupsPath('/kubepods.slice/kubepods-pod_a.slice', 'c1', 'systemd'), 'kubepods-pod_a.slice:berth:c1');
    assert.equal(cgroupsPath('', 'c1', 'cgroupfs'), undefined);
    assert.equal(buildContainerSpec(input()).linux.cgroupsPath, '/kubepods/pod-a/c1');
  });
});

describe('annotations and hostname', () => {
  it('containerd CRI annotations, CRI annotations copied but not overriding ours', () => {
    const spec = buildContainerSpec(input({ config: containerConfig({ annotations: { 'x/y': 'z', 'io.kubernetes.cri.container-type': 'bogus' } }) }));
    assert.deepEqual(spec.annotations, {
      'x/y': 'z',
      'io.kubernetes.cri.container-type': 'container',
      'io.kubernetes.cri.sandbox-id': 's1',
      'io.kubernetes.cri.sandbox-name': 'pod-a',
      'io.kubernetes.cri.sandbox-namespace': 'ns-1',
      'io.kubernetes.cri.sandbox-uid': 'uid-1',
      'io.kubernetes.cri.container-name': 'web',
      'io.kubernetes.cri.image-name': 'docker.io/library/app:1',
    });
  });
  it('containers join the pod UTS namespace, so set no hostname', () => {
    assert.equal(buildContainerSpec(input()).hostname, undefined);
  });
});

describe('sandbox spec', () => {
  const pause = image({ Entrypoint: ['/pause'] });
  function sandboxInput(o: Partial<SandboxSpecInput> = {}): SandboxSpecInput {
    return {
      id: 's1', config: podConfig(), imageConfig: pause, imageName: 'registry.k8s.io/pause:3.10',
      user: { uid: 0, gid: 0, additionalGids: [0] }, rootfsPath: '/run/berth/s1/rootfs', netnsPath: '/run/netns/cni-1',
      host: HOST, ...o,
    };
  }
  it('pod defaults', () => {
    const spec = buildSandboxSpec(sandboxInput());
    assert.deepEqual(spec.process.args, ['/pause']);
    assert.equal(spec.hostname, 'pod-a-host');
    assert.deepEqual(spec.linux.namespaces, [{ type: 'pid' }, { type: 'network', path: '/run/netns/cni-1' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }]);
    assert.equal(spec.linux.cgroupsPath, '/kubepods/pod-a/s1');
    assert.equal(spec.process.oomScoreAdj, -998);
    assert.equal(spec.linux.resources?.cpu?.shares, 2);
    assert.equal(spec.root.readonly, false);
    assert.equal(spec.process.noNewPrivileges, true);
    assert.equal(spec.linux.seccomp?.defaultAction, 'SCMP_ACT_ERRNO');
    assert.deepEqual(dest(spec.mounts, '/dev/shm')[0], { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=64m'] });
    assert.equal(spec.annotations?.['io.kubernetes.cri.container-type'], 'sandbox');
    assert.equal(spec.annotations?.['io.kubernetes.cri.sandbox-id'], 's1');
    assert.equal(spec.annotations?.['io.kubernetes.cri.sandbox-name'], 'pod-a');
    assert.equal(spec.annotations?.['io.kubernetes.cri.sandbox-namespace'], 'ns-1');
    assert.equal(spec.annotations?.['io.kubernetes.cri.sandbox-uid'], 'uid-1');
    assert.equal(spec.annotations?.['io.kubernetes.cri.sandbox-log-directory'], '/var/log/pods/a');
  });
  it('oom_score_adj is clamped to the daemon floor', () => {
    assert.equal(buildSandboxSpec(sandboxInput({ host: { ...HOST, oomScoreAdjFloor: -500 } })).process.oomScoreAdj, -500);
  });
  it('host namespaces: no pid/ipc/net/uts, no hostname, host /dev/shm', () => {
    const spec = buildSandboxSpec(sandboxInput({ config: podConfig(sandboxSc({ namespace_options: nsOptions({ network: 'NODE', pid: 'NODE', ipc: 'NODE' }) })) }));
    assert.deepEqual(spec.linux.namespaces, [{ type: 'mount' }]);
    assert.equal(spec.hostname, undefined);
    assert.deepEqual(dest(spec.mounts, '/dev/shm')[0], { destination: '/dev/shm', type: 'bind', source: '/dev/shm', options: ['rbind', 'ro', 'nosuid', 'nodev', 'noexec'] });
  });
  it('binds a caller-provided shm', () => {
    assert.equal(dest(buildSandboxSpec(sandboxInput({ shmPath: '/pods/s1/shm' })).mounts, '/dev/shm')[0]?.source, '/pods/s1/shm');
  });
  it('sysctls are set and validated', () => {
    const spec = buildSandboxSpec(sandboxInput({ config: podConfig(sandboxSc(), {}, { 'net.ipv4.ip_unprivileged_port_start': '0' }) }));
    assert.deepEqual(spec.linux.sysctl, { 'net.ipv4.ip_unprivileged_port_start': '0' });
    assert.throws(() => buildSandboxSpec(sandboxInput({
      config: podConfig(sandboxSc({ namespace_options: nsOptions({ network: 'NODE' }) }), {}, { 'net.ipv4.ip_forward': '1' }),
    })), (e: unknown) => e instanceof InvalidArgumentError && /host network/.test(e.message));
  });
  it('seccomp follows the pod; privileged pods get none', () => {
    assert.equal(buildSandboxSpec(sandboxInput({ config: podConfig(sandboxSc({ seccomp: { profile_type: 'Unconfined', localhost_ref: '' } })) })).linux.seccomp, undefined);
    assert.equal(buildSandboxSpec(sandboxInput({ config: podConfig(sandboxSc({ privileged: true })) })).linux.seccomp, undefined);
  });
  it('sysfs: read-only, but rw in a privileged pod (one sysfs superblock per netns, mounted first by pause)', () => {
    assert.equal(dest(buildSandboxSpec(sandboxInput()).mounts, '/sys')[0]?.options?.at(-1), 'ro');
    assert.equal(dest(buildSandboxSpec(sandboxInput({ config: podConfig(sandboxSc({ privileged: true })) })).mounts, '/sys')[0]?.options?.at(-1), 'rw');
  });
  it('user from the resolved user; missing command or netns refused', () => {
    assert.deepEqual(buildSandboxSpec(sandboxInput({ user: { uid: 65535, gid: 65535, additionalGids: [65535, 3] } })).process.user, { uid: 65535, gid: 65535, additionalGids: [65535, 3] });
    assert.throws(() => buildSandboxSpec(sandboxInput({ imageConfig: image({}) })), InvalidArgumentError);
    const { netnsPath: _unused, ...noNetns } = sandboxInput();
    assert.throws(() => buildSandboxSpec(noNetns), (e: unknown) => e instanceof InvalidArgumentError && /network namespace/.test(e.message));
  });
});
