import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse } from 'smol-toml';
import { credentialsLookup, redactRegistryConfigs } from '../../src/config/registry-auth.js';
import { DEFAULT_CONFIG_TOML, defaultConfig } from '../../src/config/schema.js';
import { loadStreamTls } from '../../src/config/stream-tls.js';
import { ConfigError, validateConfig } from '../../src/config/validate.js';
import { selfSignedCertificate, type TestCertificate } from '../support/tls.js';
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

  it('takes ignore_image_defined_volume as a boolean only', () => {
    assert.equal(defaultConfig().ignore_image_defined_volume, false);
    assert.equal(validateConfig({ ignore_image_defined_volume: true }).ignore_image_defined_volume, true);
    assert.throws(() => validateConfig({ ignore_image_defined_volume: 'yes' }), /config key "ignore_image_defined_volume": expected true or false, got a string/);
  });

  it('rejects relative directories', () => {
    assert.throws(() => validateConfig({ root: 'relative/dir' }), /config key "root": "relative\/dir" must be an absolute path/);
  });

  it('rejects a table given as a value', () => {
    assert.throws(() => validateConfig({ cni: 'x' }), /config key "cni": expected a table, got a string/);
  });
});

describe('streaming TLS settings', () => {
  let dir: string;
  let first: TestCertificate;
  let second: TestCertificate;
  const stream = (tls_cert_file: string, tls_key_file: string) => ({ ...defaultConfig().stream, tls_cert_file, tls_key_file });
  const namesKey = (key: string, problem: RegExp) => (err: unknown) =>
    err instanceof ConfigError && err.key === key && problem.test(err.message);

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'berth-config-tls-'));
    first = await selfSignedCertificate(dir, 'first');
    second = await selfSignedCertificate(dir, 'second');
  });

  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('defaults to plain http: no certificate, nothing read', async () => {
    assert.equal(defaultConfig().stream.tls_cert_file, '');
    assert.equal(defaultConfig().stream.tls_key_file, '');
    assert.equal(await loadStreamTls(defaultConfig().stream), undefined);
  });

  it('takes both files or neither, as absolute paths', () => {
    const both = validateConfig({ stream: { tls_cert_file: '/etc/berth/stream.crt', tls_key_file: '/etc/berth/stream.key' } });
    assert.deepEqual(both.stream, stream('/etc/berth/stream.crt', '/etc/berth/stream.key'));
    assert.throws(() => validateConfig({ stream: { tls_cert_file: '/etc/berth/stream.crt' } }), namesKey('stream.tls_key_file', /must be set together with stream.tls_cert_file/));
    assert.throws(() => validateConfig({ stream: { tls_key_file: '/etc/berth/stream.key' } }), namesKey('stream.tls_cert_file', /must be set together with stream.tls_key_file/));
    assert.throws(
      () => validateConfig({ stream: { tls_cert_file: 'stream.crt', tls_key_file: '/etc/berth/stream.key' } }),
      namesKey('stream.tls_cert_file', /must be an absolute path/),
    );
    assert.throws(() => validateConfig({ stream: { tls_key_file: 7 } }), namesKey('stream.tls_key_file', /expected a string/));
  });

  it('reads a matching certificate and key', async () => {
    const tls = await loadStreamTls(stream(first.certFile, first.keyFile));
    assert.deepEqual(tls, { cert: first.cert, key: first.key });
  });

  it('names the key whose file is missing or unreadable', async () => {
    await assert.rejects(loadStreamTls(stream(join(dir, 'absent.crt'), first.keyFile)), namesKey('stream.tls_cert_file', /cannot read .*absent\.crt: .*ENOENT/));
    await assert.rejects(loadStreamTls(stream(first.certFile, join(dir, 'absent.key'))), namesKey('stream.tls_key_file', /cannot read .*absent\.key: .*ENOENT/));
    await assert.rejects(loadStreamTls(stream(first.certFile, dir)), namesKey('stream.tls_key_file', /cannot read .*EISDIR/));
  });

  it('names the key whose file holds no certificate or key, and a key of another certificate', async () => {
    const garbage = join(dir, 'garbage.pem');
    await writeFile(garbage, 'not a PEM file\n');
    await assert.rejects(loadStreamTls(stream(garbage, first.keyFile)), namesKey('stream.tls_cert_file', /holds no PEM certificate/));
    await assert.rejects(loadStreamTls(stream(first.certFile, garbage)), namesKey('stream.tls_key_file', /holds no usable PEM private key/));
    // The certificate is no key and the key no certificate.
    await assert.rejects(loadStreamTls(stream(first.keyFile, first.keyFile)), namesKey('stream.tls_cert_file', /holds no PEM certificate/));
    await assert.rejects(loadStreamTls(stream(first.certFile, second.keyFile)), namesKey('stream.tls_key_file', /is not the private key of the certificate/));
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

describe('registry credentials in berth.toml', () => {
  const load = (toml: string) => validateConfig(parse(toml) as Record<string, unknown>);

  it('accepts each credential form per host and looks them up by the endpoint host', () => {
    const c = load(`
[registry.configs."Registry.Example.com:5000".auth]
username = "puller"
password = "s3cret"
[registry.configs."tokens.example.com".auth]
identitytoken = "refresh-1"
[registry.configs."basic.example.com:443".auth]
auth = "${Buffer.from('bob:pa:ss').toString('base64')}"
[registry.configs."docker.io".auth]
username = "hub"
password = "hubpass"
`);
    assert.deepEqual(Object.keys(c.registry.configs).sort(), ['basic.example.com', 'docker.io', 'registry.example.com:5000', 'tokens.example.com']);
    const lookup = credentialsLookup(c.registry.configs);
    assert.deepEqual(lookup('registry.example.com:5000'), { username: 'puller', password: 's3cret' });
    assert.deepEqual(lookup('tokens.example.com'), { identityToken: 'refresh-1' });
    assert.deepEqual(lookup('basic.example.com'), { username: 'bob', password: 'pa:ss' });
    assert.deepEqual(lookup('registry-1.docker.io'), { username: 'hub', password: 'hubpass' });
    assert.equal(lookup('registry.example.com'), undefined, 'another port is another registry');
    assert.equal(lookup('mirror.example.com'), undefined);
  });

  it('redacts every secret for crictl info', () => {
    const c = load('[registry.configs."r.example.com".auth]\nusername = "u"\npassword = "p"\n[registry.configs."t.example.com".auth]\nidentitytoken = "t"\n');
    const shown = JSON.stringify(redactRegistryConfigs(c.registry.configs));
    assert.doesNotMatch(shown, /"p"|"t"/);
    assert.match(shown, /"username":"u"/);
    assert.match(shown, /<redacted>/);
  });

  it('rejects bad hosts, unknown keys, wrong types and ambiguous or incomplete credentials, naming the key', () => {
    const cases: [string, RegExp][] = [
      ['[registry]\nconfigs = "x"', /config key "registry.configs": expected a table/],
      ['[registry.configs."https://r.example.com".auth]\nusername = "u"', /config key "registry.configs."https:\/\/r.example.com"": must be a registry host or host:port/],
      ['[registry.configs."r.example.com/v2".auth]\nusername = "u"', /must be a registry host or host:port, without a scheme or path/],
      ['[registry.configs."r.example.com".tls]\ninsecure_skip_verify = true', /config key "registry.configs."r.example.com".tls": unknown key \(TLS and mirrors go in config_path/],
      ['[registry.configs."r.example.com".auth]\nuser = "u"', /config key "registry.configs."r.example.com".auth.user": unknown key; use username, password, auth, identitytoken/],
      ['[registry.configs."r.example.com".auth]\npassword = 5', /config key "registry.configs."r.example.com".auth.password": expected a string, got a number/],
      ['[registry.configs."r.example.com".auth]\n', /config key "registry.configs."r.example.com".auth": no credentials/],
      ['[registry.configs."r.example.com".auth]\nusername = "u"\nidentitytoken = "t"', /auth": set only one of/],
      ['[registry.configs."r.example.com".auth]\npassword = "p"', /auth.username": must be set with password/],
      ['[registry.configs."r.example.com".auth]\nauth = "not base64!"', /auth.auth": must be base64 of "username:password"/],
      [`[registry.configs."r.example.com".auth]\nauth = "${Buffer.from('nocolon').toString('base64')}"`, /no colon after decoding/],
      ['[registry.configs."R.example.com".auth]\nusername = "a"\n[registry.configs."r.example.com".auth]\nusername = "b"', /the same host as another entry/],
    ];
    for (const [toml, expected] of cases) assert.throws(() => load(toml), expected, toml);
  });
});
