import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { lstat, mkdir, mkdtemp, readdir, readFile, readlink, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import tar from 'tar-stream';
import { applyLayer, DiffIdMismatchError, type ApplyOptions } from '../../src/core/diff/index.js';
import { InvalidArgumentError } from '../../src/core/errors.js';
import { lgetxattr } from '../../src/core/sys/native.js';

// ---------- helpers ----------

type TarHeaderArg = Parameters<tar.Pack['entry']>[0];
interface TarItem {
  header: TarHeaderArg;
  body?: Buffer | string;
  /** Emit this item as a PAX extended header ('x') instead of a file. */
  rawPax?: boolean;
}

const MTIME = new Date(1_600_000_000_000);

const END_OF_TAR_BYTES = 1024;

/** Encodes one entry as a tar fragment (headers + padded body, no end-of-archive marker). */
async function tarFragment(item: TarItem): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  const collecting = (async () => {
    for await (const chunk of pack) chunks.push(chunk as Buffer);
  })();
  await new Promise<void>((resolve, reject) => {
    pack.entry({ mtime: MTIME, ...item.header }, item.body ?? '', (err) => (err ? reject(err) : resolve()));
  });
  pack.finalize();
  await collecting;
  const all = Buffer.concat(chunks);
  return all.subarray(0, all.length - END_OF_TAR_BYTES);
}

/** Builds a tar archive in memory. */
async function makeTar(items: TarItem[]): Promise<Buffer> {
  const fragments: Buffer[] = [];
  for (const item of items) {
    const fragment = await tarFragment(item);
    if (item.rawPax) {
      // tar-stream cannot write a PAX header with arbitrary bytes: write a file, then retype it as 'x'.
      fragment[156] = 0x78;
      fragment.fill(0x20, 148, 156);
      let sum = 0;
      for (let i = 0; i < 512; i++) sum += fragment[i]!;
      fragment.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 'latin1');
    }
    fragments.push(fragment);
  }
  fragments.push(Buffer.alloc(END_OF_TAR_BYTES));
  return Buffer.concat(fragments);
}

/** A raw PAX header entry, so tests can place byte-exact (binary) values or huge headers. */
function rawPax(records: Array<[string, Buffer | string]>): TarItem {
  const parts: Buffer[] = [];
  for (const [key, value] of records) {
    const body = Buffer.concat([Buffer.from(` ${key}=`), Buffer.from(value), Buffer.from('\n')]);
    let length = body.length + 1;
    while (String(length).length + body.length !== length) length = String(length).length + body.length;
    parts.push(Buffer.concat([Buffer.from(String(length)), body]));
  }
  return { header: { name: 'PaxHeader' }, body: Buffer.concat(parts), rawPax: true };
}

function sha256(data: Buffer): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

