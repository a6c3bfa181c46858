import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, beforeEach, describe, test } from 'node:test';
import { addNetworkList, buildPluginStdin, checkNetworkList, delNetworkList } from '../../src/cni/chain.js';
import { CniPluginError, CniPluginNotFoundError } from '../../src/cni/errors.js';
import { findPlugin, formatCniArgs } from '../../src/cni/exec.js';
import { CniManager } from '../../src/cni/manager.js';
import type { NetworkConfigList, RuntimeArgs } from '../../src/cni/types.js';

// Recording plugins: real executables that log what they were given, so the
// test sees exactly the environment and stdin a real plugin would get.
const root = mkdtempSync(path.join(tmpdir(), 'berth-cni-chain-'));
after(() => rmSync(root, { recursive: true, force: true }));
const binA = path.join(root, 'bin-a');
const binB = path.join(root, 'bin-b');
const logFile = path.join(root, 'calls.log');
mkdirSync(binA);
mkdirSync(binB);

const pluginSource = `#!${process.execPath}
const fs = require('node:fs');
const path = require('node:path');
const type = path.basename(process.argv[1]) + (process.argv[1].includes('bin-b') ? '@b' : '');
const stdin = JSON.parse(fs.readFileSync(0, 'utf8'));
const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => k.startsWith('CNI_')));
fs.appendFileSync(${JSON.stringify(logFile)}, JSON.stringify({ type, env, stdin }) + '\\n');
const cmd = process.env.CNI_COMMAND;
if (stdin.failOn === cmd) {
  if (stdin.plainFailure) { process.stderr.write('something broke badly'); process.exit(3); }
  process.stdout.write(JSON.stringify({ cniVersion: stdin.cniVersion, code: 11, msg: 'boom', details: 'the details' }));
  process.exit(1);
}
if (cmd === 'ADD') {
  const prev = stdin.prevResult || { cniVersion: stdin.cniVersion, interfaces: [], ips: [] };
  prev.ips = [...prev.ips, { address: '10.99.0.' + (prev.ips.length + 2) + '/24', gateway: '10.99.0.1' }];
  prev.addedBy = [...(prev.addedBy || []), type];
  process.stdout.write(JSON.stringify(prev));
}
`;
for (const [dir, name] of [[binA, 'alpha'], [binA, 'beta'], [binA, 'gamma'], [binB, 'gamma'], [binB, 'delta']] as const) {
  writeFileSync(path.join(dir, name), pluginSource);
  chmodSync(path.join(dir, name), 0o755);
}
writeFileSync(path.join(binA, 'not-executable'), pluginSource);

interface Call {
  type: string;
  env: Record<string, string>;
  stdin: Record<string, unknown>;
}
function calls(): Call[] {
  try {
    return readFileSync(logFile, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Call);
  } catch {
    return [];
  }
}
beforeEach(() => rmSync(logFile, { force: true }));

const runtime: RuntimeArgs = {
  containerId: 'abc123',
  netnsPath: '/var/run/netns/test-ns',
  ifName: 'eth0',
  args: [['IgnoreUnknown', '1'], ['K8S_POD_NAMESPACE', 'ns1'], ['K8S_POD_NAME', 'pod1'], ['K8S_POD_INFRA_CONTAINER_ID', 'abc123'], ['K8S_POD_UID', 'u-1']],
  capabilityArgs: {
    portMappings: [{ hostPort: 80, containerPort: 8080, protocol: 'tcp' }],
    bandwidth: { ingressRate: 1000 },
  },
};
const opts = { binDirs: [binA, binB], timeoutMs: 30_000 };
function list(cniVersion: string, plugins: NetworkConfigList['plugins']): NetworkConfigList {
  return { name: 'testnet', cniVersion, disableCheck: false, plugins, source: 'mem' };
}

