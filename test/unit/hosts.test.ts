import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { InvalidArgumentError } from '../../src/core/errors.js';
import { type RegistryHost, isLocalhost, resolveHosts } from '../../src/core/distribution/hosts.js';

let root: string;
before(async () => {
  root = await mkdtemp(join(tmpdir(), 'berth-hosts-'));
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

/** A fresh config_path with the given `<dir>/hosts.toml` files. */
async function configDir(files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(join(root, 'certs.d-'));
  for (const [host, text] of Object.entries(files)) {
    await mkdir(join(dir, host), { recursive: true });
    await writeFile(join(dir, host, 'hosts.toml'), text);
  }
  return dir;
}

const caps = (h: RegistryHost | undefined): string[] => [...(h?.capabilities ?? [])].sort();

describe('resolveHosts defaults', () => {
  const cases: [string, string][] = [
    ['docker.io', 'https://registry-1.docker.io/v2'],
    ['registry.k8s.io', 'https://registry.k8s.io/v2'],
    ['quay.io:8443', 'https://quay.io:8443/v2'],
    ['localhost:5000', 'http://localhost:5000/v2'],
    ['127.0.0.1:5000', 'http://127.0.0.1:5000/v2'],
    ['localhost', 'http://localhost/v2'],
    ['localhost:443', 'https://localhost/v2'],
  ];
  for (const [domain, url] of cases) {
    it(`${domain} -> ${url}`, async () => {
      for (const configPath of [undefined, join(root, 'does-not-exist')]) {
        const hosts = await resolveHosts(configPath, domain);
        assert.equal(hosts.length, 1);
        assert.equal(hosts[0]?.url.href, url);
        assert.deepEqual(caps(hosts[0]), ['pull', 'push', 'resolve']);
        assert.equal(hosts[0]?.skipVerify, false);
        assert.deepEqual(hosts[0]?.caPaths, []);
        assert.deepEqual(hosts[0]?.headers, {});
      }
    });
  }

  it('isLocalhost', () => {
    assert.equal(isLocalhost('localhost'), true);
    assert.equal(isLocalhost('127.0.0.1:5000'), true);
    assert.equal(isLocalhost('127.0.0.1:443'), false);
    assert.equal(isLocalhost('example.com'), false);
  });
});

describe('resolveHosts with hosts.toml', () => {
  it('orders mirrors in file order before the server and parses every field', async () => {
    const dir = await configDir({
      'docker.io': `
server = "https://registry-1.docker.io"
capabilities = ["pull", "resolve", "push"]
ca = "server-ca.pem"

[header]
  x-server = "s"

[host."http://zeta-mirror:5000"]
  capabilities = ["pull"]

[host."https://alpha.mirror/base"]
  capabilities = ["Pull", "resolve"]
  skip_verify = true
  ca = ["/etc/ca-1.pem", "rel/ca-2.pem"]
  client = "/etc/client.pem"
  [host."https://alpha.mirror/base".header]
    x-custom = ["a", "b"]
    X-Single = "one"

[host."https://raw.mirror/v2/upstream"]
  override_path = true
`,
    });
    const hosts = await resolveHosts(dir, 'docker.io');
    assert.deepEqual(
      hosts.map((h) => h.url.href),
      ['http://zeta-mirror:5000/v2', 'https://alpha.mirror/base/v2', 'https://raw.mirror/v2/upstream', 'https://registry-1.docker.io/v2'],
    );
    assert.deepEqual(caps(hosts[0]), ['pull']);
    assert.deepEqual(caps(hosts[1]), ['pull', 'resolve']);
    assert.deepEqual(caps(hosts[2]), ['pull', 'push', 'resolve'], 'capabilities default to all three');
    assert.equal(hosts[1]?.skipVerify, true);
    assert.equal(hosts[0]?.skipVerify, false);
    assert.deepEqual(hosts[1]?.caPaths, ['/etc/ca-1.pem', join(dir, 'docker.io', 'rel/ca-2.pem')]);
    assert.deepEqual(hosts[1]?.headers, { 'x-custom': ['a', 'b'], 'x-single': ['one'] });
    assert.deepEqual(hosts[3]?.caPaths, [join(dir, 'docker.io', 'server-ca.pem')]);
    assert.deepEqual(hosts[3]?.headers, { 'x-server': ['s'] });
  });

  it('keeps /v2 when the URL already ends with it and adds https when there is no scheme', async () => {
    const dir = await configDir({
      'example.com': `
server = "mirror.example.net/v2/"
[host."other.example.net:8443/prefix"]
`,
    });
    const hosts = await resolveHosts(dir, 'example.com');
    assert.deepEqual(hosts.map((h) => h.url.href), ['https://other.example.net:8443/prefix/v2', 'https://mirror.example.net/v2']);
  });

  it('falls back to the default upstream when hosts.toml has no server', async () => {
    const dir = await configDir({
      'registry.k8s.io': `[host."http://127.0.0.1:5000"]\ncapabilities = ["pull", "resolve"]\n`,
    });
    const hosts = await resolveHosts(dir, 'registry.k8s.io');
    assert.deepEqual(hosts.map((h) => h.url.href), ['http://127.0.0.1:5000/v2', 'https://registry.k8s.io/v2']);
    assert.deepEqual(caps(hosts[1]), ['pull', 'push', 'resolve']);
  });

  it('uses _default for hosts without a directory, with that host as the server', async () => {
    const dir = await configDir({
      _default: `[host."https://mirror.local"]\ncapabilities = ["pull", "resolve"]\n`,
      'special.io': `server = "https://special-upstream.io"\n`,
    });
    const other = await resolveHosts(dir, 'gcr.io');
    assert.deepEqual(other.map((h) => h.url.href), ['https://mirror.local/v2', 'https://gcr.io/v2']);
    const special = await resolveHosts(dir, 'special.io');
    assert.deepEqual(special.map((h) => h.url.href), ['https://special-upstream.io/v2']);
  });

  it('finds host_port_ and host:port directories, preferring host_port_', async () => {
    const dir = await configDir({
      'myregistry.io:5000': `server = "https://colon.example"\n`,
      'other.io:5000': `server = "https://colon-only.example"\n`,
      'myregistry.io_5000_': `server = "https://underscore.example"\n`,
    });
    assert.equal((await resolveHosts(dir, 'myregistry.io:5000'))[0]?.url.href, 'https://underscore.example/v2');
    assert.equal((await resolveHosts(dir, 'other.io:5000'))[0]?.url.href, 'https://colon-only.example/v2');
    assert.equal((await resolveHosts(dir, 'myregistry.io'))[0]?.url.href, 'https://myregistry.io/v2');
  });

  it('override_path on the server keeps its path as the API root', async () => {
    const dir = await configDir({ 'x.io': `server = "https://x.io/custom/root"\noverride_path = true\n` });
    assert.equal((await resolveHosts(dir, 'x.io'))[0]?.url.href, 'https://x.io/custom/root');
  });

  it('a directory without hosts.toml uses Docker-style *.crt files as CAs', async () => {
    const dir = await mkdtemp(join(root, 'certs.d-'));
    await mkdir(join(dir, 'secure.io'));
    await writeFile(join(dir, 'secure.io', 'b.crt'), 'x');
    await writeFile(join(dir, 'secure.io', 'a.crt'), 'x');
    await writeFile(join(dir, 'secure.io', 'client.key'), 'x');
    const hosts = await resolveHosts(dir, 'secure.io');
    assert.equal(hosts.length, 1);
    assert.deepEqual(hosts[0]?.caPaths, [join(dir, 'secure.io', 'a.crt'), join(dir, 'secure.io', 'b.crt')]);
  });

  const invalid: [string, RegExp][] = [
    ['server = [', /invalid TOML/],
    ['capabilities = ["pull", "fly"]', /unknown capability "fly"/],
    ['capabilities = "pull"', /capabilities must be an array/],
    ['skip_verify = "yes"', /skip_verify must be true or false/],
    ['ca = 3', /ca must be a path/],
    ['[header]\nx = 1', /header x must be a string/],
    ['server = 5', /server must be a string/],
    ['server = "ftp://x"', /http or https/],
    ['[host."https://m"]\ncapabilities = ["nope"]', /host."https:\/\/m".*unknown capability/],
  ];
  for (const [text, reason] of invalid) {
    it(`rejects ${JSON.stringify(text)}`, async () => {
      const dir = await configDir({ 'bad.io': text });
      await assert.rejects(resolveHosts(dir, 'bad.io'), (err: unknown) => {
        assert.ok(err instanceof InvalidArgumentError);
        assert.match(err.message, reason);
        assert.match(err.message, /hosts\.toml/);
        return true;
      });
    });
  }
});