async function tempDir(t: { after(fn: () => Promise<void>): void }, prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

function apply(data: Buffer, opts: ApplyOptions, chunkSize = 7919): Promise<{ diffId: string; size: number }> {
  const chunks: Buffer[] = [];
  for (let i = 0; i < data.length; i += chunkSize) chunks.push(data.subarray(i, i + chunkSize));
  return applyLayer(Readable.from(chunks), opts);
}

/** Recursive description of a tree (type, mode, owner, links, content), for before/after comparisons. */
async function snapshotTree(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  async function walk(path: string, rel: string): Promise<void> {
    const st = await lstat(path);
    let desc = `${st.mode.toString(8)} ${st.uid}:${st.gid} nlink=${st.nlink} mtime=${st.mtimeMs}`;
    if (st.isSymbolicLink()) desc += ` -> ${await readlink(path)}`;
    else if (st.isFile()) desc += ` ${sha256(await readFile(path))}`;
    out[rel || '.'] = desc;
    if (st.isDirectory()) for (const child of (await readdir(path)).sort()) await walk(join(path, child), rel ? `${rel}/${child}` : child);
  }
  await walk(dir, '');
  return out;
}

function devNumbers(rdev: number): { major: number; minor: number } {
  return { major: Math.floor(rdev / 256) & 0xfff, minor: (rdev & 0xff) | ((Math.floor(rdev / 4096) & ~0xff) >>> 0) };
}

async function exists(path: string): Promise<boolean> {
  return lstat(path).then(
    () => true,
    () => false,
  );
}

// ---------- tests ----------

describe('applyLayer: content and metadata', () => {
  it('writes files, dirs, modes, owners and mtimes, and reports the diffID of the tar', async (t) => {
    const root = await tempDir(t, 'berth-diff-');
    const big = Buffer.alloc(3 * 1024 * 1024 + 17, 'z');
    const layer = await makeTar([
      { header: { name: 'etc/', type: 'directory', mode: 0o755, mtime: new Date(1_500_000_000_000) } },
      { header: { name: 'etc/hostname', mode: 0o644, uid: 1000, gid: 2000 }, body: 'berth\n' },
      { header: { name: 'usr/bin/su', mode: 0o4755 }, body: 'setuid' },
      { header: { name: 'usr/bin/wall', mode: 0o2755, gid: 5 }, body: 'setgid' },
      { header: { name: 'tmp/', type: 'directory', mode: 0o1777 } },
      { header: { name: './data/big.bin', mode: 0o600 }, body: big },
      { header: { name: 'data/owned', mode: 0o640, pax: { uid: '3000000', gid: '3000001', mtime: '1234567890.5' } }, body: 'x' },
    ]);
    const result = await apply(layer, { root, whiteoutMode: 'delete' });
    assert.equal(result.diffId, sha256(layer));
    assert.equal(result.size, layer.length);

    assert.equal(await readFile(join(root, 'etc/hostname'), 'utf8'), 'berth\n');
    assert.deepEqual(await readFile(join(root, 'data/big.bin')), big);
    const hostname = await stat(join(root, 'etc/hostname'));
    assert.equal(hostname.mode & 0o7777, 0o644);
    assert.equal(hostname.uid, 1000);
    assert.equal(hostname.gid, 2000);
    assert.equal(hostname.mtime.getTime(), MTIME.getTime());
    assert.equal((await stat(join(root, 'usr/bin/su'))).mode & 0o7777, 0o4755);
    assert.equal((await stat(join(root, 'usr/bin/wall'))).mode & 0o7777, 0o2755);
    assert.equal((await stat(join(root, 'usr/bin/wall'))).gid, 5);
    assert.equal((await stat(join(root, 'tmp'))).mode & 0o7777, 0o1777);
    const owned = await stat(join(root, 'data/owned'));
    assert.equal(owned.uid, 3000000, 'PAX uid wins over the ustar field');
    assert.equal(owned.gid, 3000001);
    assert.equal(owned.mtimeMs, 1234567890500, 'PAX sub-second mtime');
    // Directory mtime is set after its child was written.
    assert.equal((await stat(join(root, 'etc'))).mtime.getTime(), 1_500_000_000_000);
    // Implicit parents are created.
    assert.ok((await stat(join(root, 'usr/bin'))).isDirectory());
  });

  it('decompresses gzip and zstd layers and hashes the uncompressed tar', async (t) => {
    const layer = await makeTar([{ header: { name: 'hello.txt' }, body: 'hello from a compressed layer\n'.repeat(1000) }]);
    const gzRoot = await tempDir(t, 'berth-diff-gz-');
    const gz = await apply(gzipSync(layer), { root: gzRoot, whiteoutMode: 'delete', expectedDiffId: sha256(layer) });
    assert.equal(gz.diffId, sha256(layer));
    assert.equal(gz.size, layer.length);
    assert.equal(await readFile(join(gzRoot, 'hello.txt'), 'utf8'), 'hello from a compressed layer\n'.repeat(1000));

    let zstd: Buffer;
    try {
      zstd = execFileSync('zstd', ['-q', '-c', '-3'], { input: layer, timeout: 30_000 });
    } catch (err) {
      t.skip(`zstd CLI not available (${(err as Error).message}); install it with apt-get install -y zstd`);
      return;
    }
    const zstRoot = await tempDir(t, 'berth-diff-zst-');
    const zst = await apply(zstd, { root: zstRoot, whiteoutMode: 'delete' }, 100);
    assert.equal(zst.diffId, sha256(layer));
    assert.equal(await readFile(join(zstRoot, 'hello.txt'), 'utf8'), 'hello from a compressed layer\n'.repeat(1000));
  });

  it('rejects a diffID mismatch naming both digests', async (t) => {
    const root = await tempDir(t, 'berth-diff-');
    const layer = await makeTar([{ header: { name: 'f' }, body: 'data' }]);
    const wrong = sha256(Buffer.from('something else'));
    await assert.rejects(apply(gzipSync(layer), { root, whiteoutMode: 'delete', expectedDiffId: wrong }), (err: Error) => {
      assert.ok(err instanceof DiffIdMismatchError);
      assert.ok(err.message.includes(wrong) && err.message.includes(sha256(layer)), err.message);
      return true;
    });
  });

  it('rejects corrupt and truncated input', async (t) => {
    const root = await tempDir(t, 'berth-diff-');
    const layer = await makeTar([{ header: { name: 'f' }, body: 'x'.repeat(5000) }]);
    await assert.rejects(apply(gzipSync(layer).subarray(0, 100), { root, whiteoutMode: 'delete' }), /cannot read layer/);
    await assert.rejects(apply(layer.subarray(0, 1024), { root, whiteoutMode: 'delete' }), /cannot read layer.*Unexpected end of data/);
    await assert.rejects(apply(Buffer.alloc(2048, 'x'), { root, whiteoutMode: 'delete' }), /cannot read layer/);
    await assert.rejects(apply(layer, { root: join(root, 'missing'), whiteoutMode: 'delete' }), /not an existing directory/);
  });

  it('creates symlinks and hardlinks, and replaces existing entries without writing through them', async (t) => {
    const root = await tempDir(t, 'berth-diff-');
    const outside = await tempDir(t, 'berth-diff-outside-');
    await writeFile(join(outside, 'sentinel'), 'outside');
    const before = await snapshotTree(outside);
    await symlink(join(outside, 'sentinel'), join(root, 'replaced'));
    await mkdir(join(root, 'was-a-dir'));
    await writeFile(join(root, 'was-a-dir', 'child'), 'old');
    const layer = await makeTar([
      { header: { name: 'bin/busybox', mode: 0o755 }, body: 'binary' },
      { header: { name: 'bin/sh', type: 'symlink', linkname: 'busybox' } },
      { header: { name: 'bin/abs', type: 'symlink', linkname: '/does/not/exist' } },
      { header: { name: 'bin/ls', type: 'link', linkname: 'bin/busybox' } },
      { header: { name: 'replaced', mode: 0o644 }, body: 'new content' },
      { header: { name: 'was-a-dir', mode: 0o644 }, body: 'now a file' },
    ]);
    await apply(layer, { root, whiteoutMode: 'delete' });
    assert.equal(await readlink(join(root, 'bin/sh')), 'busybox');
    assert.equal(await readlink(join(root, 'bin/abs')), '/does/not/exist');
    const [a, b] = await Promise.all([stat(join(root, 'bin/busybox')), stat(join(root, 'bin/ls'))]);
    assert.equal(a.ino, b.ino, 'hardlink shares the inode');
    assert.equal(a.nlink, 2);
    assert.ok((await lstat(join(root, 'replaced'))).isFile(), 'the old symlink was replaced, not followed');
    assert.equal(await readFile(join(root, 'replaced'), 'utf8'), 'new content');
    assert.equal(await readFile(join(root, 'was-a-dir'), 'utf8'), 'now a file');
    assert.deepEqual(await snapshotTree(outside), before);
  });

  it('sets xattrs from PAX headers, byte-exact, and refuses PAX headers over 1 MiB', async (t) => {
    const root = await tempDir(t, 'berth-diff-');
    const binary = Buffer.from([0x01, 0x00, 0x00, 0x02, 0xff, 0x80, 0xc3, 0x28, 0x00]);
    const layer = await makeTar([
      { header: { name: 'text', pax: { 'SCHILY.xattr.user.note': 'héllo' } }, body: 't' },
      rawPax([['SCHILY.xattr.trusted.blob', binary]]),
      { header: { name: 'bin' }, body: 'b' },
      { header: { name: 'dir/', type: 'directory', pax: { 'SCHILY.xattr.user.dir': 'yes' } } },
      // overlayfs's own attributes are never taken from a layer: they would redirect or hide what lower layers show.
      { header: { name: 'forged/', type: 'directory', pax: { 'SCHILY.xattr.trusted.overlay.opaque': 'y', 'SCHILY.xattr.trusted.overlay.redirect': '/etc' } } },
    ]);
    await apply(layer, { root, whiteoutMode: 'delete' });
    assert.equal(lgetxattr(join(root, 'forged'), 'trusted.overlay.opaque'), null);
    assert.equal(lgetxattr(join(root, 'forged'), 'trusted.overlay.redirect'), null);
    assert.equal(lgetxattr(join(root, 'text'), 'user.note')?.toString('utf8'), 'héllo');
    assert.deepEqual(lgetxattr(join(root, 'bin'), 'trusted.blob'), binary);
    assert.equal(lgetxattr(join(root, 'dir'), 'user.dir')?.toString(), 'yes');

    const hugeRoot = await tempDir(t, 'berth-diff-huge-');
    const huge = await makeTar([rawPax([['SCHILY.xattr.user.big', Buffer.alloc(1100 * 1024, 'a')]]), { header: { name: 'f' }, body: 'x' }]);
    await assert.rejects(apply(huge, { root: hugeRoot, whiteoutMode: 'delete' }), /PAX header of \d+ bytes/);
    assert.equal(await exists(join(hugeRoot, 'f')), false);

    // Within the PAX bound but over the kernel's 64 KiB per value: the layer's fault, not the daemon's.
    const bigRoot = await tempDir(t, 'berth-diff-big-');
    const big = await makeTar([{ header: { name: 'big', pax: { 'SCHILY.xattr.user.big': 'x'.repeat(100_000) } }, body: 'b' }]);
    await assert.rejects(apply(big, { root: bigRoot, whiteoutMode: 'delete' }), (err: Error) => err instanceof InvalidArgumentError && /cannot set xattr "user.big"/.test(err.message));
  });

  it('creates character and block devices and fifos with mknod', async (t) => {
    const root = await tempDir(t, 'berth-diff-');
    const layer = await makeTar([
      { header: { name: 'dev/null', type: 'character-device', mode: 0o666, devmajor: 1, devminor: 3 } },
      { header: { name: 'dev/loop0', type: 'block-device', mode: 0o660, devmajor: 7, devminor: 0, gid: 6 } },
      { header: { name: 'run/pipe', type: 'fifo', mode: 0o620 } },
    ]);
    await apply(layer, { root, whiteoutMode: 'delete' });
    const nul = await lstat(join(root, 'dev/null'));
    assert.ok(nul.isCharacterDevice());
    assert.deepEqual(devNumbers(nul.rdev), { major: 1, minor: 3 });
    assert.equal(nul.mode & 0o7777, 0o666);
    const loop = await lstat(join(root, 'dev/loop0'));
    assert.ok(loop.isBlockDevice());
    assert.deepEqual(devNumbers(loop.rdev), { major: 7, minor: 0 });
    assert.equal(loop.gid, 6);
    const fifo = await lstat(join(root, 'run/pipe'));
    assert.ok(fifo.isFIFO());
    assert.equal(fifo.mode & 0o7777, 0o620);
  });
});

describe('applyLayer: whiteouts', () => {
  async function lowerState(root: string): Promise<void> {
    await mkdir(join(root, 'd'), { recursive: true });
    await mkdir(join(root, 'o/sub'), { recursive: true });
    await writeFile(join(root, 'a'), 'lower a');
    await writeFile(join(root, 'd/x'), 'lower x');
    await writeFile(join(root, 'd/y'), 'lower y');
    await writeFile(join(root, 'o/lower1'), 'lower 1');
    await writeFile(join(root, 'o/sub/lower2'), 'lower 2');
  }

  const whiteoutLayer = (): Promise<Buffer> =>
    makeTar([
      { header: { name: '.wh.a' } },
      { header: { name: 'd/.wh.x' } },
      { header: { name: 'o/', type: 'directory' } },
      { header: { name: 'o/new' }, body: 'this layer' },
      { header: { name: 'o/.wh..wh..opq' } },
      { header: { name: 'o/sub/', type: 'directory' } },
      { header: { name: 'o/sub/new2' }, body: 'this layer too' },
      { header: { name: 'same' }, body: 'kept: whiteouts only hide lower layers' },
      { header: { name: '.wh.same' } },
    ]);

  it("'delete' mode removes whited-out paths and empties opaque dirs of lower entries only", async (t) => {
    const root = await tempDir(t, 'berth-diff-');
    await lowerState(root);
    await apply(await whiteoutLayer(), { root, whiteoutMode: 'delete' });
    assert.equal(await exists(join(root, 'a')), false);
    assert.equal(await exists(join(root, '.wh.a')), false);
    assert.equal(await exists(join(root, 'd/x')), false);
    assert.equal(await readFile(join(root, 'd/y'), 'utf8'), 'lower y');
    assert.deepEqual((await readdir(join(root, 'o'))).sort(), ['new', 'sub']);
    assert.deepEqual(await readdir(join(root, 'o/sub')), ['new2']);
    assert.equal(await readFile(join(root, 'same'), 'utf8'), 'kept: whiteouts only hide lower layers');
  });

  it("'overlay' mode writes 0/0 char devices and the opaque xattr", async (t) => {
    const upper = await tempDir(t, 'berth-diff-upper-');
    await apply(await whiteoutLayer(), { root: upper, whiteoutMode: 'overlay' });
    for (const hidden of ['a', 'd/x']) {
      const st = await lstat(join(upper, hidden));
      assert.ok(st.isCharacterDevice(), `${hidden} is a whiteout device`);
      assert.deepEqual(devNumbers(st.rdev), { major: 0, minor: 0 });
    }
    assert.equal(await exists(join(upper, '.wh.a')), false);
    assert.equal(lgetxattr(join(upper, 'o'), 'trusted.overlay.opaque')?.toString(), 'y');
    assert.equal(lgetxattr(join(upper, 'd'), 'trusted.overlay.opaque'), null);
    assert.equal(await readFile(join(upper, 'o/new'), 'utf8'), 'this layer');
    assert.ok((await lstat(join(upper, 'same'))).isFile());
  });

  it("'overlay' mode copies a hardlink target found only in a lower dir", async (t) => {
    const lowerTop = await tempDir(t, 'berth-diff-lower1-');
    const lowerBottom = await tempDir(t, 'berth-diff-lower2-');
    const upper = await tempDir(t, 'berth-diff-upper-');
    await mkdir(join(lowerBottom, 'usr/lib'), { recursive: true });
    await writeFile(join(lowerBottom, 'usr/lib/libc.so'), 'bottom libc', { mode: 0o755 });
    await mkdir(join(lowerTop, 'usr/lib'), { recursive: true });
    await writeFile(join(lowerTop, 'usr/lib/libc.so'), 'top libc', { mode: 0o751 });
    const layer = await makeTar([{ header: { name: 'usr/lib/libc.so.6', type: 'link', linkname: 'usr/lib/libc.so' } }]);
    await apply(layer, { root: upper, whiteoutMode: 'overlay', lowerDirs: [lowerTop, lowerBottom] });
    assert.equal(await readFile(join(upper, 'usr/lib/libc.so.6'), 'utf8'), 'top libc');
    assert.equal((await stat(join(upper, 'usr/lib/libc.so.6'))).mode & 0o7777, 0o751);
    assert.equal((await stat(join(lowerTop, 'usr/lib/libc.so'))).nlink, 1, 'the lower file is copied, never linked');

    const missing = await makeTar([{ header: { name: 'x', type: 'link', linkname: 'nowhere' } }]);
    const upper2 = await tempDir(t, 'berth-diff-upper2-');
    await assert.rejects(apply(missing, { root: upper2, whiteoutMode: 'overlay', lowerDirs: [lowerTop] }), /hardlink target nowhere does not exist/);
  });
});

describe('applyLayer: hostile layers never touch anything outside root', () => {
  async function hostileCase(
    t: { after(fn: () => Promise<void>): void },
    items: TarItem[],
    expectRejection: RegExp | undefined,
  ): Promise<{ root: string; outside: string }> {
    const root = await tempDir(t, 'berth-diff-root-');
    const outside = await tempDir(t, 'berth-diff-outside-');
    await writeFile(join(outside, 'sentinel'), 'must stay');
    await mkdir(join(outside, 'sub'));
    const before = await snapshotTree(outside);
    const passwdBefore = await stat('/etc/passwd');
    const layer = await makeTar(items);
    const run = apply(layer, { root, whiteoutMode: 'delete' });
    if (expectRejection) await assert.rejects(run, expectRejection);
    else await run;
    assert.deepEqual(await snapshotTree(outside), before, 'outside directory untouched');
    const passwdAfter = await stat('/etc/passwd');
    assert.equal(passwdAfter.nlink, passwdBefore.nlink, '/etc/passwd gained no link');
    assert.equal(passwdAfter.mtimeMs, passwdBefore.mtimeMs);
    assert.equal(await exists(join(root, '..', 'escape')), false, 'nothing written next to root');
    assert.equal(await exists('/abs'), false, 'nothing written at an absolute path');
    return { root, outside };
  }

  it('refuses ../escape', async (t) => {
    await hostileCase(t, [{ header: { name: '../escape' }, body: 'x' }], /climbs out of the layer root/);
    await hostileCase(t, [{ header: { name: 'a/../../escape' }, body: 'x' }], /climbs out of the layer root/);
  });

  it('refuses absolute paths', async (t) => {
    await hostileCase(t, [{ header: { name: '/abs/path' }, body: 'x' }], /absolute paths are not allowed/);
  });

  it('keeps writes through an absolute symlink inside root (chroot semantics)', async (t) => {
    const outside = await mkdtemp(join(tmpdir(), 'berth-diff-target-'));
    t.after(() => rm(outside, { recursive: true, force: true }));
    const { root } = await hostileCase(
      t,
      [
        { header: { name: 'evil', type: 'symlink', linkname: outside } },
        { header: { name: 'evil/file' }, body: 'payload' },
      ],
      undefined,
    );
    assert.deepEqual(await readdir(outside), [], 'the symlink target outside root stays empty');
    assert.equal(await readFile(join(root, outside, 'file'), 'utf8'), 'payload');
    assert.equal(await readlink(join(root, 'evil')), outside, 'the symlink itself is kept as written');
  });

  it('keeps a ../../.. symlink chain inside root', async (t) => {
    const { root } = await hostileCase(
      t,
      [
        { header: { name: 'a', type: 'symlink', linkname: '../../..' } },
        { header: { name: 'b', type: 'symlink', linkname: 'a/../a/..' } },
        { header: { name: 'a/x' }, body: 'via a' },
        { header: { name: 'b/tmp/y' }, body: 'via b' },
      ],
      undefined,
    );
    assert.equal(await readFile(join(root, 'x'), 'utf8'), 'via a');
    assert.equal(await readFile(join(root, 'tmp/y'), 'utf8'), 'via b');
  });

  it('a directory replaced by a symlink later in the layer is resolved again, inside root', async (t) => {
    // The applier remembers resolved parent directories: replacing one must not leave a stale path behind.
    const outside = await mkdtemp(join(tmpdir(), 'berth-diff-target-'));
    t.after(() => rm(outside, { recursive: true, force: true }));
    const { root } = await hostileCase(
      t,
      [
        { header: { name: 'd/sub/first' }, body: 'into the directory' },
        { header: { name: 'd', type: 'symlink', linkname: outside } },
        { header: { name: 'd/sub/second' }, body: 'through the symlink, confined' },
        { header: { name: 'e/f/g' }, body: 'g' },
        { header: { name: 'e/.wh.f' } },
        { header: { name: 'e/f/h' }, body: 'h in a fresh f' },
      ],
      undefined,
    );
    assert.deepEqual(await readdir(outside), []);
    assert.equal(await readlink(join(root, 'd')), outside);
    assert.equal(await readFile(join(root, outside, 'sub', 'second'), 'utf8'), 'through the symlink, confined');
    assert.equal(await exists(join(root, outside, 'sub', 'first')), false);
    assert.deepEqual(await readdir(join(root, 'e', 'f')), ['h']);
  });

  it('refuses a hardlink to /etc/passwd', async (t) => {
    await hostileCase(t, [{ header: { name: 'passwd', type: 'link', linkname: '/etc/passwd' } }], /absolute paths are not allowed/);
  });

  it('refuses a hardlink via ../', async (t) => {
    await hostileCase(t, [{ header: { name: 'passwd', type: 'link', linkname: '../../../../../../etc/passwd' } }], /climbs out/);
  });

  it('refuses a hardlink through a symlink pointing outside', async (t) => {
    await hostileCase(
      t,
      [
        { header: { name: 'host', type: 'symlink', linkname: '/etc' } },
        { header: { name: 'passwd', type: 'link', linkname: 'host/passwd' } },
      ],
      /hardlink target host\/passwd does not exist/,
    );
    // etc -> /etc resolves to itself inside root: a loop, refused.
    await hostileCase(
      t,
      [
        { header: { name: 'etc', type: 'symlink', linkname: '/etc' } },
        { header: { name: 'passwd', type: 'link', linkname: 'etc/passwd' } },
      ],
      /too many levels of symbolic links/,
    );
  });

  it('refuses whiteouts that try to delete outside root', async (t) => {
    const outside = await mkdtemp(join(tmpdir(), 'berth-diff-victim-'));
    t.after(() => rm(outside, { recursive: true, force: true }));
    await writeFile(join(outside, 'victim'), 'keep me');
    await hostileCase(t, [{ header: { name: '../.wh.victim' } }], /climbs out/);
    await hostileCase(
      t,
      [
        { header: { name: 'link', type: 'symlink', linkname: outside } },
        { header: { name: 'link/.wh.victim' } },
        { header: { name: 'link/.wh..wh..opq' } },
      ],
      undefined,
    );
    assert.equal(await readFile(join(outside, 'victim'), 'utf8'), 'keep me');
  });
});