describe('plugin chain', () => {
  test('ADD runs plugins in order, each seeing the previous result, with the CNI environment', async () => {
    const net = list('1.0.0', [
      { type: 'alpha', someOption: 42 },
      { type: 'beta', capabilities: { portMappings: true, dns: true } },
      { type: 'gamma', capabilities: { bandwidth: true, portMappings: false } },
    ]);
    const result = await addNetworkList(net, runtime, opts);
    assert.deepEqual(result.addedBy, ['alpha', 'beta', 'gamma']);
    const seen = calls();
    assert.deepEqual(seen.map((c) => c.type), ['alpha', 'beta', 'gamma']);
    for (const c of seen) {
      assert.equal(c.env.CNI_COMMAND, 'ADD');
      assert.equal(c.env.CNI_CONTAINERID, 'abc123');
      assert.equal(c.env.CNI_NETNS, '/var/run/netns/test-ns');
      assert.equal(c.env.CNI_IFNAME, 'eth0');
      assert.equal(c.env.CNI_PATH, `${binA}:${binB}`);
      assert.equal(c.env.CNI_ARGS, 'IgnoreUnknown=1;K8S_POD_NAMESPACE=ns1;K8S_POD_NAME=pod1;K8S_POD_INFRA_CONTAINER_ID=abc123;K8S_POD_UID=u-1');
      assert.equal(c.stdin.name, 'testnet');
      assert.equal(c.stdin.cniVersion, '1.0.0');
    }
    assert.equal(seen[0]!.stdin.someOption, 42);
    assert.equal(seen[0]!.stdin.prevResult, undefined);
    assert.equal(seen[0]!.stdin.runtimeConfig, undefined);
    assert.deepEqual((seen[1]!.stdin.prevResult as { addedBy: string[] }).addedBy, ['alpha']);
    // Only declared capabilities with a value: beta asked for dns too, but none was given.
    assert.deepEqual(seen[1]!.stdin.runtimeConfig, { portMappings: [{ hostPort: 80, containerPort: 8080, protocol: 'tcp' }] });
    assert.deepEqual(seen[2]!.stdin.runtimeConfig, { bandwidth: { ingressRate: 1000 } });
    assert.deepEqual((seen[2]!.stdin.prevResult as { addedBy: string[] }).addedBy, ['alpha', 'beta']);
  });

  test('the first bin dir holding a plugin wins', async () => {
    await addNetworkList(list('1.0.0', [{ type: 'gamma' }, { type: 'delta' }]), runtime, opts);
    assert.deepEqual(calls().map((c) => c.type), ['gamma', 'delta@b']);
    assert.equal(findPlugin('gamma', [binB, binA]), path.join(binB, 'gamma'));
  });

  test('DEL runs in reverse and passes the cached result from 0.4.0 on', async () => {
    const cached = { cniVersion: '0.4.0', ips: [{ address: '10.99.0.2/24' }] };
    await delNetworkList(list('0.4.0', [{ type: 'alpha' }, { type: 'beta' }]), runtime, cached, opts);
    const seen = calls();
    assert.deepEqual(seen.map((c) => `${c.env.CNI_COMMAND} ${c.type}`), ['DEL beta', 'DEL alpha']);
    assert.deepEqual(seen[0]!.stdin.prevResult, cached);
  });

  test('DEL under 0.3.1 gets no prevResult', async () => {
    await delNetworkList(list('0.3.1', [{ type: 'alpha' }]), runtime, { cniVersion: '0.3.1' }, opts);
    assert.equal(calls()[0]!.stdin.prevResult, undefined);
  });

  test('DEL keeps going after a failing plugin and then reports it', async () => {
    const net = list('1.0.0', [{ type: 'alpha' }, { type: 'beta', failOn: 'DEL' }, { type: 'gamma' }]);
    await assert.rejects(delNetworkList(net, runtime, undefined, opts), (err: unknown) => {
      assert.ok(err instanceof CniPluginError);
      assert.equal(err.plugin, 'beta');
      return true;
    });
    assert.deepEqual(calls().map((c) => c.type), ['gamma', 'beta', 'alpha']);
  });

  test('CHECK runs in order with the cached result', async () => {
    const cached = { cniVersion: '1.0.0', ips: [] };
    await checkNetworkList(list('1.0.0', [{ type: 'alpha' }, { type: 'beta' }]), runtime, cached, opts);
    const seen = calls();
    assert.deepEqual(seen.map((c) => `${c.env.CNI_COMMAND} ${c.type}`), ['CHECK alpha', 'CHECK beta']);
    assert.deepEqual(seen[1]!.stdin.prevResult, cached);
  });

  test('a CNI error on stdout becomes an error naming plugin, command, network, message and details', async () => {
    const net = list('1.0.0', [{ type: 'alpha' }, { type: 'beta', failOn: 'ADD' }, { type: 'gamma' }]);
    await assert.rejects(addNetworkList(net, runtime, opts), (err: unknown) => {
      assert.ok(err instanceof CniPluginError);
      assert.equal(err.cniCode, 11);
      assert.equal(err.message, 'CNI plugin "beta" failed ADD on network "testnet": boom: the details (CNI error code 11)');
      return true;
    });
    assert.deepEqual(calls().map((c) => c.type), ['alpha', 'beta']);
  });

  test('a failure without a JSON error reports exit status and stderr', async () => {
    const net = list('1.0.0', [{ type: 'alpha', failOn: 'ADD', plainFailure: true }]);
    await assert.rejects(addNetworkList(net, runtime, opts), /CNI plugin "alpha" failed ADD.*exit status 3: something broke badly/);
  });

  test('a missing or non-executable plugin is reported with the dirs searched', async () => {
    await assert.rejects(addNetworkList(list('1.0.0', [{ type: 'nosuch' }]), runtime, opts), (err: unknown) => {
      assert.ok(err instanceof CniPluginNotFoundError);
      assert.match(err.message, new RegExp(`"nosuch" not found in ${binA}, ${binB}`));
      return true;
    });
    assert.throws(() => findPlugin('not-executable', [binA]), CniPluginNotFoundError);
  });

  test('stdin overrides name and cniVersion and drops stale runtimeConfig', () => {
    const net = list('1.0.0', [{ type: 'x', name: 'other', cniVersion: '0.1.0', runtimeConfig: { stale: true } }]);
    const stdin = buildPluginStdin(net, net.plugins[0]!, runtime, undefined);
    assert.equal(stdin.name, 'testnet');
    assert.equal(stdin.cniVersion, '1.0.0');
    assert.equal(stdin.runtimeConfig, undefined);
  });

  test('CNI_ARGS values with separators are refused', () => {
    assert.throws(() => formatCniArgs([['K8S_POD_NAME', 'a;b']]), /contains/);
  });
});

