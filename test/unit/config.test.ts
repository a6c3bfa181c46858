import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parse } from 'smol-toml';
import { DEFAULT_CONFIG_TOML, defaultConfig } from '../../src/config/schema.js';
import { validateConfig } from '../../src/config/validate.js';
import { detectCgroupLayout } from '../../src/core/cgroups/detect.js';

describe('config', () => {
  it('the printed default file parses to exactly the embedded defaults', () => {
    assert.deepEqual(validateConfig(parse(DEFAULT_CONFIG_TOML) as Record<string, unknown>), defaultConfig());
  });

  it('an empty file gives the defaults', () => {
    assert.deepEqual(validateConfig({}), defaultConfig());
  });

  it('keeps the documented keys and defaults', () => {
    const c = defaultConfig();
    assert.equal(c.root, '/var/lib/berth');
    assert.equal(c.state, '/run/berth');
    assert.equal(c.address, '/run/berth/berth.sock');
    assert.equal(c.sandbox_image, 'registry.k8s.io/pause:3.10');
    assert.equal(c.registry.config_path, '/etc/berth/certs.d');
    assert.deepEqual(c.cni.bin_dirs, ['/opt/cni/bin', '/usr/lib/cni']);
    assert.equal(c.metrics.address, '127.0.0.1:10361');
  });

  it('merges a partial file over the defaults, adding runtime handlers', () => {
    const c = validateConfig(parse('log_level = "debug"\n[runtimes.kata]\npath = "/opt/kata/runtime"\n[cni]\nconf_dir = "/x"\n') as Record<string, unknown>);
    assert.equal(c.log_level, 'debug');
    assert.equal(c.runtimes.kata?.path, '/opt/kata/runtime');
    assert.equal(c.runtimes.runc?.path, 'runc');
    assert.equal(c.cni.conf_dir, '/x');
    assert.deepEqual(c.cni.bin_dirs, ['/opt/cni/bin', '/usr/lib/cni']);
  });

  it('rejects a default_runtime with no handler', () => {
    assert.throws(() => validateConfig({ default_runtime: 'kata' }), /config key "default_runtime": "kata" has no \[runtimes.kata\] table/);
  });

  it('rejects relative directories', () => {
    assert.throws(() => validateConfig({ root: 'relative/dir' }), /config key "root": "relative\/dir" must be an absolute path/);
  });

  it('rejects a table given as a value', () => {
    assert.throws(() => validateConfig({ cni: 'x' }), /config key "cni": expected a table, got a string/);
  });
});

describe('cgroup layout detection', () => {
  it('tells v1, hybrid and unified hosts apart', () => {
    const v1 = 'cgroup /sys/fs/cgroup/memory cgroup rw 0 0\n';
    const hybrid = v1 + 'cgroup2 /sys/fs/cgroup/unified cgroup2 rw 0 0\n';
    const v2 = 'cgroup2 /sys/fs/cgroup cgroup2 rw 0 0\n';
    assert.equal(detectCgroupLayout(v1), 'v1');
    assert.equal(detectCgroupLayout(hybrid), 'hybrid');
    assert.equal(detectCgroupLayout(v2), 'v2');
  });
});
