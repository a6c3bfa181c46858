import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { startDaemon, type TestDaemon } from '../support/daemon.js';
import { run, type CommandResult } from '../support/exec.js';
import { writeMirrorConfig } from '../support/mirror.js';
import { buildImage, buildLayer, pushImage, type BuiltImage } from '../support/oci-image.js';
import { sha256 } from '../support/tar-pack.js';
import { startRegistry, type TestRegistry } from '../support/registry.js';

// The berthctl compiled next to this test (dist/ or a private outDir), not a stale one.
const BERTHCTL = fileURLToPath(new URL('../../src/bin/berthctl.js', import.meta.url));

function httpGet(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { headers, timeout: 10_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${url} timed out`)));
    req.on('error', reject);
  });
}

describe('berthctl images and content against a real daemon and registry', () => {
  let registry: TestRegistry;
  let daemon: TestDaemon;
  let certsDir: string;
  let scratch: string;
  let image: BuiltImage;

  /** berthctl with the test daemon's socket, root and config file. */
  const ctl = (...args: string[]): Promise<CommandResult> =>
    run(process.execPath, [BERTHCTL, '--address', daemon.dirs.socket, '--root', daemon.dirs.root, '--config', daemon.dirs.configPath, ...args], {
      timeoutMs: 120_000,
    });

  before(async () => {
    registry = await startRegistry();
    certsDir = await mkdtemp(join(tmpdir(), 'berth-ctl-certs-'));
    scratch = await mkdtemp(join(tmpdir(), 'berth-ctl-'));
    await writeMirrorConfig(certsDir, ['docker.io'], [registry.url]);
    daemon = await startDaemon({ configToml: `[registry]\nconfig_path = "${certsDir}"\n` });
    image = buildImage([
      await buildLayer([{ type: 'file', name: 'etc/hello.txt', content: 'hello from berthctl' }], 'gzip'),
      // Incompressible, so the pull and push move a visible amount of bytes.
      await buildLayer([{ type: 'file', name: 'data.bin', content: randomBytes(2 * 1024 * 1024) }], 'gzip'),
    ]);
    await pushImage(registry.host, 'library/berth-ctl', '1.0', image);
  });

  after(async () => {
    await daemon?.stop();
    await daemon?.cleanup();
    await registry?.stop();
    await rm(certsDir, { recursive: true, force: true });
    await rm(scratch, { recursive: true, force: true });
  });

  it('still answers version and info (moved into their own module)', async () => {
    const v = await ctl('version');
    assert.equal(v.code, 0, v.stderr);
    assert.match(v.stdout, /Runtime:\s+berth/);
    const info = await ctl('info');
    assert.equal(info.code, 0, info.stderr);
    assert.match(info.stdout, /RuntimeReady\s+true/);
  });

  it('pulls through the daemon, prints the image id and lists the image', async () => {
    const pull = await ctl('images', 'pull', 'berth-ctl:1.0');
    assert.equal(pull.code, 0, pull.stderr);
    assert.equal(pull.stdout.trim(), image.config.digest);
    assert.match(pull.stderr, /pulled berth-ctl:1.0 in [\d.]+s/);

    const ls = await ctl('images', 'ls');
    assert.equal(ls.code, 0, ls.stderr);
    const row = ls.stdout.split('\n').find((l) => l.startsWith('docker.io/library/berth-ctl:1.0'));
    assert.ok(row, ls.stdout);
    assert.match(ls.stdout, /^REF\s+ID\s+SIZE/);
    const [, id, ...size] = row.split(/\s+/);
    assert.equal(id, image.config.digest.slice(7, 19));
    assert.match(size.join(' '), /^\d+\.\d MiB$/);
  });

  it('inspects the image as JSON and fails for an unknown one', async () => {
    const res = await ctl('images', 'inspect', 'berth-ctl:1.0');
    assert.equal(res.code, 0, res.stderr);
    const parsed = JSON.parse(res.stdout) as { status: { id: string; repo_tags: string[] }; info: Record<string, unknown> };
    assert.equal(parsed.status.id, image.config.digest);
    assert.deepEqual(parsed.status.repo_tags, ['docker.io/library/berth-ctl:1.0']);
    assert.ok(Object.keys(parsed.info).length > 0, 'verbose info is included');

    const missing = await ctl('images', 'inspect', 'berth-ctl:nope');
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /not found/);
  });

  it('content ls lists the manifest, config and layer blobs', async () => {
    const res = await ctl('content', 'ls');
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stdout, /^DIGEST\s+SIZE\s+CREATED/);
    for (const blob of [image.manifest, image.config, ...image.layers]) {
      const line = res.stdout.split('\n').find((l) => l.startsWith(blob.digest));
      assert.ok(line, `${blob.digest} listed in:\n${res.stdout}`);
      assert.match(line, /\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d/);
    }
  });

  it('finds --root and --address in the config file when no flag is given', async () => {
    const configPath = join(scratch, 'berth.toml');
    await writeFile(configPath, `root = "${daemon.dirs.root}"\naddress = "${daemon.dirs.socket}"\n`);
    const env = { ...process.env };
    delete env.BERTH_ADDRESS;
    delete env.BERTH_ROOT;
    const res = await run(process.execPath, [BERTHCTL, '--config', configPath, 'content', 'ls'], { env });
    assert.equal(res.code, 0, res.stderr);
    assert.ok(res.stdout.includes(image.manifest.digest), res.stdout);
    const ls = await run(process.execPath, [BERTHCTL, 'images', 'ls', '--config', configPath], { env });
    assert.equal(ls.code, 0, ls.stderr);
    assert.match(ls.stdout, /docker\.io\/library\/berth-ctl:1\.0/);
  });

  it('pushes the image from the content store to another repository', async () => {
    const target = `${registry.host}/copies/berth-ctl:pushed`;
    const res = await ctl('images', 'push', 'berth-ctl:1.0', target);
    assert.equal(res.code, 0, res.stderr);
    // stdout is not a TTY here: one plain line per blob, then the summary.
    for (const blob of [image.config, ...image.layers]) {
      assert.match(res.stdout, new RegExp(`^${blob.digest}  (pushed ${blob.size} bytes|already present)$`, 'm'));
    }
    assert.match(res.stdout, new RegExp(`pushed ${target.replace(/[.]/g, '\\.')} \\(${image.manifest.digest}\\)`));

    const manifest = await httpGet(`${registry.url}/v2/copies/berth-ctl/manifests/pushed`, { accept: image.manifest.mediaType });
    assert.equal(manifest.status, 200);
    assert.equal(sha256(manifest.body), image.manifest.digest);
    for (const blob of [image.config, ...image.layers]) {
      const got = await httpGet(`${registry.url}/v2/copies/berth-ctl/blobs/${blob.digest}`);
      assert.equal(got.status, 200, blob.digest);
      assert.equal(sha256(got.body), blob.digest);
    }
  });

  it('push refuses an image berth does not have', async () => {
    const res = await ctl('images', 'push', 'berth-ctl:missing', `${registry.host}/copies/berth-ctl:x`);
    assert.equal(res.code, 1);
    assert.match(res.stderr, /image berth-ctl:missing not found/);
  });

  it('content verify passes, then names a corrupted blob and exits 1', async () => {
    const ok = await ctl('content', 'verify');
    assert.equal(ok.code, 0, ok.stderr + ok.stdout);
    const count = Number(/^(\d+) blobs verified$/m.exec(ok.stdout)?.[1]);
    assert.ok(count >= 4, ok.stdout);

    const layer = image.layers[1]!;
    const blobFile = join(daemon.dirs.root, 'content', 'blobs', 'sha256', layer.digest.slice(7));
    await chmod(blobFile, 0o644);
    const handle = await open(blobFile, 'r+');
    try {
      const byte = Buffer.alloc(1);
      await handle.read(byte, 0, 1, 100);
      byte[0] = byte[0]! ^ 0xff;
      await handle.write(byte, 0, 1, 100);
    } finally {
      await handle.close();
    }

    const bad = await ctl('content', 'verify');
    assert.equal(bad.code, 1);
    assert.match(bad.stdout, new RegExp(`^${layer.digest}: content hashes to sha256:[a-f0-9]{64}$`, 'm'));
    assert.doesNotMatch(bad.stdout, new RegExp(image.layers[0]!.digest));
  });

  it('removes the image and reports unknown ones', async () => {
    const res = await ctl('images', 'rm', 'berth-ctl:1.0');
    assert.equal(res.code, 0, res.stderr);
    assert.equal(res.stdout.trim(), 'berth-ctl:1.0');
    const ls = await ctl('images', 'ls');
    assert.doesNotMatch(ls.stdout, /berth-ctl/);
    const again = await ctl('images', 'rm', 'berth-ctl:1.0');
    assert.equal(again.code, 1);
    assert.match(again.stderr, /image berth-ctl:1.0 not found/);
  });

  it('rejects unknown commands and flags with exit code 2', async () => {
    const unknown = await ctl('frobnicate');
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /unknown command "frobnicate"/);
    const badFlag = await ctl('images', 'ls', '--bogus');
    assert.equal(badFlag.code, 2);
    const badUser = await ctl('images', 'pull', 'x', '--user', 'nocolon');
    assert.equal(badUser.code, 2);
    assert.match(badUser.stderr, /--user must be USER:PASSWORD/);
    const help = await ctl('images', '--help');
    assert.equal(help.code, 0);
    assert.match(help.stdout, /push REF \[TARGET\]/);
  });

  it('reports a failed pull without printing an id', async () => {
    const res = await ctl('images', 'pull', 'berth-ctl:does-not-exist');
    assert.equal(res.code, 1);
    assert.equal(res.stdout, '');
    assert.match(res.stderr, /berthctl: .*berth-ctl/);
    assert.doesNotMatch(res.stderr, /pulled/);
  });
});
