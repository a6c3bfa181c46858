import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, rm, writeFile, chmod, utimes } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { LocalContentStore, digestOf } from '../../src/core/content/index.js';
import { FailedPreconditionError, InvalidArgumentError, NotFoundError, UnavailableError } from '../../src/core/errors.js';

async function tempRoot(t: { after(fn: () => Promise<void>): void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'berth-content-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of iterable) out.push(item);
  return out;
}

describe('LocalContentStore', () => {
  it('ingests a stream, then serves info, reads and the blob path', async (t) => {
    const store = new LocalContentStore(await tempRoot(t));
    const data = randomBytes(300_000);
    const digest = digestOf(data);
    const info = await store.ingest('layer-1', Readable.from([data.subarray(0, 1000), data.subarray(1000)]), {
      digest,
      size: data.length,
    });
    assert.equal(info.digest, digest);
    assert.equal(info.size, data.length);
    assert.deepEqual(info.labels, {});
    assert.ok(info.createdAt instanceof Date);
    assert.deepEqual(await store.readAll(digest), data);
    const tail: Buffer[] = [];
    for await (const chunk of store.openRead(digest, 299_990)) tail.push(chunk as Buffer);
    assert.deepEqual(Buffer.concat(tail), data.subarray(299_990));
    assert.ok(store.blobPath(digest).endsWith(digest.slice('sha256:'.length)));
    assert.deepEqual(await store.listIngests(), [], 'a committed ingest leaves no ingest behind');
    await assert.rejects(store.readAll(digest, 10), /more than the allowed 10/);
  });

  it('rejects malformed digests and never builds paths from them', async (t) => {
    const store = new LocalContentStore(await tempRoot(t));
    for (const bad of ['sha256:../../etc/passwd', 'sha512:' + 'a'.repeat(128), 'sha256:' + 'A'.repeat(64), 'sha256:abc', '']) {
      await assert.rejects(store.info(bad), InvalidArgumentError);
      assert.throws(() => store.blobPath(bad), InvalidArgumentError);
      assert.throws(() => store.openRead(bad), InvalidArgumentError);
      await assert.rejects(store.delete(bad), InvalidArgumentError);
    }
    assert.throws(() => store.openRead(digestOf('missing')), NotFoundError);
    await assert.rejects(store.readAll(digestOf('missing')), NotFoundError);
    assert.equal(await store.info(digestOf('missing')), undefined);
  });

  it('resumes a partial ingest from a new store instance on the same root', async (t) => {
    const root = await tempRoot(t);
    const data = randomBytes(50_000);
    const digest = digestOf(data);
    const first = new LocalContentStore(root);
    const w1 = await first.writer('resumable', { digest, size: data.length });
    assert.equal(w1.offset, 0);
    await w1.write(data.subarray(0, 20_000));
    await w1.close();
    assert.equal(await first.info(digest), undefined, 'nothing is visible before commit');

    const second = new LocalContentStore(root);
    const [status] = await second.listIngests();
    assert.equal(status?.ref, 'resumable');
    assert.equal(status?.offset, 20_000);
    assert.equal(status?.expected?.digest, digest);

    const offsets: number[] = [];
    const info = await second.ingest(
      'resumable',
      (offset) => {
        offsets.push(offset);
        return Readable.from([data.subarray(offset)]);
      },
      { digest, size: data.length },
    );
    assert.deepEqual(offsets, [20_000]);
    assert.equal(info.size, data.length);
    assert.deepEqual(await second.readAll(digest), data, 'resumed blob hashes correctly (hash state rebuilt from disk)');
  });

  it('a writer killed with SIGKILL mid-ingest leaves no blob, and the ingest resumes', async (t) => {
    const root = await tempRoot(t);
    const data = randomBytes(64 * 1024);
    const digest = digestOf(data);
    const storeUrl = new URL('../../src/core/content/local-store.js', import.meta.url).href;
    const script = `
      const { LocalContentStore } = await import(${JSON.stringify(storeUrl)});
      const store = new LocalContentStore(${JSON.stringify(root)});
      const w = await store.writer('killed', { digest: ${JSON.stringify(digest)}, size: ${data.length} });
      await w.write(Buffer.from(${JSON.stringify(data.subarray(0, 40_000).toString('base64'))}, 'base64'));
      process.stdout.write('written\\n');
      setInterval(() => {}, 1000);
    `;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    t.after(() => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    let output = '';
    child.stdout.setEncoding('utf8');
    for await (const chunk of child.stdout) {
      output += chunk as string;
      if (output.includes('written')) break;
    }
    clearTimeout(timer);
    assert.ok(output.includes('written'), 'child wrote its partial data');
    child.kill('SIGKILL');
    if (child.exitCode === null && child.signalCode === null) await once(child, 'exit');

    const store = new LocalContentStore(root);
    assert.equal(await store.info(digest), undefined, 'no blob after the crash');
    assert.deepEqual(await collect(store.walk()), []);
    const [status] = await store.listIngests();
    assert.equal(status?.offset, 40_000);
    await store.ingest('killed', (offset) => Readable.from([data.subarray(offset)]), { digest, size: data.length });
    assert.deepEqual(await store.readAll(digest), data);
    assert.deepEqual(await store.verify(), []);
  });

  it('a plain stream restarts a partial ingest from zero', async (t) => {
    const store = new LocalContentStore(await tempRoot(t));
    const data = Buffer.from('hello world, this is a blob');
    const digest = digestOf(data);
    const w = await store.writer('restart', { digest });
    await w.write(Buffer.from('garbage that must not survive'));
    await w.close();
    await store.ingest('restart', Readable.from([data]), { digest, size: data.length });
    assert.deepEqual(await store.readAll(digest), data);
  });

  it('a digest mismatch deletes the ingest and leaves nothing visible', async (t) => {
    const root = await tempRoot(t);
    const store = new LocalContentStore(root);
    const claimed = digestOf('what the manifest said');
    const w = await store.writer('bad');
    await w.write(Buffer.from('what the registry sent'));
    const actual = digestOf('what the registry sent');
    await assert.rejects(w.commit({ digest: claimed }), (err: Error) => {
      assert.ok(err instanceof FailedPreconditionError);
      assert.ok(err.message.includes(claimed) && err.message.includes(actual), err.message);
      return true;
    });
    assert.equal(await store.info(claimed), undefined);
    assert.equal(await store.info(actual), undefined);
    assert.deepEqual(await store.listIngests(), []);
    assert.deepEqual(await readdir(join(root, 'blobs', 'sha256')), []);
    assert.deepEqual(await readdir(join(root, 'ingest')), []);

    await assert.rejects(store.ingest('bad2', Readable.from([Buffer.from('x')]), { digest: claimed }), /digest mismatch/);
    await assert.rejects(
      store.ingest('bad3', Readable.from([Buffer.from('too long')]), { digest: digestOf('too long'), size: 3 }),
      /more than the expected 3 bytes/,
    );
    await assert.rejects(w.write(Buffer.from('late')), /already committed, aborted or closed/);
    assert.deepEqual(await collect(store.walk()), []);
  });

  it('locks a ref while a writer holds it, and commit of an existing blob succeeds', async (t) => {
    const store = new LocalContentStore(await tempRoot(t));
    const data = Buffer.from('shared layer');
    const digest = digestOf(data);
    const a = await store.writer('dup');
    await assert.rejects(store.writer('dup'), UnavailableError);
    await assert.rejects(store.abortIngest('dup'), UnavailableError);
    const b = await store.writer('dup-other');
    await a.write(data);
    await b.write(data);
    await a.commit({ digest, size: data.length });
    const info = await b.commit({ digest });
    assert.equal(info.size, data.length);
    assert.deepEqual(await store.listIngests(), []);
    const again = await store.writer('dup');
    await again.abort();
  });

  it('aborts ingests by ref', async (t) => {
    const store = new LocalContentStore(await tempRoot(t));
    const w = await store.writer('to-abort');
    await w.write(Buffer.from('partial'));
    await w.close();
    assert.equal((await store.listIngests()).length, 1);
    await store.abortIngest('to-abort');
    assert.deepEqual(await store.listIngests(), []);
    await assert.rejects(store.abortIngest('to-abort'), NotFoundError);
  });

  it('removes ingests left behind for blobs already committed, or without a record, keeping the others', async (t) => {
    const root = await tempRoot(t);
    const store = new LocalContentStore(root);
    const done = randomBytes(1000);
    const pending = randomBytes(1000);
    for (const [ref, data] of [['left-behind', done], ['still-needed', pending]] as const) {
      const w = await store.writer(ref, { digest: digestOf(data), size: data.length });
      await w.write(data.subarray(0, 500));
      await w.close();
    }
    await store.ingest('another-ref', Readable.from([done]), { digest: digestOf(done), size: done.length });
    // A crash while an ingest directory was being removed (or created) leaves it without its record.
    await mkdir(join(root, 'ingest', 'half-removed'));
    assert.deepEqual((await store.removeFinishedIngests()).sort(), ['half-removed', 'left-behind']);
    assert.deepEqual((await store.listIngests()).map((i) => i.ref), ['still-needed']);
    assert.deepEqual(await store.readAll(digestOf(done)), done);
  });

  it('drops partial downloads nothing has written to for the stale age, keeping fresher ones', async (t) => {
    const storeRoot = await tempRoot(t);
    const store = new LocalContentStore(storeRoot);
    for (const ref of ['abandoned', 'recent']) {
      const data = randomBytes(1000);
      const w = await store.writer(ref, { digest: digestOf(data), size: data.length });
      await w.write(data.subarray(0, 500));
      await w.close();
    }
    const abandoned = (await store.listIngests()).find((i) => i.ref === 'abandoned')!;
    const dataFile = join(storeRoot, 'ingest', createHash('sha256').update('abandoned').digest('hex'), 'data');
    const twoDaysAgo = new Date(abandoned.updatedAt.getTime() - 2 * 24 * 3600 * 1000);
    await utimes(dataFile, twoDaysAgo, twoDaysAgo);
    assert.deepEqual(await store.removeFinishedIngests(24 * 3600 * 1000), ['abandoned']);
    assert.deepEqual((await store.listIngests()).map((i) => i.ref), ['recent']);
  });

  it('deletes, walks and labels blobs', async (t) => {
    const root = await tempRoot(t);
    const store = new LocalContentStore(root);
    const blobs = ['one', 'two', 'three'].map((s) => Buffer.from(s));
    for (const [i, b] of blobs.entries()) await store.ingest(`ref-${i}`, Readable.from([b]), { digest: digestOf(b) });
    const walked = (await collect(store.walk())).map((i) => i.digest).sort();
    assert.deepEqual(walked, blobs.map((b) => digestOf(b)).sort());

    const target = digestOf(blobs[1]!);
    const labelled = await store.setLabels(target, { 'containerd.io/gc.root': 'x', 'berth/ref': 'img' });
    assert.deepEqual(labelled.labels, { 'containerd.io/gc.root': 'x', 'berth/ref': 'img' });
    // Labels persist across instances.
    assert.deepEqual((await new LocalContentStore(root).info(target))?.labels, { 'containerd.io/gc.root': 'x', 'berth/ref': 'img' });
    assert.deepEqual((await store.setLabels(target, { only: 'this' })).labels, { only: 'this' });
    assert.deepEqual((await store.setLabels(target, {})).labels, {});
    await assert.rejects(store.setLabels(target, { k: 'v'.repeat(5000) }), InvalidArgumentError);
    await assert.rejects(store.setLabels(digestOf('absent'), { a: 'b' }), NotFoundError);

    await store.setLabels(target, { a: 'b' });
    await store.delete(target);
    assert.equal(await store.info(target), undefined);
    await assert.rejects(store.delete(target), NotFoundError);
    assert.equal((await collect(store.walk())).length, 2);
    assert.deepEqual(await readdir(join(root, 'labels', 'sha256')), [], 'labels go with the blob');
    assert.deepEqual(await store.verify(), []);
  });

  it('verify finds corrupted blobs and stray temporary files', async (t) => {
    const root = await tempRoot(t);
    const store = new LocalContentStore(root);
    const good = Buffer.from('good');
    const bad = Buffer.from('will be corrupted');
    await store.ingest('g', Readable.from([good]), { digest: digestOf(good) });
    await store.ingest('b', Readable.from([bad]), { digest: digestOf(bad) });
    assert.deepEqual(await store.verify(), []);

    const badPath = store.blobPath(digestOf(bad));
    await chmod(badPath, 0o644);
    await writeFile(badPath, 'bit rot');
    await writeFile(join(root, 'blobs', 'sha256', 'abc.tmp-123456'), 'half');
    const problems = await store.verify();
    const corrupted = problems.find((p) => p.digest === digestOf(bad));
    assert.ok(corrupted, JSON.stringify(problems));
    assert.match(corrupted.problem, new RegExp(createHash('sha256').update('bit rot').digest('hex')));
    assert.ok(problems.some((p) => p.digest.endsWith('abc.tmp-123456') && /stray temporary/.test(p.problem)));
    assert.equal(problems.length, 2);
  });
});
