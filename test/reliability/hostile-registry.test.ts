/**
 * PullImage through the CRI against a lying registry: every pull fails with a
 * clear status before its deadline, berthd's memory stays bounded, and the
 * content store, snapshots and image list are as they were.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { status as GrpcStatus } from '@grpc/grpc-js';
import { startDaemon, type TestDaemon } from '../support/daemon.js';
import { startLyingRegistry, type LyingRegistry } from '../support/lying-registry.js';
import { waitUntil } from '../support/wait.js';

/** Generous: a pull that has not failed by then is stuck, which is what this test must catch. */
const PULL_DEADLINE_MS = 60_000;
/** berthd may grow this much over all the hostile pulls (endless bodies must not be buffered). */
const RSS_GROWTH_LIMIT_KB = 64 * 1024;

interface Case {
  repo: string;
  /** Defaults to `<repo>:v1`. */
  reference?: string;
  code: GrpcStatus;
  message: RegExp;
}

async function rssKb(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(status);
  if (!match) throw new Error(`no VmRSS in /proc/${pid}/status`);
  return Number(match[1]);
}

async function listDir(dir: string): Promise<string[]> {
  if (!existsSync(dir)) return [];
  return (await readdir(dir)).sort();
}

describe('reliability: pulls from a lying registry', () => {
  let registry: LyingRegistry;
  let daemon: TestDaemon;
  let certs: string;

  before(async () => {
    registry = await startLyingRegistry();
    certs = await mkdtemp(join(tmpdir(), 'berth-certs-')); // empty: 127.0.0.1 is reached directly over HTTP
    daemon = await startDaemon({ configToml: `[registry]\nconfig_path = "${certs}"\n` });
  });

  after(async () => {
    await daemon?.stop();
    await daemon?.cleanup();
    await registry?.close();
    await rm(certs, { recursive: true, force: true });
  });

  async function storeState(): Promise<{ blobs: string[]; snapshots: string[]; images: string[] }> {
    const { images } = await daemon.cri.image.ListImages({});
    return {
      blobs: await listDir(join(daemon.dirs.root, 'content', 'blobs', 'sha256')),
      snapshots: await listDir(join(daemon.dirs.root, 'snapshots')),
      images: images.map((i) => i.id).sort(),
    };
  }

  it('fails each hostile pull cleanly, with bounded memory, leaving the store as it was', async () => {
    const cri = daemon.cri;
    const ref = (repo: string) => `${registry.host}/${repo}:v1`;
    // Warm up (and prove the registry serves a good image), then remove it: the baseline is an empty store.
    const good = await cri.image.PullImage({ image: { image: ref('good') } }, PULL_DEADLINE_MS);
    assert.equal(good.image_ref, registry.image.config.digest);
    await cri.image.RemoveImage({ image: { image: good.image_ref } });
    const baseline = await storeState();
    const rssBefore = await rssKb(daemon.process.pid!);

    const cases: Case[] = [
      { repo: 'wrong-blob', code: GrpcStatus.FAILED_PRECONDITION, message: /digest mismatch/ },
      { repo: 'wrong-manifest-digest', code: GrpcStatus.FAILED_PRECONDITION, message: /Docker-Content-Digest header says/ },
      {
        repo: 'wrong-manifest-by-digest',
        reference: `${registry.host}/wrong-manifest-by-digest@${registry.image.manifest.digest}`,
        code: GrpcStatus.FAILED_PRECONDITION,
        message: /requested sha256:[0-9a-f]{64} but the body hashes to/,
      },
      { repo: 'oversized-manifest', code: GrpcStatus.RESOURCE_EXHAUSTED, message: /over the 4194304-byte limit/ },
      { repo: 'endless-manifest', code: GrpcStatus.RESOURCE_EXHAUSTED, message: /exceeds the 4194304-byte limit/ },
      { repo: 'endless-blob', code: GrpcStatus.FAILED_PRECONDITION, message: /more than the expected \d+ bytes/ },
      { repo: 'garbage-manifest', code: GrpcStatus.INVALID_ARGUMENT, message: /manifest/ },
      { repo: 'index-loop', code: GrpcStatus.NOT_FOUND, message: /entries that are indexes themselves are not followed/ },
      { repo: 'index-lie', code: GrpcStatus.FAILED_PRECONDITION, message: /requested sha256:1{64} but the body hashes to/ },
      { repo: 'redirect-loop', code: GrpcStatus.UNAVAILABLE, message: /redirecting in a loop/ },
    ];
    // Last: once the registry has asked for a token, berthd asks for one up front on every request to it.
    const authCases: Case[] = [
      { repo: 'auth-loop', code: GrpcStatus.FAILED_PRECONDITION, message: /token request .* failed: 401 \((credentials rejected|anonymous access refused)/ },
      { repo: 'auth-never-accepted', code: GrpcStatus.FAILED_PRECONDITION, message: /still 401 Unauthorized after authenticating/ },
      { repo: 'bad-token', code: GrpcStatus.FAILED_PRECONDITION, message: /cannot be sent in an Authorization header/ },
    ];
    const pullFails = async (c: Case): Promise<void> => {
      await assert.rejects(
        cri.image.PullImage({ image: { image: c.reference ?? ref(c.repo) } }, PULL_DEADLINE_MS),
        (err: { code?: number; details?: string }) => {
          assert.equal(GrpcStatus[err.code ?? -1], GrpcStatus[c.code], `${c.repo}: ${err.details}`);
          assert.match(err.details ?? '', c.message, c.repo);
          return true;
        },
      );
    };
    for (const c of cases) await pullFails(c);

    // A registry that drips a byte at a time never ends a pull by itself: the client's deadline does,
    // and then berthd must let go of the connection instead of downloading on for nobody.
    for (const [i, repo] of ['slow-manifest', 'slow-blob'].entries()) {
      await assert.rejects(cri.image.PullImage({ image: { image: ref(repo) } }, 2_000), (err: { code?: number }) => err.code === GrpcStatus.DEADLINE_EXCEEDED);
      assert.equal(registry.dripsStarted(), i + 1, `${repo} was being downloaded`);
      await waitUntil(() => registry.openDrips() === 0, `berthd to hang up on ${repo} after the client gave up`);
    }
    for (const c of authCases) await pullFails(c);

    const version = await cri.runtime.Version({ version: '0.1.0' });
    assert.equal(version.runtime_name, 'berth');
    const rssAfter = await rssKb(daemon.process.pid!);
    assert.ok(rssAfter - rssBefore < RSS_GROWTH_LIMIT_KB, `berthd RSS grew from ${rssBefore} kB to ${rssAfter} kB`);
    // What the failed pulls stored is collected in the background, before any later pull or removal.
    let state = await storeState();
    await waitUntil(async () => {
      state = await storeState();
      return JSON.stringify(state) === JSON.stringify(baseline);
    }, `the store to be back to ${JSON.stringify(baseline)}`).catch(() => undefined);
    assert.deepEqual(state, baseline);
    console.log(
      `reliability: hostile-registry: ${cases.length + authCases.length + 2} lying registries refused, RSS ${rssBefore} kB -> ${rssAfter} kB, store unchanged, 0 crashes`,
    );
  });
});
