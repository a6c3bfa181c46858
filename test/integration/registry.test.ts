/**
 * The registry client against a real docker-registry, directly and through small
 * Node proxies that add auth, corrupt bodies, loop, or never stop talking.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { text } from 'node:stream/consumers';
import { pipeline } from 'node:stream/promises';
import { after, before, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { pack } from 'tar-stream';
import {
  type ContentDescriptor,
  type Credentials,
  type RegistryHost,
  MAX_MANIFEST_BYTES,
  RegistryClient,
  type RegistryClientOptions,
} from '../../src/core/distribution/client.js';
import {
  DigestMismatchError,
  RegistryAuthError,
  RegistryError,
  RegistryNotFoundError,
  SizeLimitError,
} from '../../src/core/distribution/errors.js';
import { resolveHosts } from '../../src/core/distribution/hosts.js';
import { parseReference } from '../../src/core/distribution/reference.js';
import { sha256Digest, verifyingStream } from '../../src/core/distribution/verify.js';
import { parseImageConfig, parseIndex, parseManifest, selectPlatform } from '../../src/core/images/manifest.js';
import { MediaType } from '../../src/core/images/media-types.js';
import { startRegistry, type TestRegistry } from '../support/registry.js';

// ---------------------------------------------------------------------------
// Test image: config + two layers (one gzip, one plain tar)

interface Blob extends ContentDescriptor {
  data: Buffer;
}

interface TestImage {
  config: Blob;
  layers: Blob[];
  manifest: Blob;
}

function blob(mediaType: string, data: Buffer): Blob {
  return { mediaType, digest: sha256Digest(data), size: data.length, data };
}

async function tarOf(files: Record<string, string>): Promise<Buffer> {
  const p = pack();
  for (const [name, content] of Object.entries(files)) p.entry({ name, mode: 0o644, mtime: new Date(0) }, content);
  p.finalize();
  const chunks: Buffer[] = [];
  for await (const chunk of p) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

async function buildImage(architecture = 'amd64', salt = ''): Promise<TestImage> {
  const tar1 = await tarOf({ 'hello.txt': `hello ${architecture}${salt}\n` });
  const tar2 = await tarOf({ 'etc/motd': `motd ${architecture}${salt}\n`, 'big.bin': randomBytes(200_000).toString('base64') });
  const layers = [blob(MediaType.ociLayerGzip, gzipSync(tar1)), blob(MediaType.ociLayer, tar2)];
  const config = blob(
    MediaType.ociConfig,
    Buffer.from(
      JSON.stringify({
        architecture,
        os: 'linux',
        config: { Cmd: ['/bin/sh'], Env: ['PATH=/bin'] },
        rootfs: { type: 'layers', diff_ids: [sha256Digest(tar1), sha256Digest(tar2)] },
        history: [{ created_by: 'test' }, { created_by: 'test' }],
      }),
    ),
  );
  const manifest = blob(
    MediaType.ociManifest,
    Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MediaType.ociManifest,
        config: { mediaType: config.mediaType, digest: config.digest, size: config.size },
        layers: layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size })),
      }),
    ),
  );
  return { config, layers, manifest };
}

const descOf = (b: Blob): ContentDescriptor => ({ mediaType: b.mediaType, digest: b.digest, size: b.size });

async function pushImage(client: RegistryClient, host: RegistryHost, repo: string, image: TestImage, tag?: string): Promise<void> {
  for (const b of [...image.layers, image.config]) await client.pushBlob(host, repo, descOf(b), () => Readable.from([b.data]));
  await client.pushManifest(host, repo, tag ?? image.manifest.digest, image.manifest.mediaType, image.manifest.data);
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

// ---------------------------------------------------------------------------
// A test HTTP server (proxy, token server, storage) that closes everything on stop

interface TestServer {
  port: number;
  url: string;
  host: string;
  stop: () => Promise<void>;
}

async function startServer(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<TestServer> {
  const server = http.createServer((req, res) => {
    try {
      handler(req, res);
    } catch (err) {
      res.statusCode = 500;
      res.end(String(err));
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    host: `127.0.0.1:${port}`,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Forward a request to the registry; the Host header is kept so upload Locations point back at the proxy. */
function forward(
  upstream: TestRegistry,
  req: IncomingMessage,
  res: ServerResponse,
  options: { path?: string; mutateBody?: (body: Buffer) => Buffer; dropHeaders?: string[] } = {},
): void {
  const headers = { ...req.headers };
  delete headers['authorization'];
  const up = http.request(
    { host: '127.0.0.1', port: upstream.port, method: req.method, path: options.path ?? req.url, headers },
    (ur) => {
      const outHeaders = { ...ur.headers };
      for (const h of options.dropHeaders ?? []) delete outHeaders[h];
      if (options.mutateBody && ur.statusCode === 200) {
        const mutate = options.mutateBody;
        readAll(ur).then((body) => {
          const changed = mutate(body);
          outHeaders['content-length'] = String(changed.length);
          res.writeHead(200, outHeaders);
          res.end(changed);
        }, () => res.destroy());
        return;
      }
      res.writeHead(ur.statusCode ?? 502, outHeaders);
      ur.pipe(res);
    },
  );
  up.on('error', () => res.destroy());
  req.pipe(up);
}

