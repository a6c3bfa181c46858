import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ALL_CAPABILITIES, DEFAULT_CAPABILITIES, capabilitiesFromStatus, computeCapabilities, normalizeCapability } from '../../src/core/runtime/spec/capabilities.js';
import { parseSeccompProfile } from '../../src/core/runtime/spec/seccomp-localhost.js';
import { CLONE_NAMESPACE_FLAGS, defaultSeccompProfile } from '../../src/core/runtime/spec/seccomp-default.js';
import { parseProfilePath, resolveAppArmor, resolveSeccomp, seccompChoice, seccompLocalhostPath } from '../../src/core/runtime/spec/security.js';
import { criSignalName, normalizeSignal, signalNumber, stopSignal } from '../../src/core/runtime/spec/stop-signal.js';
import { validateDevice, validateMount, validateSysctls } from '../../src/core/runtime/spec/validate.js';
import type { Seccomp } from '../../src/core/runtime/spec/oci-types.js';
import { InvalidArgumentError } from '../../src/core/errors.js';
import type { Mount__Output } from '../../src/gen/cri/runtime/v1/Mount.js';

const isInvalid = (re: RegExp) => (err: unknown) => err instanceof InvalidArgumentError && re.test(err.message);

describe('capabilities', () => {
  const cases: Array<{ name: string; add: string[]; drop: string[]; expect: string[] }> = [
    { name: 'default set', add: [], drop: [], expect: [...DEFAULT_CAPABILITIES] },
    { name: 'add without prefix, lower case', add: ['net_admin'], drop: [], expect: [...DEFAULT_CAPABILITIES, 'CAP_NET_ADMIN'] },
    { name: 'add with prefix', add: ['CAP_SYS_ADMIN'], drop: [], expect: [...DEFAULT_CAPABILITIES, 'CAP_SYS_ADMIN'] },
    { name: 'drop one', add: [], drop: ['CHOWN'], expect: DEFAULT_CAPABILITIES.filter((c) => c !== 'CAP_CHOWN') },
    { name: 'add ALL', add: ['ALL'], drop: [], expect: [...ALL_CAPABILITIES] },
    { name: 'add ALL drop one', add: ['ALL'], drop: ['SYS_ADMIN'], expect: ALL_CAPABILITIES.filter((c) => c !== 'CAP_SYS_ADMIN') },
    { name: 'drop ALL', add: [], drop: ['ALL'], expect: [] },
    { name: 'drop ALL add one', add: ['NET_BIND_SERVICE'], drop: ['all'], expect: ['CAP_NET_BIND_SERVICE'] },
    { name: 'drop ALL wins over add ALL', add: ['ALL'], drop: ['ALL'], expect: [] },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const caps = computeCapabilities({ add: c.add, drop: c.drop, addAmbient: [] });
      assert.deepEqual(caps.bounding, c.expect);
      assert.deepEqual(caps.effective, c.expect);
      assert.deepEqual(caps.permitted, c.expect);
      assert.deepEqual(caps.inheritable, []);
      assert.deepEqual(caps.ambient, []);
    });
  }
  it('ambient caps go into ambient, inheritable and the other sets', () => {
    const caps = computeCapabilities({ add: [], drop: ['ALL'], addAmbient: ['NET_BIND_SERVICE'] });
    assert.deepEqual(caps.ambient, ['CAP_NET_BIND_SERVICE']);
    assert.deepEqual(caps.inheritable, ['CAP_NET_BIND_SERVICE']);
    assert.deepEqual(caps.permitted, ['CAP_NET_BIND_SERVICE']);
  });
  it('"ALL" means the given kernel list', () => {
    assert.deepEqual(computeCapabilities({ add: ['ALL'], drop: [], addAmbient: [] }, ['CAP_CHOWN', 'CAP_KILL']).bounding, ['CAP_CHOWN', 'CAP_KILL']);
  });
  it('"ALL" for this host: the CapEff mask of the daemon, in number order', () => {
    // This machine's mask: every cap up to CAP_CHECKPOINT_RESTORE (40) but CAP_SYS_RESOURCE (24).
    const caps = capabilitiesFromStatus('Name:\tberthd\nCapInh:\t0000000000000000\nCapEff:\t000001fffeffffff\nCapBnd:\t000001ffffffffff\n');
    assert.deepEqual(caps, ALL_CAPABILITIES.filter((c) => c !== 'CAP_SYS_RESOURCE'));
    assert.deepEqual(capabilitiesFromStatus('CapEff:\t0000000000000005\n'), ['CAP_CHOWN', 'CAP_DAC_READ_SEARCH']);
    // Bits past the caps we know (a newer kernel) are ignored, not guessed at.
    assert.deepEqual(capabilitiesFromStatus('CapEff:\t0000060000000001\n'), ['CAP_CHOWN']);
    assert.equal(capabilitiesFromStatus('Name:\tx\n'), undefined);
  });
  it('rejects an unknown capability', () => {
    assert.throws(() => normalizeCapability('FLY'), isInvalid(/"FLY"/));
  });
});

