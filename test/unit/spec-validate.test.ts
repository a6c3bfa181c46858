/** Checks the spec builder's inputs get before runc would refuse them half-way through creating a container. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InvalidArgumentError } from '../../src/core/errors.js';
import { validateCgroupParent, validateProcessConfig, validateResources, validateSysctls } from '../../src/core/runtime/spec/index.js';
import type { LinuxContainerResources__Output } from '../../src/gen/cri/runtime/v1/LinuxContainerResources.js';

function resources(overrides: Partial<LinuxContainerResources__Output>): LinuxContainerResources__Output {
  return {
    cpu_period: '0', cpu_quota: '0', cpu_shares: '0', memory_limit_in_bytes: '0', oom_score_adj: '0', cpuset_cpus: '', cpuset_mems: '',
    hugepage_limits: [], unified: {}, memory_swap_limit_in_bytes: '0', ...overrides,
  } as LinuxContainerResources__Output;
}

describe('validateResources', () => {
  it('accepts what kubelet sends', () => {
    validateResources(resources({ cpu_period: '100000', cpu_quota: '50000', cpu_shares: '512', memory_limit_in_bytes: '134217728' }));
    validateResources(resources({ cpu_quota: '-1', cpu_shares: '2', memory_swap_limit_in_bytes: '-1' }));
    validateResources(null);
  });

  it('refuses limits the kernel would', () => {
    const bad: Partial<LinuxContainerResources__Output>[] = [
      { cpu_shares: '1' }, { cpu_shares: '262145' }, { cpu_period: '999' }, { cpu_period: '1000001' }, { cpu_quota: '5' },
      { cpu_quota: '-2' }, { memory_limit_in_bytes: '-1' }, { memory_swap_limit_in_bytes: '-2' },
    ];
    for (const r of bad) assert.throws(() => validateResources(resources(r)), InvalidArgumentError, JSON.stringify(r));
  });
});

describe('validateProcessConfig', () => {
  const ok = { command: ['sh'], args: ['-c', 'true'], envs: [{ key: 'A', value: 'b=c' }], working_dir: '/work' };

  it('accepts an ordinary process', () => {
    validateProcessConfig(ok);
    validateProcessConfig({ ...ok, working_dir: '' });
  });

  it('refuses NUL bytes, bad environment names and relative working directories', () => {
    assert.throws(() => validateProcessConfig({ ...ok, command: ['a\0b'] }), /command\[0\] contains a NUL byte/);
    assert.throws(() => validateProcessConfig({ ...ok, args: ['x', '\0'] }), /args\[1\]/);
    assert.throws(() => validateProcessConfig({ ...ok, envs: [{ key: 'A=B', value: '' }] }), /without "="/);
    assert.throws(() => validateProcessConfig({ ...ok, envs: [{ key: '', value: 'x' }] }), /non-empty/);
    assert.throws(() => validateProcessConfig({ ...ok, envs: [{ key: 'A', value: 'x\0' }] }), /NUL/);
    assert.throws(() => validateProcessConfig({ ...ok, working_dir: 'relative' }), /absolute/);
  });
});

describe('validateSysctls and validateCgroupParent', () => {
  it('refuses sysctl names that are paths rather than names', () => {
    validateSysctls({ 'net.ipv4.ip_forward': '1', 'net/ipv4/conf/eth0.100/forwarding': '1' }, { hostNetwork: false, hostIpc: false });
    for (const name of ['net/../../../proc/sysrq-trigger', 'net..ipv4', '.net.ipv4', 'net.ipv4.']) {
      assert.throws(() => validateSysctls({ [name]: '1' }, { hostNetwork: false, hostIpc: false }), /is not a sysctl name/, name);
    }
  });

  it('refuses a cgroup parent climbing with ..', () => {
    validateCgroupParent('/kubepods/burstable/pod1234');
    validateCgroupParent('kubepods-burstable-pod1234.slice');
    assert.throws(() => validateCgroupParent('../../evil'), /must not contain/);
    assert.throws(() => validateCgroupParent('/kubepods/../../evil'), /must not contain/);
  });
});
