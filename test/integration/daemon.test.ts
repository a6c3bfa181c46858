import assert from 'node:assert/strict';
import { stat, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { status as GrpcStatus } from '@grpc/grpc-js';
import { BERTHCTL, makeDaemonDirs, runBerthd, startDaemon, type TestDaemon } from '../support/daemon.js';
import { crictl, run } from '../support/exec.js';

function grpcCode(err: unknown): number | undefined {
  return (err as { code?: number }).code;
}

describe('berthd', () => {
  let daemon: TestDaemon;

  before(async () => {
    daemon = await startDaemon();
  });

  after(async () => {
    await daemon.stop();
    await daemon.cleanup();
  });

  it('answers Version with berth and CRI v1', async () => {
    const res = await daemon.cri.runtime.Version({ version: '0.1.0' });
    assert.equal(res.runtime_name, 'berth');
    assert.equal(res.runtime_api_version, 'v1');
    assert.match(res.runtime_version, /^\d+\.\d+\.\d+/);
  });

  it('reports RuntimeReady and NetworkReady with reasons', async () => {
    const res = await daemon.cri.runtime.Status({ verbose: true });
    const conditions = new Map(res.status!.conditions.map((c) => [c.type, c]));
    assert.equal(conditions.get('RuntimeReady')?.status, true, JSON.stringify(res.status));
    const network = conditions.get('NetworkReady');
    assert.ok(network);
    // The test's conf_dir default (/etc/cni/net.d) may or may not hold a config on this host;
    // whatever it says, a false condition must carry a reason.
    if (!network.status) assert.equal(network.reason, 'NetworkPluginNotReady');
    const config = JSON.parse(res.info.config!) as { root: string };
    assert.equal(config.root, daemon.dirs.root);
  });

  it('reports NetworkReady false for an empty CNI conf dir, then true once a config appears', async () => {
    const confDir = join(daemon.dirs.base, 'net.d');
    const other = await startDaemon({ configToml: `[cni]\nconf_dir = "${confDir}"\n` });
    try {
      const before = await other.cri.runtime.Status({ verbose: false });
      const netBefore = before.status!.conditions.find((c) => c.type === 'NetworkReady')!;
      assert.equal(netBefore.status, false);
      assert.equal(netBefore.reason, 'NetworkPluginNotReady');
      await import('node:fs/promises').then((fs) => fs.mkdir(confDir, { recursive: true }));
      await writeFile(join(confDir, '10-test.conflist'), JSON.stringify({ cniVersion: '1.0.0', name: 't', plugins: [{ type: 'loopback' }] }));
      const afterRes = await other.cri.runtime.Status({ verbose: false });
      assert.equal(afterRes.status!.conditions.find((c) => c.type === 'NetworkReady')!.status, true);
    } finally {
      await other.stop();
      await other.cleanup();
    }
  });

  it('answers RuntimeConfig with the detected cgroup driver', async () => {
    const res = await daemon.cri.runtime.RuntimeConfig({});
    assert.ok(['CGROUPFS', 'SYSTEMD'].includes(res.linux!.cgroup_driver), res.linux!.cgroup_driver);
  });

  it('stores the pod CIDR from UpdateRuntimeConfig and rejects a malformed one', async () => {
    await daemon.cri.runtime.UpdateRuntimeConfig({ runtime_config: { network_config: { pod_cidr: '10.234.0.0/16' } } });
    const res = await daemon.cri.runtime.Status({ verbose: true });
    assert.equal((JSON.parse(res.info.config!) as { podCIDR: string }).podCIDR, '10.234.0.0/16');
    await assert.rejects(
      daemon.cri.runtime.UpdateRuntimeConfig({ runtime_config: { network_config: { pod_cidr: 'not-a-cidr' } } }),
      (err) => grpcCode(err) === GrpcStatus.INVALID_ARGUMENT,
    );
    const again = await daemon.cri.runtime.Status({ verbose: true });
    assert.equal((JSON.parse(again.info.config!) as { podCIDR: string }).podCIDR, '10.234.0.0/16');
  });

  it('answers UNIMPLEMENTED, naming the method, for an RPC not built', async () => {
    await assert.rejects(daemon.cri.runtime.CheckpointContainer({ container_id: 'x' }), (err) => {
      assert.equal(grpcCode(err), GrpcStatus.UNIMPLEMENTED);
      assert.match((err as Error).message, /CheckpointContainer/);
      return true;
    });
  });

  it('creates its socket with mode 0660', async () => {
    const info = await stat(daemon.dirs.socket);
    assert.ok(info.isSocket());
    assert.equal(info.mode & 0o777, 0o660);
  });

  it('logs one debug line per RPC with its code and duration', async () => {
    await daemon.cri.runtime.Version({ version: '0.1.0' });
    assert.match(daemon.output(), /rpc="runtime\.v1\.RuntimeService\/Version" code="OK" duration_ms=/);
    assert.match(daemon.output(), /rpc="runtime\.v1\.RuntimeService\/CheckpointContainer" code="UNIMPLEMENTED"/);
  });

  it('works with crictl version and crictl info', async () => {
    const v = await crictl(daemon.dirs.socket, ['version']);
    assert.equal(v.code, 0, v.stderr);
    assert.match(v.stdout, /RuntimeName:\s+berth/);
    assert.match(v.stdout, /RuntimeApiVersion:\s+v1/);
    const info = await crictl(daemon.dirs.socket, ['info']);
    assert.equal(info.code, 0, info.stderr);
    const parsed = JSON.parse(info.stdout) as { status: { conditions: { type: string; status: boolean }[] } };
    assert.deepEqual(parsed.status.conditions.map((c) => c.type), ['RuntimeReady', 'NetworkReady']);
  });

  it('works with berthctl version and info', async () => {
    const v = await run(process.execPath, [BERTHCTL, '--address', daemon.dirs.socket, 'version']);
    assert.equal(v.code, 0, v.stderr);
    assert.match(v.stdout, /Runtime:\s+berth/);
    const info = await run(process.execPath, [BERTHCTL, '--address', daemon.dirs.socket, 'info']);
    assert.equal(info.code, 0, info.stderr);
    assert.match(info.stdout, /RuntimeReady\s+true/);
    assert.match(info.stdout, /Cgroup driver\s+(CGROUPFS|SYSTEMD)/);
  });

  it('refuses a second berthd on the same root and keeps serving', async () => {
    const second = await runBerthd([
      '--config', daemon.dirs.configPath,
      '--root', daemon.dirs.root,
      '--state', daemon.dirs.state,
      '--address', join(daemon.dirs.base, 'second.sock'),
    ]);
    assert.equal(second.code, 1);
    assert.match(second.output, /another berthd \(pid \d+\) is already running/);
    const res = await daemon.cri.runtime.Version({ version: '0.1.0' });
    assert.equal(res.runtime_name, 'berth');
  });
});

describe('berthd lifecycle', () => {
  it('exits 0 on SIGTERM, removes its socket and releases the root lock', async () => {
    const daemon = await startDaemon();
    try {
      await daemon.cri.runtime.Version({ version: '0.1.0' });
      const code = await daemon.stop('SIGTERM');
      assert.equal(code, 0, daemon.output());
      assert.equal(existsSync(daemon.dirs.socket), false);
      const next = await startDaemon({ dirs: daemon.dirs });
      assert.equal(await next.stop(), 0);
    } finally {
      await daemon.cleanup();
    }
  });

  it('starts after a kill -9 left a stale socket and lock behind, keeping the pod CIDR', async () => {
    const first = await startDaemon();
    try {
      await first.cri.runtime.UpdateRuntimeConfig({ runtime_config: { network_config: { pod_cidr: '10.234.0.0/16' } } });
      await first.stop('SIGKILL');
      assert.ok(existsSync(first.dirs.socket));
      assert.ok(existsSync(join(first.dirs.root, 'berthd.lock')));
      const second = await startDaemon({ dirs: first.dirs });
      try {
        const res = await second.cri.runtime.Status({ verbose: true });
        assert.equal((JSON.parse(res.info.config!) as { podCIDR: string }).podCIDR, '10.234.0.0/16');
      } finally {
        assert.equal(await second.stop(), 0);
      }
    } finally {
      await first.cleanup();
    }
  });

  it('fails to start on a bad config file, naming the key', async () => {
    const cases: [string, RegExp][] = [
      ['bogus_key = 1\n', /config key "bogus_key": unknown key/],
      ['log_level = 3\n', /config key "log_level": expected a string/],
      ['log_level = "loud"\n', /config key "log_level": "loud" is not one of/],
      ['[cni]\nbin_dirs = "x"\n', /config key "cni.bin_dirs": expected an array of strings/],
      ['[stream]\nport = 70000\n', /config key "stream.port": 70000 is outside/],
      ['[runtimes.fast]\nbinary = "x"\n', /config key "runtimes.fast.binary": unknown key/],
      ['[registry]\nconfig_path = 5\n', /config key "registry.config_path": expected a string, got a number/],
      ['this is not toml\n', /not valid TOML/],
    ];
    for (const [text, expected] of cases) {
      const dirs = await makeDaemonDirs(text);
      try {
        const res = await runBerthd(['--config', dirs.configPath, '--root', dirs.root, '--state', dirs.state, '--address', dirs.socket]);
        assert.equal(res.code, 1, `${text} → ${res.output}`);
        assert.match(res.output, expected);
        assert.equal(existsSync(dirs.socket), false);
      } finally {
        await import('node:fs/promises').then((fs) => fs.rm(dirs.base, { recursive: true, force: true }));
      }
    }
  });

  it('prints the full default configuration', async () => {
    const res = await runBerthd(['config', 'default']);
    assert.equal(res.code, 0);
    for (const key of ['root =', 'state =', 'address =', 'log_level =', 'log_format =', 'cgroup_driver =', 'sandbox_image =', 'default_runtime =', '[runtimes.runc]', '[registry]', 'config_path =', '[cni]', 'bin_dirs =', '[stream]', '[metrics]']) {
      assert.ok(res.output.includes(key), `missing ${key}`);
    }
  });
});