describe('default seccomp profile', () => {
  it('is an allowlist failing with EPERM on x86', () => {
    const p = defaultSeccompProfile(DEFAULT_CAPABILITIES);
    assert.equal(p.defaultAction, 'SCMP_ACT_ERRNO');
    assert.equal(p.defaultErrnoRet, 1);
    assert.deepEqual(p.architectures, ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32']);
    const allowed = new Set(p.syscalls!.filter((s) => s.action === 'SCMP_ACT_ALLOW' && !s.args).flatMap((s) => s.names));
    for (const name of ['read', 'write', 'execve', 'openat', 'chroot']) assert.ok(allowed.has(name), name);
    for (const name of ['mount', 'unshare', 'setns', 'reboot', 'ptrace', 'kexec_load', 'init_module', 'open_by_handle_at']) {
      assert.ok(!allowed.has(name), name);
    }
  });
  it('without CAP_SYS_ADMIN filters clone namespace flags and makes clone3 ENOSYS', () => {
    const p = defaultSeccompProfile(DEFAULT_CAPABILITIES);
    const clone = p.syscalls!.find((s) => s.names.includes('clone'));
    assert.deepEqual(clone?.args, [{ index: 0, value: CLONE_NAMESPACE_FLAGS, valueTwo: 0, op: 'SCMP_CMP_MASKED_EQ' }]);
    assert.equal(CLONE_NAMESPACE_FLAGS, 0x7e020000);
    const clone3 = p.syscalls!.find((s) => s.names.includes('clone3'));
    assert.equal(clone3?.action, 'SCMP_ACT_ERRNO');
    assert.equal(clone3?.errnoRet, 38);
  });
  const capCases: Array<[string, string[]]> = [
    ['CAP_SYS_ADMIN', ['mount', 'unshare', 'setns', 'clone', 'clone3']],
    ['CAP_SYS_PTRACE', ['ptrace', 'process_vm_readv']],
    ['CAP_SYS_BOOT', ['reboot']],
    ['CAP_DAC_READ_SEARCH', ['open_by_handle_at']],
    ['CAP_SYS_MODULE', ['init_module']],
    ['CAP_SYS_TIME', ['settimeofday']],
  ];
  for (const [cap, names] of capCases) {
    it(`${cap} unlocks ${names.join(', ')}`, () => {
      const p = defaultSeccompProfile([...DEFAULT_CAPABILITIES, cap]);
      const allowed = new Set(p.syscalls!.filter((s) => s.action === 'SCMP_ACT_ALLOW' && !s.args).flatMap((s) => s.names));
      for (const n of names) assert.ok(allowed.has(n), n);
      if (cap === 'CAP_SYS_ADMIN') assert.ok(!p.syscalls!.some((s) => s.action === 'SCMP_ACT_ERRNO' && s.names.includes('clone3')));
    });
  }
});

describe('seccomp selection', () => {
  const local: Seccomp = { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_ERRNO' }] };
  const profile = (profile_type: 'RuntimeDefault' | 'Unconfined' | 'Localhost', localhost_ref = '') => ({ seccomp: { profile_type, localhost_ref }, seccomp_profile_path: '' });
  const path = (p: string) => ({ seccomp: null, seccomp_profile_path: p });
  const cases: Array<{ name: string; sc: Parameters<typeof seccompChoice>[0]; privileged?: boolean; expect: 'default' | 'none' | 'local' }> = [
    { name: 'nothing asked: unconfined for containers', sc: path(''), expect: 'none' },
    { name: 'RuntimeDefault', sc: profile('RuntimeDefault'), expect: 'default' },
    { name: 'Unconfined', sc: profile('Unconfined'), expect: 'none' },
    { name: 'Localhost', sc: profile('Localhost', '/profiles/a.json'), expect: 'local' },
    { name: 'runtime/default path', sc: path('runtime/default'), expect: 'default' },
    { name: 'docker/default path', sc: path('docker/default'), expect: 'default' },
    { name: 'unconfined path', sc: path('unconfined'), expect: 'none' },
    { name: 'localhost/ path', sc: path('localhost//profiles/a.json'), expect: 'local' },
    { name: 'the field wins over the path', sc: { seccomp: { profile_type: 'Unconfined', localhost_ref: '' }, seccomp_profile_path: 'runtime/default' }, expect: 'none' },
    { name: 'privileged gets none', sc: profile('RuntimeDefault'), privileged: true, expect: 'none' },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const result = resolveSeccomp({
        choice: seccompChoice(c.sc, { kind: 'Unconfined' }),
        privileged: c.privileged ?? false,
        seccompAvailable: true,
        boundingCaps: DEFAULT_CAPABILITIES,
        localhostProfile: local,
      });
      if (c.expect === 'none') assert.equal(result, undefined);
      else if (c.expect === 'local') assert.equal(result, local);
      else assert.equal(result?.defaultAction, 'SCMP_ACT_ERRNO');
    });
  }
  it('tells the caller which Localhost file to load', () => {
    assert.equal(seccompLocalhostPath(path('localhost//etc/p.json')), '/etc/p.json');
    assert.equal(seccompLocalhostPath(profile('Localhost', '/etc/q.json')), '/etc/q.json');
    assert.equal(seccompLocalhostPath(profile('RuntimeDefault')), undefined);
  });
  it('refuses Localhost without a loaded profile, a bad path, a stray localhost_ref, and RuntimeDefault without seccomp', () => {
    assert.throws(() => resolveSeccomp({ choice: { kind: 'Localhost', ref: '/x' }, privileged: false, seccompAvailable: true, boundingCaps: [] }), isInvalid(/"\/x" was not loaded/));
    assert.throws(() => parseProfilePath('bogus', 'seccomp_profile_path'), isInvalid(/seccomp_profile_path "bogus"/));
    assert.throws(() => seccompChoice(profile('RuntimeDefault', '/x'), { kind: 'Unconfined' }), isInvalid(/localhost_ref/));
    assert.throws(() => resolveSeccomp({ choice: { kind: 'RuntimeDefault' }, privileged: false, seccompAvailable: false, boundingCaps: [] }), isInvalid(/not available/));
    assert.equal(resolveSeccomp({ choice: { kind: 'Unconfined' }, privileged: false, seccompAvailable: false, boundingCaps: [] }), undefined);
  });
});

