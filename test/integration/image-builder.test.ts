/**
 * Builds critest images from real Debian packages and host binaries, pushes them to a
 * throwaway docker-registry with berth's registry client, and reads them back over
 * HTTP; also runs the built busybox rootfs in a chroot and the static test programs.
 */
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile, chmod, chown } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { extract, type Header } from 'tar-stream';
import { startRegistry, type TestRegistry } from '../support/registry.js';
import { waitFor } from '../support/wait.js';
import { selectImages, WELCOME_PAGE } from '../critest/images/catalog.js';
import { compileStatic } from '../critest/images/compile.js';
import type { ImageConfigJson } from '../critest/images/image.js';
import { publishImages, type PushedReference } from '../critest/images/publish.js';

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';

interface Manifest {
  mediaType: string;
  config: { digest: string };
  layers: { digest: string; mediaType: string }[];
}

function run(command: string, args: string[], timeout = 30_000): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(command, args, { timeout }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

async function readTarHeaders(tar: Buffer): Promise<Map<string, Header>> {
  const headers = new Map<string, Header>();
  const ex = extract();
  const done = new Promise<void>((resolve, reject) => {
    ex.on('entry', (header, stream, next) => {
      headers.set(header.name, header);
      stream.on('end', () => next());
      stream.resume();
    });
    ex.on('finish', () => resolve());
    ex.on('error', reject);
  });
  ex.end(tar);
  await done;
  return headers;
}

describe('critest image builder against a real registry', { timeout: 180_000 }, () => {
  let registry: TestRegistry | undefined;
  let work = '';
  let first: PushedReference[] = [];

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'image-builder-it-'));
    registry = await startRegistry();
    first = await publishImages(selectImages(['busybox', 'test-image-user-uid', 'test-image-tags']), {
      registry: registry.host,
      cacheDir: join(work, 'cache'),
    });
  });

  after(async () => {
    await registry?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  async function get(path: string, accept?: string): Promise<Response> {
    assert.ok(registry);
    const res = await fetch(`${registry.url}/v2/${path}`, accept ? { headers: { accept } } : {});
    assert.equal(res.status, 200, `GET ${path}`);
    return res;
  }

  async function manifestOf(repo: string, tag: string): Promise<{ manifest: Manifest; config: ImageConfigJson }> {
    const res = await get(`${repo}/manifests/${tag}`, OCI_MANIFEST);
    const manifest = (await res.json()) as Manifest;
    assert.equal(manifest.mediaType, OCI_MANIFEST);
    const config = (await (await get(`${repo}/blobs/${manifest.config.digest}`)).json()) as ImageConfigJson;
    return { manifest, config };
  }

  it('serves the busybox image with its applets as hard links to bin/busybox', async () => {
    const { manifest, config } = await manifestOf('e2e-test-images/busybox', '1.29-2');
    assert.deepEqual(config.config.Cmd, ['sh']);
    assert.equal(config.config.User, undefined);
    assert.equal(manifest.layers.length, 1);
    const layer = manifest.layers[0];
    assert.ok(layer);
    const tar = gunzipSync(Buffer.from(await (await get(`e2e-test-images/busybox/blobs/${layer.digest}`)).arrayBuffer()));
    const headers = await readTarHeaders(tar);
    assert.equal(headers.get('bin/busybox')?.type, 'file');
    assert.equal(headers.get('bin/ls')?.type, 'link');
    assert.equal(headers.get('bin/ls')?.linkname, 'bin/busybox');
    assert.equal(headers.get('bin/sh')?.linkname, 'bin/busybox');
    assert.equal(headers.get('bin/pgrep')?.type, 'file');
    assert.equal(headers.get('usr/bin/ipcs')?.type, 'file');
    assert.equal(headers.get('lib64/ld-linux-x86-64.so.2')?.type, 'file');
    assert.equal(headers.get('tmp')?.mode, 0o1777);
    for (const dir of ['var/run', 'var/www', 'root']) assert.equal(headers.get(dir)?.type, 'directory', dir);
  });

  it('serves the user image with its configured user on top of the shared base layer', async () => {
    const busybox = await manifestOf('e2e-test-images/busybox', '1.29-2');
    const { manifest, config } = await manifestOf('k8s-staging-cri-tools/test-image-user-uid', 'latest');
    assert.equal(config.config.User, '1002');
    assert.equal(manifest.layers[0]?.digest, busybox.manifest.layers[0]?.digest);
    assert.notEqual(manifest.config.digest, busybox.manifest.config.digest);
  });

  it('pushes the three tags of test-image-tags as one manifest', async () => {
    const digests = first.filter((r) => r.image === 'test-image-tags').map((r) => r.digest);
    assert.equal(digests.length, 3);
    assert.equal(new Set(digests).size, 1);
    for (const tag of ['1', '2', '3']) {
      const res = await get(`k8s-staging-cri-tools/test-image-tags/manifests/${tag}`, OCI_MANIFEST);
      assert.equal(res.headers.get('docker-content-digest'), digests[0]);
    }
  });

  it('is idempotent: a second run pushes the same digests and uploads nothing', async () => {
    assert.ok(registry);
    const second = await publishImages(selectImages(['busybox', 'test-image-user-uid', 'test-image-tags']), {
      registry: registry.host,
      cacheDir: join(work, 'cache'),
    });
    assert.deepEqual(
      second.map((r) => [r.location, r.digest]),
      first.map((r) => [r.location, r.digest]),
    );
    assert.ok(second.every((r) => r.uploaded === 0));
  });

  it('builds a busybox rootfs whose shell runs external commands and whose pgrep and ipcs work', async () => {
    const { manifest } = await manifestOf('e2e-test-images/busybox', '1.29-2');
    const layer = manifest.layers[0];
    assert.ok(layer);
    const gz = Buffer.from(await (await get(`e2e-test-images/busybox/blobs/${layer.digest}`)).arrayBuffer());
    const rootfs = join(work, 'rootfs');
    await mkdir(rootfs);
    await writeFile(join(work, 'layer.tar.gz'), gz);
    const untar = await run('tar', ['-xzf', join(work, 'layer.tar.gz'), '-C', rootfs]);
    assert.equal(untar.code, 0, untar.stderr);

    const ls = await run('chroot', [rootfs, '/bin/sh', '-c', 'ls /bin/ls && id -un && echo ok']);
    assert.equal(ls.code, 0, ls.stderr);
    assert.equal(ls.stdout, '/bin/ls\nroot\nok\n');
    const wwwData = await run('chroot', ['--userspec=33:33', rootfs, '/bin/id', '-un']);
    assert.equal(wwwData.stdout.trim(), 'www-data', wwwData.stderr);
    const ipcs = await run('chroot', [rootfs, '/usr/bin/ipcs', '-m']);
    assert.equal(ipcs.code, 0, ipcs.stderr);
    assert.match(ipcs.stdout, /Shared Memory Segments/);
  });

  it('compiles a web server that retitles itself, writes its pid and serves with busybox httpd', async () => {
    const binary = await compileStatic('webserver', join(work, 'cache'));
    const root = join(work, 'www');
    await mkdir(root, { recursive: true });
    await writeFile(join(root, 'index.html'), WELCOME_PAGE);
    const pidfile = join(work, 'nginx.pid');
    const port = await freePort();
    const child: ChildProcess = spawn(
      binary,
      ['--port', `127.0.0.1:${port}`, '--pidfile', pidfile, '--root', root, '--title', 'nginx: master process nginx', '--banner', 'httpd -D FOREGROUND'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    let stdout = '';
    child.stdout?.on('data', (c: Buffer) => (stdout += c.toString()));
    try {
      const body = await fetchWhenUp(`http://127.0.0.1:${port}/`);
      assert.match(body, /Welcome to nginx!/);
      assert.equal((await readFile(pidfile, 'utf8')).trim(), String(child.pid));
      const cmdline = await readFile(`/proc/${child.pid}/cmdline`, 'utf8');
      assert.match(cmdline, /^nginx: master process nginx/);
      assert.equal((await readFile(`/proc/${child.pid}/comm`, 'utf8')).trim(), binary.split('/').pop()?.slice(0, 15));
      assert.match(stdout, /httpd -D FOREGROUND/);
      child.kill('SIGTERM');
      assert.equal(await exited, 0);
    } finally {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await exited;
      }
    }
  });

  it('compiles a setuid program that reports its effective uid, which no_new_privs keeps', async () => {
    const compiled = await compileStatic('nonewprivs', join(work, 'cache'));
    const dir = join(work, 'nnp');
    await mkdir(dir, { mode: 0o755 });
    await chmod(work, 0o755);
    const binary = join(dir, 'nnp');
    await writeFile(binary, await readFile(compiled));
    await chown(binary, 0, 0);
    await chmod(binary, 0o4755);
    const setuid = await run('setpriv', ['--reuid=1000', '--regid=1000', '--clear-groups', binary]);
    assert.equal(setuid.stdout, 'Effective uid: 0\n', setuid.stderr);
    const nnp = await run('setpriv', ['--reuid=1000', '--regid=1000', '--clear-groups', '--no-new-privs', binary]);
    assert.equal(nnp.stdout, 'Effective uid: 1000\n', nnp.stderr);
  });
});

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Polls until the server answers (bounded: 10 s). */
function fetchWhenUp(url: string): Promise<string> {
  const body = () => fetch(url).then((res) => res.text()).catch(() => undefined);
  return waitFor(body, `${url} to answer`, { timeoutMs: 10_000 });
}