describe('CniManager.status', () => {
  function managerWith(conf: object | undefined): CniManager {
    const confDir = mkdtempSync(path.join(root, 'conf-'));
    if (conf) writeFileSync(path.join(confDir, '10-test.conflist'), JSON.stringify(conf));
    return new CniManager({ confDir, binDirs: [binA, binB], cacheDir: path.join(root, 'cache') });
  }

  test('not ready without config, in containerd\'s words', () => {
    const s = managerWith(undefined).status();
    assert.equal(s.ready, false);
    assert.equal(s.reason, 'NetworkPluginNotReady');
    assert.match(s.message, /^cni config uninitialized/);
  });

  test('not ready when a plugin is missing', () => {
    const s = managerWith({ cniVersion: '1.0.0', name: 'n', plugins: [{ type: 'alpha' }, { type: 'nosuch' }] }).status();
    assert.equal(s.ready, false);
    assert.match(s.message, /"nosuch" not found/);
  });

  test('ready with a valid config whose plugins exist', () => {
    assert.deepEqual(managerWith({ cniVersion: '1.0.0', name: 'n', plugins: [{ type: 'alpha' }, { type: 'delta' }] }).status(), {
      ready: true,
      reason: '',
      message: '',
    });
  });

  test('setUpPod without config fails as a failed precondition', async () => {
    await assert.rejects(
      managerWith(undefined).setUpPod({ podId: 'p1', netnsPath: '/nonexistent', name: 'a', namespace: 'b', uid: 'c' }),
      (err: unknown) => (err as { code?: string }).code === 'FAILED_PRECONDITION',
    );
  });

  test('tearDownPod with nothing cached and no config does nothing', async () => {
    await managerWith(undefined).tearDownPod({ podId: 'p1', netnsPath: '/nonexistent' });
    assert.deepEqual(calls(), []);
  });

  test('tearDownPod with nothing cached runs DEL from the current config with an empty CNI_NETNS', async () => {
    const m = managerWith({ cniVersion: '1.0.0', name: 'n', plugins: [{ type: 'alpha' }, { type: 'beta' }] });
    await m.tearDownPod({ podId: 'p1', netnsPath: path.join(root, 'gone-netns'), name: 'pod', namespace: 'ns', uid: 'u' });
    const seen = calls();
    assert.deepEqual(seen.map((c) => `${c.env.CNI_COMMAND} ${c.type}`), ['DEL beta', 'DEL alpha']);
    assert.equal(seen[0]!.env.CNI_NETNS, '');
    assert.equal(seen[0]!.env.CNI_ARGS, 'IgnoreUnknown=1;K8S_POD_NAMESPACE=ns;K8S_POD_NAME=pod;K8S_POD_INFRA_CONTAINER_ID=p1;K8S_POD_UID=u');
  });

  test('bad pod ids are refused before any plugin runs', async () => {
    const m = managerWith({ cniVersion: '1.0.0', name: 'n', plugins: [{ type: 'alpha' }] });
    await assert.rejects(m.tearDownPod({ podId: '../x', netnsPath: '' }), (err: unknown) => (err as { code?: string }).code === 'INVALID_ARGUMENT');
    assert.deepEqual(calls(), []);
  });
});