describe('Localhost seccomp profile files', () => {
  const isBad = (re: RegExp) => isInvalid(new RegExp(`seccomp profile /p\\.json: .*${re.source}`));
  it('reads the OCI linux.seccomp object, dropping fields it does not define', () => {
    const text = JSON.stringify({
      defaultAction: 'SCMP_ACT_ALLOW',
      archMap: [{ architecture: 'SCMP_ARCH_X86_64' }],
      architectures: ['SCMP_ARCH_X86_64'],
      syscalls: [
        { names: ['chmod', 'fchmodat'], action: 'SCMP_ACT_ERRNO', comment: 'no chmod' },
        { names: ['personality'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 8, op: 'SCMP_CMP_EQ' }] },
        { names: ['clone3'], action: 'SCMP_ACT_ERRNO', errnoRet: 38 },
      ],
    });
    assert.deepEqual(parseSeccompProfile(text, '/p.json'), {
      defaultAction: 'SCMP_ACT_ALLOW',
      architectures: ['SCMP_ARCH_X86_64'],
      syscalls: [
        { names: ['chmod', 'fchmodat'], action: 'SCMP_ACT_ERRNO' },
        { names: ['personality'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 8, op: 'SCMP_CMP_EQ' }] },
        { names: ['clone3'], action: 'SCMP_ACT_ERRNO', errnoRet: 38 },
      ],
    });
  });
  it('critest\'s block-hostname profile', () => {
    const p = parseSeccompProfile('{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["sethostname"], "action": "SCMP_ACT_ERRNO"}]}', '/p.json');
    assert.deepEqual(p, { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['sethostname'], action: 'SCMP_ACT_ERRNO' }] });
  });
  const bad: Array<[string, string, RegExp]> = [
    ['not JSON', '{', /not valid JSON/],
    ['not an object', '[]', /must be a JSON object/],
    ['no default action', '{}', /defaultAction undefined/],
    ['unknown action', '{"defaultAction":"ALLOW"}', /defaultAction "ALLOW"/],
    ['syscalls not a list', '{"defaultAction":"SCMP_ACT_ALLOW","syscalls":{}}', /syscalls must be a list/],
    ['rule without names', '{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"action":"SCMP_ACT_ERRNO"}]}', /syscalls\[0\]\.names/],
    ['rule with a bad action', '{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["x"],"action":"DENY"}]}', /syscalls\[0\]\.action "DENY"/],
    ['negative errno', '{"defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":-1}', /defaultErrnoRet/],
    ['bad arg op', '{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["x"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":1,"op":"EQ"}]}]}', /args\[0\]\.op "EQ"/],
  ];
  for (const [name, text, re] of bad) it(`refuses ${name}`, () => assert.throws(() => parseSeccompProfile(text, '/p.json'), isBad(re)));
});

