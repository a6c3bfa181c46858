/**
 * PullImage from a registry that demands bearer tokens (docker-registry with
 * `auth: token`, verifying signed JWTs from a token server in the test),
 * reached through a docker.io mirror: credentials from the CRI AuthConfig, from
 * berth.toml's [registry.configs], and wrong or missing ones.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { RegistryClient } from '../../src/core/distribution/client.js';
import { BERTHCTL, startDaemon, type TestDaemon } from '../support/daemon.js';
import { crictl, run } from '../support/exec.js';
import { writeMirrorConfig } from '../support/mirror.js';
import { buildImage, buildLayer, pushImage, type BuiltImage } from '../support/oci-image.js';
import { startTokenAuthRegistry, type TokenAuthRegistry } from '../support/token-registry.js';

const USER = 'puller';
const PASSWORD = 'right-password';
const REFRESH_TOKEN = 'refresh-token-of-puller';

describe('PullImage from a token-auth registry', () => {
  let auth: TokenAuthRegistry;
  let certsDir: string;
  let daemon: TestDaemon;
  const images: Record<string, BuiltImage> = {};
  const others: TestDaemon[] = [];

  /** A daemon mirroring docker.io to the token-auth registry, with extra berth.toml text. */
  async function daemonWith(configToml = ''): Promise<TestDaemon> {
    const started = await startDaemon({ configToml: `[registry]\nconfig_path = "${certsDir}"\n${configToml}` });
    others.push(started);
    return started;
  }

  function blobStored(d: TestDaemon, digest: string): boolean {
    return existsSync(join(d.dirs.root, 'content', 'blobs', 'sha256', digest.slice('sha256:'.length)));
  }

  before(async () => {
    auth = await startTokenAuthRegistry({ users: { [USER]: PASSWORD }, refreshTokens: { [REFRESH_TOKEN]: USER } });
    const pusher = new RegistryClient({ credentials: () => ({ username: USER, password: PASSWORD }) });
    try {
      for (const name of ['private', 'other', 'third', 'fourth']) {
        images[name] = buildImage([await buildLayer([{ type: 'file', name: `${name}.txt`, content: `${name} image` }])]);
        await pushImage(auth.registry.host, `library/${name}`, '1', images[name]!, pusher);
      }
    } finally {
      pusher.close();
    }
    certsDir = await mkdtemp(join(tmpdir(), 'berth-certs-'));
    await writeMirrorConfig(certsDir, ['docker.io'], [auth.registry.url]);
    daemon = await daemonWith();
  });

  after(async () => {
    for (const d of [daemon, ...others]) {
      if (!d) continue;
      await d.stop();
      await d.cleanup();
    }
    await auth?.stop();
    if (certsDir) await rm(certsDir, { recursive: true, force: true });
  });

  it('refuses an anonymous pull, saying credentials for the mirror host are needed', async () => {
    await assert.rejects(daemon.cri.image.PullImage({ image: { image: 'private:1' } }), (err: Error) => {
      assert.match(err.message, new RegExp(`wants credentials for ${auth.registry.host} and none were given`));
      return true;
    });
    // The registry itself checks each token's signature: a made-up one is refused.
    await assert.rejects(
      daemon.cri.image.PullImage({ image: { image: 'private:1' }, auth: { registry_token: 'made.up.token' } }),
      /still 401 Unauthorized after authenticating.*check the credentials for/,
    );
    const status = await daemon.cri.image.ImageStatus({ image: { image: 'private:1' } });
    assert.equal(status.image, null);
  });

  it('pulls with a username and password in the AuthConfig, through signed tokens scoped to the repository', async () => {
    const res = await daemon.cri.image.PullImage({ image: { image: 'private:1' }, auth: { username: USER, password: PASSWORD } });
    assert.equal(res.image_ref, images.private!.config.digest);
    const status = await daemon.cri.image.ImageStatus({ image: { image: 'private:1' } });
    assert.equal(status.image?.id, images.private!.config.digest);
    const granted = auth.requests.filter((r) => r.user === USER && r.status === 200);
    assert.ok(granted.some((r) => r.method === 'GET' && r.scopes.includes('repository:library/private:pull')), JSON.stringify(auth.requests));
    assert.doesNotMatch(daemon.output(), new RegExp(PASSWORD), 'the password is never logged');
  });

  it('fails with a wrong password, naming the registry and the refusal, and stores nothing', async () => {
    const image = images.other!;
    await assert.rejects(
      daemon.cri.image.PullImage({ image: { image: 'other:1' }, auth: { username: USER, password: 'wrong-password' } }),
      (err: Error) => {
        assert.match(err.message, new RegExp(`registry ${auth.registry.host}: token request to ${auth.realm} failed: 401 \\(credentials rejected\\)`));
        assert.match(err.message, /invalid username, password or refresh token/);
        return true;
      },
    );
    assert.equal((await daemon.cri.image.ImageStatus({ image: { image: 'other:1' } })).image, null);
    assert.equal(blobStored(daemon, image.layers[0]!.digest), false);
    assert.equal(blobStored(daemon, image.config.digest), false);
  });

  it('pulls with crictl --creds, and with an identity token (OAuth2 refresh grant)', async () => {
    const res = await crictl(daemon.dirs.socket, ['pull', '--creds', `${USER}:${PASSWORD}`, 'other:1']);
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stdout, new RegExp(images.other!.config.digest));

    const before = auth.requests.length;
    const pulled = await daemon.cri.image.PullImage({ image: { image: 'third:1' }, auth: { identity_token: REFRESH_TOKEN } });
    assert.equal(pulled.image_ref, images.third!.config.digest);
    assert.ok(auth.requests.slice(before).some((r) => r.method === 'POST' && r.user === USER));
  });

  it('pulls with credentials from berth.toml for the mirror host when the request brings none, and berthctl pushes with them', async () => {
    const configured = await daemonWith(`[registry.configs."${auth.registry.host}".auth]\nusername = "${USER}"\npassword = "${PASSWORD}"\n`);
    const res = await configured.cri.image.PullImage({ image: { image: 'private:1' } });
    assert.equal(res.image_ref, images.private!.config.digest);
    // The request's own credentials win over the configured ones.
    await assert.rejects(
      configured.cri.image.PullImage({ image: { image: 'other:1' }, auth: { username: USER, password: 'wrong-password' } }),
      /credentials rejected/,
    );
    // berthctl images push reads the same configured credentials (no --user given).
    const pushed = await run(process.execPath, [
      BERTHCTL, '--address', configured.dirs.socket, '--root', configured.dirs.root, '--config', configured.dirs.configPath,
      'images', 'push', 'private:1', `${auth.registry.host}/library/pushed-by-ctl:1`,
    ]);
    assert.equal(pushed.code, 0, pushed.stdout + pushed.stderr);
    assert.ok(
      auth.requests.some((r) => r.user === USER && r.status === 200 && r.scopes.some((s) => s.startsWith('repository:library/pushed-by-ctl:') && s.includes('push'))),
      JSON.stringify(auth.requests.slice(-5)),
    );
    const repushed = await daemon.cri.image.PullImage({ image: { image: 'pushed-by-ctl:1' }, auth: { username: USER, password: PASSWORD } });
    assert.equal(repushed.image_ref, images.private!.config.digest);
    // berthctl info (Status verbose) shows the configured entry without its secret.
    const info = await configured.cri.runtime.Status({ verbose: true });
    const shown = info.info.config ?? '';
    assert.match(shown, new RegExp(`"${auth.registry.host.replace(/\./g, '\\.')}":\\{"auth":\\{"username":"${USER}","password":"<redacted>"`));
    assert.doesNotMatch(shown, new RegExp(PASSWORD));
  });

  it('an identity token in berth.toml pulls; a wrong password there fails clearly and stores nothing', async () => {
    const withToken = await daemonWith(`[registry.configs."${auth.registry.host}".auth]\nidentitytoken = "${REFRESH_TOKEN}"\n`);
    const pulled = await withToken.cri.image.PullImage({ image: { image: 'fourth:1' } });
    assert.equal(pulled.image_ref, images.fourth!.config.digest);

    const wrong = await daemonWith(`[registry.configs."${auth.registry.host}".auth]\nusername = "${USER}"\npassword = "stale-password"\n`);
    await assert.rejects(wrong.cri.image.PullImage({ image: { image: 'fourth:1' } }), (err: Error) => {
      assert.match(err.message, new RegExp(`registry ${auth.registry.host}: token request to .* failed: 401 \\(credentials rejected\\)`));
      return true;
    });
    const { images: listed } = await wrong.cri.image.ListImages({});
    assert.deepEqual(listed, []);
    assert.equal(blobStored(wrong, images.fourth!.layers[0]!.digest), false);
  });

  it('sends AuthConfig credentials only to the host its server_address names', async () => {
    const fresh = await daemonWith();
    // Credentials for another registry are not handed to the mirror: the pull is anonymous there.
    await assert.rejects(
      fresh.cri.image.PullImage({ image: { image: 'fourth:1' }, auth: { username: USER, password: PASSWORD, server_address: 'https://registry.example.com/v1/' } }),
      new RegExp(`wants credentials for ${auth.registry.host} and none were given`),
    );
    const before = auth.requests.length;
    const pulled = await fresh.cri.image.PullImage({
      image: { image: 'fourth:1' },
      auth: { username: USER, password: PASSWORD, server_address: `https://${auth.registry.host}` },
    });
    assert.equal(pulled.image_ref, images.fourth!.config.digest);
    assert.ok(auth.requests.slice(before).some((r) => r.user === USER && r.status === 200), 'the named host got the credentials');
  });
});