function basicOk(req: IncomingMessage, user: string, pass: string): boolean {
  return req.headers.authorization === `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;
}

// ---------------------------------------------------------------------------

let registry: TestRegistry;
const cleanups: (() => Promise<void> | void)[] = [];

before(async () => {
  registry = await startRegistry();
  cleanups.push(() => registry.stop());
});

after(async () => {
  for (const fn of cleanups.reverse()) await fn();
});

function newClient(options: RegistryClientOptions = {}): RegistryClient {
  const client = new RegistryClient({ timeoutMs: 10_000, ...options });
  cleanups.push(() => client.close());
  return client;
}

async function directHost(domain = registry.host): Promise<RegistryHost> {
  const [host] = await resolveHosts(undefined, domain);
  assert.ok(host);
  return host;
}

describe('push and pull against docker-registry', () => {
  it('pushes an image, resolves it by tag and by digest, and fetches verified blobs', async () => {
    const client = newClient();
    const image = await buildImage();
    const host = await client.pushHost(registry.host);
    assert.equal(host.url.href, `${registry.url}/v2`);
    await pushImage(client, host, 'test/simple', image, 'v1');

    const byTag = await client.resolve(`${registry.host}/test/simple:v1`);
    assert.equal(byTag.descriptor.digest, image.manifest.digest);
    assert.equal(byTag.descriptor.mediaType, MediaType.ociManifest);
    assert.equal(byTag.descriptor.size, image.manifest.size);
    assert.deepEqual(byTag.body, image.manifest.data);

    const byDigest = await client.resolve(parseReference(`${registry.host}/test/simple@${image.manifest.digest}`));
    assert.equal(byDigest.descriptor.digest, image.manifest.digest);

    const manifest = parseManifest(byTag.body, byTag.descriptor.mediaType);
    const configStream = await client.fetchBlob(byTag.host, 'test/simple', manifest.config);
    const configBytes = await readAll(configStream.pipe(verifyingStream(manifest.config)));
    assert.deepEqual(parseImageConfig(configBytes).rootfs.diff_ids.length, 2);
    for (const [i, layer] of manifest.layers.entries()) {
      const out: Buffer[] = [];
      await pipeline(await client.fetchBlob(byTag.host, 'test/simple', layer), verifyingStream(layer), async (src: AsyncIterable<Buffer>) => {
        for await (const c of src) out.push(c);
      });
      assert.deepEqual(Buffer.concat(out), image.layers[i]?.data);
    }
  });

  it('skips blobs the registry already has and resumes a blob with Range', async () => {
    const client = newClient();
    const image = await buildImage('amd64', 'resume');
    const host = await directHost();
    await pushImage(client, host, 'test/resume', image, 'v1');
    const layer = image.layers[1] as Blob;
    let opened = 0;
    const uploaded = await client.pushBlob(host, 'test/resume', descOf(layer), () => {
      opened++;
      return Readable.from([layer.data]);
    });
    assert.equal(uploaded, false);
    assert.equal(opened, 0);

    const offset = 1000;
    const rest = await readAll(await client.fetchBlob(host, 'test/resume', descOf(layer), offset));
    assert.deepEqual(rest, layer.data.subarray(offset));
  });

  it('handles relative upload Locations', async () => {
    const relative = await startRegistry({ relativeUrls: true });
    cleanups.push(() => relative.stop());
    const client = newClient();
    const image = await buildImage('amd64', 'relative');
    await pushImage(client, await directHost(relative.host), 'test/rel', image, 'v1');
    const resolved = await client.resolve(`${relative.host}/test/rel:v1`);
    assert.equal(resolved.descriptor.digest, image.manifest.digest);
  });

  it('reports a missing tag as not found and a corrupt stream through verifyingStream', async () => {
    const client = newClient();
    await assert.rejects(client.resolve(`${registry.host}/test/simple:nope`), RegistryNotFoundError);
    const image = await buildImage('amd64', 'verify');
    const host = await directHost();
    await pushImage(client, host, 'test/verify', image, 'v1');
    const layer = image.layers[0] as Blob;
    const wrong = { ...descOf(layer), digest: sha256Digest('other') };
    await assert.rejects(
      readAll((await client.fetchBlob(host, 'test/verify', descOf(layer))).pipe(verifyingStream(wrong))),
      (err: unknown) => err instanceof DigestMismatchError && err.message.includes(wrong.digest) && err.message.includes(layer.digest),
    );
    const short = { ...descOf(layer), size: layer.size - 1 };
    await assert.rejects(readAll((await client.fetchBlob(host, 'test/verify', descOf(layer))).pipe(verifyingStream(short))), SizeLimitError);
  });

  it('resolves an OCI index with two platforms and selects linux/amd64', async () => {
    const client = newClient();
    const host = await directHost();
    const amd64 = await buildImage('amd64', 'multi');
    const arm64 = await buildImage('arm64', 'multi');
    await pushImage(client, host, 'test/multi', arm64);
    await pushImage(client, host, 'test/multi', amd64);
    const index = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MediaType.ociIndex,
        manifests: [
          { ...descOf(arm64.manifest), platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } },
          { ...descOf(amd64.manifest), platform: { os: 'linux', architecture: 'amd64' } },
        ],
      }),
    );
    await client.pushManifest(host, 'test/multi', 'latest', MediaType.ociIndex, index);

    const resolved = await client.resolve(`${registry.host}/test/multi`);
    assert.equal(resolved.descriptor.mediaType, MediaType.ociIndex);
    assert.equal(resolved.descriptor.digest, sha256Digest(index));
    const chosen = selectPlatform(parseIndex(resolved.body, resolved.descriptor.mediaType), { os: 'linux', architecture: 'amd64' });
    assert.equal(chosen.digest, amd64.manifest.digest);
    const { body } = await client.fetchManifest(resolved.host, 'test/multi', chosen.digest);
    const config = parseManifest(body).config;
    const cfg = parseImageConfig(await readAll(await client.fetchBlob(resolved.host, 'test/multi', config)));
    assert.equal(cfg.architecture, 'amd64');
  });
});

describe('mirrors from hosts.toml', () => {
  it('falls back from a mirror that is down to the server, and combines errors when all fail', async () => {
    const client0 = newClient();
    const image = await buildImage('amd64', 'mirror');
    await pushImage(client0, await directHost(), 'test/mirror', image, 'v1');

    const dead = await startServer(() => {});
    await dead.stop(); // a port nothing listens on any more
    const configPath = await mkdtemp(join(tmpdir(), 'berth-certs.d-'));
    cleanups.push(() => rm(configPath, { recursive: true, force: true }));
    await mkdir(join(configPath, 'example.test'));
    await writeFile(
      join(configPath, 'example.test', 'hosts.toml'),
      `server = "${registry.url}"\n\n[host."http://${dead.host}"]\n  capabilities = ["pull", "resolve"]\n`,
    );
    await mkdir(join(configPath, 'all-down.test'));
    await writeFile(
      join(configPath, 'all-down.test', 'hosts.toml'),
      `server = "http://${dead.host}/server"\n\n[host."http://${dead.host}/mirror"]\n  capabilities = ["pull", "resolve"]\n`,
    );

    const client = newClient({ configPath });
    const resolved = await client.resolve('example.test/test/mirror:v1');
    assert.equal(resolved.host.url.href, `${registry.url}/v2`);
    assert.equal(resolved.descriptor.digest, image.manifest.digest);

    await assert.rejects(client.resolve('all-down.test/test/mirror:v1'), (err: unknown) => {
      assert.ok(err instanceof RegistryError);
      assert.match(err.message, /every registry host failed/);
      assert.match(err.message, /mirror/);
      assert.match(err.message, /server/);
      return true;
    });
  });
});

describe('authentication through proxies', () => {
  const USER = 'alice';
  const PASS = 's3cret';

  it('basic auth: works with credentials, fails clearly without or with wrong ones', async () => {
    const proxy = await startServer((req, res) => {
      if (!basicOk(req, USER, PASS)) {
        res.writeHead(401, { 'www-authenticate': 'Basic realm="berth-test"', 'content-type': 'application/json' });
        res.end(JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: 'authentication required' }] }));
        return;
      }
      forward(registry, req, res);
    });
    cleanups.push(() => proxy.stop());

    const seenHosts: string[] = [];
    const good = newClient({
      credentials: (h): Credentials | undefined => {
        seenHosts.push(h);
        return { username: USER, password: PASS };
      },
    });
    const image = await buildImage('amd64', 'basic');
    await pushImage(good, await good.pushHost(proxy.host), 'test/basic', image, 'v1');
    const resolved = await good.resolve(`${proxy.host}/test/basic:v1`);
    assert.equal(resolved.descriptor.digest, image.manifest.digest);
    const layer = image.layers[0] as Blob;
    assert.deepEqual(await readAll(await good.fetchBlob(resolved.host, 'test/basic', descOf(layer))), layer.data);
    assert.ok(seenHosts.every((h) => h === proxy.host));

    const anonymous = newClient();
    await assert.rejects(anonymous.resolve(`${proxy.host}/test/basic:v1`), /requires basic authentication but no username\/password/);

    const wrong = newClient({ credentials: () => ({ username: USER, password: 'nope' }) });
    await assert.rejects(wrong.resolve(`${proxy.host}/test/basic:v1`), (err: unknown) => {
      assert.ok(err instanceof RegistryAuthError);
      assert.match(err.message, /still 401 Unauthorized after authenticating.*authentication required/);
      return true;
    });
  });

  it('bearer tokens: fetched from the realm with the right scope, cached, and usable for push', async () => {
    const issued = new Map<string, string[]>(); // token -> scopes
    const tokenRequests: { method: string; scopes: string[]; grant?: string }[] = [];
    const REFRESH = 'refresh-token-1';
    const STATIC = 'static-registry-token';
    issued.set(STATIC, ['repository:test/bearer:pull,push']);

    const proxy: TestServer = await startServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      if (url.pathname === '/token') {
        const respond = (scopes: string[]): void => {
          const token = randomBytes(8).toString('hex');
          issued.set(token, scopes);
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(JSON.stringify(req.method === 'POST' ? { access_token: token, expires_in: 300 } : { token, expires_in: 300 }));
        };
        if (req.method === 'POST') {
          text(req).then((body) => {
            const form = new URLSearchParams(body);
            const scopes = (form.get('scope') ?? '').split(' ').filter(Boolean);
            tokenRequests.push({ method: 'POST', scopes, grant: form.get('grant_type') ?? '' });
            if (form.get('grant_type') !== 'refresh_token' || form.get('refresh_token') !== REFRESH) {
              res.writeHead(401).end();
              return;
            }
            respond(scopes);
          }, () => res.destroy());
          return;
        }
        const scopes = url.searchParams.getAll('scope');
        tokenRequests.push({ method: 'GET', scopes });
        if (!basicOk(req, USER, PASS) || url.searchParams.get('service') !== 'berth-test') {
          res.writeHead(401).end();
          return;
        }
        respond(scopes);
        return;
      }
      const repo = /^\/v2\/(.+?)\/(manifests|blobs|tags)\//.exec(url.pathname)?.[1];
      const action = req.method === 'GET' || req.method === 'HEAD' ? 'pull' : 'push';
      const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
      const scopes = token ? issued.get(token) : undefined;
      const allowed = scopes?.some((s) => {
        const [kind, name, actions] = s.split(':');
        return kind === 'repository' && name === repo && (actions ?? '').split(',').includes(action);
      });
      if (!allowed) {
        res.writeHead(401, {
          'www-authenticate': `Bearer realm="${proxy.url}/token",service="berth-test",scope="repository:${repo}:${action}"`,
        });
        res.end();
        return;
      }
      forward(registry, req, res);
    });
    cleanups.push(() => proxy.stop());

    const client = newClient({ credentials: () => ({ username: USER, password: PASS }) });
    const image = await buildImage('amd64', 'bearer');
    await pushImage(client, await client.pushHost(proxy.host), 'test/bearer', image, 'v1');
    assert.ok(tokenRequests.length >= 1);
    assert.ok(tokenRequests.every((r) => r.method === 'GET'));
    assert.ok(tokenRequests.some((r) => r.scopes.includes('repository:test/bearer:pull,push')));

    const resolved = await client.resolve(`${proxy.host}/test/bearer:v1`);
    assert.equal(resolved.descriptor.digest, image.manifest.digest);
    const afterFirstResolve = tokenRequests.length;
    const again = await client.resolve(`${proxy.host}/test/bearer:v1`);
    assert.equal(again.descriptor.digest, image.manifest.digest);
    const manifest = parseManifest(again.body);
    await readAll(await client.fetchBlob(again.host, 'test/bearer', manifest.config));
    assert.equal(tokenRequests.length, afterFirstResolve, 'a cached token is reused for the same scope');

    // Identity (refresh) token: OAuth2 POST to the realm.
    const oauth = newClient({ credentials: () => ({ identityToken: REFRESH }) });
    assert.equal((await oauth.resolve(`${proxy.host}/test/bearer:v1`)).descriptor.digest, image.manifest.digest);
    assert.ok(tokenRequests.some((r) => r.method === 'POST' && r.grant === 'refresh_token' && r.scopes.includes('repository:test/bearer:pull')));

    // A registry token from the CRI AuthConfig is sent as is, with no token request.
    const before = tokenRequests.length;
    const direct = newClient({ credentials: () => ({ registryToken: STATIC }) });
    assert.equal((await direct.resolve(`${proxy.host}/test/bearer:v1`)).descriptor.digest, image.manifest.digest);
    assert.equal(tokenRequests.length, before);

    // Wrong password: the token server refuses, and the error says so.
    const wrong = newClient({ credentials: () => ({ username: USER, password: 'bad' }) });
    await assert.rejects(wrong.resolve(`${proxy.host}/test/bearer:v1`), (err: unknown) => {
      assert.ok(err instanceof RegistryAuthError);
      assert.match(err.message, /token request to .*\/token failed: 401 \(credentials rejected\)/);
      return true;
    });
  });

  it('a 401 loop ends after one retry with a clear error', async () => {
    let tokenCalls = 0;
    let registryCalls = 0;
    const proxy: TestServer = await startServer((req, res) => {
      if (req.url?.startsWith('/token')) {
        tokenCalls++;
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ token: `t${tokenCalls}` }));
        return;
      }
      registryCalls++;
      res.writeHead(401, { 'www-authenticate': `Bearer realm="${proxy.url}/token",service="loop"` });
      res.end();
    });
    cleanups.push(() => proxy.stop());
    const client = newClient();
    await assert.rejects(client.resolve(`${proxy.host}/test/loop:v1`), (err: unknown) => {
      assert.ok(err instanceof RegistryAuthError);
      assert.match(err.message, /still 401 Unauthorized after authenticating/);
      return true;
    });
    assert.equal(registryCalls, 2);
    assert.equal(tokenCalls, 1);
  });
});

describe('misbehaving registries', () => {
  it('detects a body that does not match Docker-Content-Digest or the requested digest', async () => {
    const client0 = newClient();
    const image = await buildImage('amd64', 'tamper');
    await pushImage(client0, await directHost(), 'test/tamper', image, 'v1');
    const tamper = (b: Buffer): Buffer => Buffer.concat([b, Buffer.from(' ')]);
    const withHeader = await startServer((req, res) => forward(registry, req, res, { mutateBody: tamper }));
    const noHeader = await startServer((req, res) =>
      forward(registry, req, res, { mutateBody: tamper, dropHeaders: ['docker-content-digest'] }),
    );
    cleanups.push(() => withHeader.stop(), () => noHeader.stop());
    const client = newClient();
    const served = sha256Digest(tamper(image.manifest.data));

    await assert.rejects(client.resolve(`${withHeader.host}/test/tamper:v1`), (err: unknown) => {
      assert.ok(err instanceof DigestMismatchError);
      assert.match(err.message, /Docker-Content-Digest/);
      assert.ok(err.message.includes(image.manifest.digest) && err.message.includes(served));
      return true;
    });
    await assert.rejects(client.resolve(`${noHeader.host}/test/tamper@${image.manifest.digest}`), (err: unknown) => {
      assert.ok(err instanceof DigestMismatchError);
      assert.ok(err.message.includes(image.manifest.digest) && err.message.includes(served));
      return true;
    });
  });

  it('follows redirects (relative, and to another host without Authorization) and stops a redirect loop', async () => {
    const client0 = newClient();
    const image = await buildImage('amd64', 'redirect');
    await pushImage(client0, await directHost(), 'test/redirect', image, 'v1');
    const layer = image.layers[1] as Blob;

    const storageSawAuth: boolean[] = [];
    const storage = await startServer((req, res) => {
      storageSawAuth.push(req.headers.authorization !== undefined);
      forward(registry, req, res, { path: `/v2/test/redirect/blobs/${new URL(req.url ?? '/', 'http://x').searchParams.get('d')}` });
    });
    let loopHits = 0;
    const proxy = await startServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      if (!basicOk(req, 'u', 'p') && url.pathname.startsWith('/v2/')) {
        res.writeHead(401, { 'www-authenticate': 'Basic realm="r"' }).end();
        return;
      }
      if (url.pathname.startsWith('/v2/test/loop/')) {
        loopHits++;
        res.writeHead(302, { location: url.pathname }).end();
        return;
      }
      if (url.pathname.startsWith('/v2/test/redirect/blobs/')) {
        const digest = url.pathname.split('/').pop() ?? '';
        // hop 1: relative to this proxy; hop 2: absolute to the storage server
        res.writeHead(307, { location: `/hop?d=${digest}` }).end();
        return;
      }
      if (url.pathname === '/hop') {
        res.writeHead(302, { location: `${storage.url}/object?d=${url.searchParams.get('d')}` }).end();
        return;
      }
      forward(registry, req, res);
    });
    cleanups.push(() => proxy.stop(), () => storage.stop());

    const client = newClient({ credentials: () => ({ username: 'u', password: 'p' }) });
    const host = await directHost(proxy.host);
    const data = await readAll((await client.fetchBlob(host, 'test/redirect', descOf(layer))).pipe(verifyingStream(descOf(layer))));
    assert.deepEqual(data, layer.data);
    assert.deepEqual(storageSawAuth, [false]);

    await assert.rejects(client.fetchBlob(host, 'test/loop', descOf(layer)), (err: unknown) => {
      assert.ok(err instanceof RegistryError);
      assert.match(err.message, /more than 5 redirects/);
      return true;
    });
    assert.equal(loopHits, 6);
  });

  it('cuts off an endless manifest body at the 4 MiB limit', async () => {
    let written = 0;
    const proxy = await startServer((req, res) => {
      res.writeHead(200, { 'content-type': MediaType.ociManifest });
      const chunk = Buffer.alloc(64 * 1024, 0x20);
      const pump = (): void => {
        while (!res.destroyed && written < 256 * 1024 * 1024) {
          written += chunk.length;
          if (!res.write(chunk)) {
            res.once('drain', pump);
            return;
          }
        }
        res.end();
      };
      res.write('{"schemaVersion":2,');
      pump();
    });
    cleanups.push(() => proxy.stop());
    const client = newClient();
    await assert.rejects(client.resolve(`${proxy.host}/test/endless:v1`), (err: unknown) => {
      assert.ok(err instanceof SizeLimitError);
      assert.match(err.message, /exceeds the 4194304-byte limit/);
      return true;
    });
    await new Promise((r) => setImmediate(r));
    assert.ok(written < 64 * 1024 * 1024, `server wrote ${written} bytes before the client hung up`);
    assert.equal(MAX_MANIFEST_BYTES, 4 * 1024 * 1024);
  });
});