describe('apparmor selection', () => {
  const base = { privileged: false, available: true, defaultProfile: 'berth-default' };
  it('applies the default profile when available and nothing asked', () => {
    assert.equal(resolveAppArmor({ ...base, sc: { apparmor: null, apparmor_profile: '' } }), 'berth-default');
  });
  it('follows the request', () => {
    assert.equal(resolveAppArmor({ ...base, sc: { apparmor: { profile_type: 'Unconfined', localhost_ref: '' }, apparmor_profile: '' } }), undefined);
    assert.equal(resolveAppArmor({ ...base, sc: { apparmor: { profile_type: 'Localhost', localhost_ref: 'my-prof' }, apparmor_profile: '' } }), 'my-prof');
    assert.equal(resolveAppArmor({ ...base, sc: { apparmor: null, apparmor_profile: 'localhost/other' } }), 'other');
    assert.equal(resolveAppArmor({ ...base, privileged: true, sc: { apparmor: null, apparmor_profile: 'runtime/default' } }), undefined);
  });
  it('sets nothing when AppArmor is unavailable, but refuses a named profile', () => {
    assert.equal(resolveAppArmor({ ...base, available: false, sc: { apparmor: null, apparmor_profile: 'runtime/default' } }), undefined);
    assert.throws(() => resolveAppArmor({ ...base, available: false, sc: { apparmor: null, apparmor_profile: 'localhost/x' } }), isInvalid(/AppArmor is not available/));
  });
});

describe('stop signal', () => {
  const image = (StopSignal?: string) => ({ config: StopSignal === undefined ? {} : { StopSignal } });
  const cases: Array<[string, string | undefined, Parameters<typeof stopSignal>[1], string]> = [
    ['default', undefined, { stop_signal: 'RUNTIME_DEFAULT' }, 'SIGTERM'],
    ['image name', 'SIGQUIT', { stop_signal: 'RUNTIME_DEFAULT' }, 'SIGQUIT'],
    ['image name without SIG', 'usr1', undefined, 'SIGUSR1'],
    ['image number', '9', undefined, 'SIGKILL'],
    ['image realtime', 'SIGRTMIN+3', undefined, 'SIGRTMIN+3'],
    ['CRI wins over image', 'SIGQUIT', { stop_signal: 'SIGINT' }, 'SIGINT'],
    ['CRI realtime enum', undefined, { stop_signal: 'SIGRTMINPLUS1' }, 'SIGRTMIN+1'],
    ['CRI realtime max enum', undefined, { stop_signal: 'SIGRTMAXMINUS2' }, 'SIGRTMAX-2'],
  ];
  for (const [name, img, cri, expect] of cases) {
    it(name, () => assert.equal(stopSignal(image(img), cri), expect));
  }
  it('numbers and errors', () => {
    assert.equal(signalNumber('SIGRTMIN+1'), 35);
    assert.equal(signalNumber('TERM'), 15);
    assert.equal(normalizeSignal('64'), 'SIGRTMAX');
    assert.equal(criSignalName('RUNTIME_DEFAULT'), undefined);
    assert.throws(() => normalizeSignal('SIGNOPE'), isInvalid(/"SIGNOPE"/));
    assert.throws(() => normalizeSignal('99'), isInvalid(/"99"/));
  });
});

describe('validation', () => {
  const mount = (o: Partial<Mount__Output>): Mount__Output => ({
    container_path: '/data', host_path: '/srv', readonly: false, selinux_relabel: false, propagation: 'PROPAGATION_PRIVATE',
    uidMappings: [], gidMappings: [], recursive_read_only: false, image: null, image_sub_path: '', ...o,
  });
  it('mounts', () => {
    assert.doesNotThrow(() => validateMount(mount({})));
    assert.throws(() => validateMount(mount({ container_path: 'data' })), isInvalid(/"data" must be an absolute path/));
    assert.throws(() => validateMount(mount({ host_path: '' })), isInvalid(/empty host_path/));
    assert.throws(() => validateMount(mount({ host_path: 'rel' })), isInvalid(/"rel" must be an absolute/));
    assert.throws(() => validateMount(mount({ recursive_read_only: true })), isInvalid(/needs readonly/));
  });
  it('image mounts: an image instead of a host path, never both; a sub path only with an image', () => {
    const image = { image: 'sha256:' + 'a'.repeat(64), annotations: {}, user_specified_image: '', runtime_handler: '', image_ref: '' };
    assert.doesNotThrow(() => validateMount(mount({ host_path: '', image, image_sub_path: 'etc' })));
    assert.throws(() => validateMount(mount({ image })), isInvalid(/mutually exclusive/));
    assert.throws(() => validateMount(mount({ image_sub_path: 'etc' })), isInvalid(/image_sub_path without an image/));
    assert.throws(() => validateMount(mount({ host_path: '', image: { ...image, image: 'a\0b' } })), isInvalid(/NUL/));
  });
  it('devices', () => {
    assert.doesNotThrow(() => validateDevice({ host_path: '/dev/null', container_path: '/dev/x', permissions: 'rw' }));
    assert.throws(() => validateDevice({ host_path: '', container_path: '/dev/x', permissions: 'rwm' }), isInvalid(/empty host_path/));
    assert.throws(() => validateDevice({ host_path: '/dev/null', container_path: '/dev/x', permissions: 'rwx' }), isInvalid(/"rwx"/));
  });
  it('sysctls', () => {
    assert.doesNotThrow(() => validateSysctls({ 'net.ipv4.ip_forward': '1', 'kernel.shmmax': '1', 'fs.mqueue.msg_max': '9' }, { hostNetwork: false, hostIpc: false }));
    assert.throws(() => validateSysctls({ 'net.ipv4.ip_forward': '1' }, { hostNetwork: true, hostIpc: false }), isInvalid(/host network/));
    assert.throws(() => validateSysctls({ 'net/ipv4/ip_forward': '1' }, { hostNetwork: true, hostIpc: false }), isInvalid(/host network/));
    assert.throws(() => validateSysctls({ 'kernel.msgmax': '1' }, { hostNetwork: false, hostIpc: true }), isInvalid(/host IPC/));
    assert.throws(() => validateSysctls({ 'vm.swappiness': '1' }, { hostNetwork: false, hostIpc: false }), isInvalid(/not namespaced/));
    assert.throws(() => validateSysctls({ 'kernel.hostname': 'x' }, { hostNetwork: false, hostIpc: false }), isInvalid(/hostname/));
  });
});
