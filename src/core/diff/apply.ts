import { createHash } from 'node:crypto';
import { chmod, lchown, link, lstat, lutimes, mkdir, open, readdir, rm, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import tar from 'tar-stream';
import { isValidDigest } from '../content/digest.js';
import { BerthError, FailedPreconditionError, InvalidArgumentError, isStorageFull, storageFullError } from '../errors.js';
import { lsetxattr, mknod, S_IFBLK, S_IFCHR, S_IFIFO } from '../sys/native.js';
import { openUncompressed } from './decompress.js';
import { installPaxDecoder, paxXattrs } from './pax.js';
import { cleanEntryName, resolveDirInRoot, resolveEntry, ResolvedDirs, UnsafeEntryError, type ResolvedEntry } from './safe-path.js';
import { isErrno } from '../util/errno.js';
import { copyFileWithMetadata } from '../util/copy-tree.js';
import { lstatOrUndefined } from '../util/fs.js';

export type WhiteoutMode = 'delete' | 'overlay';

export interface ApplyOptions {
  /** Target directory; must exist. */
  root: string;
  /**
   * 'delete': root holds the lower layers too; whiteouts remove files.
   * 'overlay': root is a fresh overlayfs upper dir; whiteouts become overlay markers.
   */
  whiteoutMode: WhiteoutMode;
  /**
   * Overlay mode: lower dirs, topmost first, used to satisfy hardlinks to lower
   * files. A function is called on the first such hardlink only, so a layer can
   * be unpacked before its parents are complete.
   */
  lowerDirs?: readonly string[] | (() => Promise<readonly string[]>);
  /** When set, the uncompressed tar must hash to this digest. */
  expectedDiffId?: string;
  /**
   * For a layer read while it downloads, not yet verified: past `bytes` of
   * uncompressed data, extraction waits for `verified()` (which rejects if
   * the download fails), so a registry lying with a decompression bomb gets
   * no further than that before its blob is refused.
   */
  unverified?: { bytes: number; verified(): Promise<void> };
}

export interface ApplyResult {
  /** sha256 of the uncompressed tar stream. */
  diffId: string;
  /** Uncompressed size in bytes. */
  size: number;
}

export class DiffIdMismatchError extends FailedPreconditionError {
  constructor(
    readonly expected: string,
    readonly actual: string,
  ) {
    super(`layer diffID mismatch: expected ${expected}, got ${actual}; discard the target directory`);
  }
}

const WHITEOUT_PREFIX = '.wh.';
const OPAQUE_MARKER = '.wh..wh..opq';
const OVERLAY_XATTR_PREFIX = 'trusted.overlay.';
export const OVERLAY_OPAQUE_XATTR = `${OVERLAY_XATTR_PREFIX}opaque`;

type TarEntry = tar.Extract extends AsyncIterable<infer E> ? E : never;
type TarHeader = tar.Header;

/**
 * Feeds the uncompressed tar into the extractor, hashing and counting it on the
 * way (the diffID covers every byte, including the end-of-archive padding).
 */
async function feedExtractor(source: Readable, sink: tar.Extract, observe: (chunk: Buffer) => void, unverified?: ApplyOptions['unverified']): Promise<void> {
  let fed = 0;
  let gate = unverified;
  try {
    for await (const chunk of source as AsyncIterable<Buffer>) {
      fed += chunk.length;
      if (gate && fed > gate.bytes) {
        await gate.verified();
        gate = undefined;
      }
      observe(chunk);
      if (!sink.write(chunk)) await drainedOrClosed(sink);
      if (sink.destroyed) throw new Error('layer extraction stopped');
    }
    sink.end(undefined);
  } catch (err) {
    sink.destroy(err instanceof Error ? err : new Error(String(err)));
    throw err;
  }
}

function drainedOrClosed(sink: tar.Extract): Promise<void> {
  if (sink.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => {
      sink.off('drain', done);
      sink.off('close', done);
      resolve();
    };
    sink.on('drain', done);
    sink.on('close', done);
  });
}

interface DirTimes {
  path: string;
  atime: Date;
  mtime: Date;
}

/**
 * Applies one image layer (tar, tar+gzip or tar+zstd) to `opts.root`.
 * Any refused entry fails the whole apply; the caller discards the target.
 */
export async function applyLayer(input: Readable, opts: ApplyOptions): Promise<ApplyResult> {
  try {
    if (opts.expectedDiffId !== undefined && !isValidDigest(opts.expectedDiffId)) {
      throw new InvalidArgumentError(`invalid expected diffID ${JSON.stringify(opts.expectedDiffId)}`);
    }
    const rootStat = await lstat(opts.root).catch(() => undefined);
    if (rootStat?.isDirectory() !== true) throw new InvalidArgumentError(`layer target ${opts.root} is not an existing directory`);
    installPaxDecoder();
  } catch (err) {
    input.destroy();
    throw err;
  }

  const { stream } = await openUncompressed(input);
  const hash = createHash('sha256');
  let size = 0;
  const extract = tar.extract();
  let extractError: Error | undefined;
  extract.on('error', (err: Error) => {
    extractError ??= err;
  });
  const feeding = feedExtractor(
    stream,
    extract,
    (chunk) => {
      hash.update(chunk);
      size += chunk.length;
    },
    opts.unverified,
  );
  feeding.catch(() => undefined); // awaited below; this only prevents an unhandled rejection meanwhile
  const applier = new LayerApplier(opts);
  try {
    for await (const entry of extract) {
      await applier.apply(entry);
      entry.resume();
    }
    await feeding;
    await applier.finish();
  } catch (err) {
    extract.destroy();
    stream.destroy();
    input.destroy();
    await feeding.catch(() => undefined);
    if (err instanceof BerthError) throw err;
    if (isStorageFull(err)) throw storageFullError(err, 'the unpacked layer');
    // A broken archive or compressed stream shows up in the loop as a generic "stream destroyed":
    // report the root cause (truncated tar, corrupt gzip/zstd, oversized header) instead.
    if (extractError !== undefined) {
      throw new InvalidArgumentError(`cannot read layer (corrupt, truncated or not a tar): ${extractError.message}`, { cause: extractError });
    }
    throw err;
  }
  const diffId = `sha256:${hash.digest('hex')}`;
  if (opts.expectedDiffId !== undefined && opts.expectedDiffId !== diffId) {
    throw new DiffIdMismatchError(opts.expectedDiffId, diffId);
  }
  return { diffId, size };
}

class LayerApplier {
  /** Resolved relative paths written by this layer (opaque dirs keep them). */
  private readonly added = new Set<string>();
  private readonly dirTimes: DirTimes[] = [];
  private resolvedLowers: Promise<readonly string[]> | undefined;
  /** Parent directories resolved so far; forgotten whenever anything is removed. */
  private readonly dirs = new ResolvedDirs();

  constructor(private readonly opts: ApplyOptions) {}

  async apply(entry: TarEntry): Promise<void> {
    const header = entry.header;
    const name = header.name;
    const components = cleanEntryName(name);
    const base = components[components.length - 1];
    if (base !== undefined && base.startsWith(WHITEOUT_PREFIX)) {
      await this.applyWhiteout(name, components.slice(0, -1), base);
      return;
    }
    const resolved = await resolveEntry(this.opts.root, components, name, true, this.dirs);
    const target = resolved!;
    switch (header.type) {
      case 'directory':
        await this.writeDirectory(target, header);
        break;
      case 'file':
      case 'contiguous-file':
        await this.writeFile(target, entry);
        break;
      case 'symlink':
        if (!header.linkname) throw new UnsafeEntryError(name, 'symlink without a target');
        await this.createExclusive(target, name, () => symlink(header.linkname!, target.path));
        break;
      case 'link':
        await this.writeHardlink(target, header);
        this.added.add(target.relative.join('/'));
        return; // shares the target's inode: its metadata is the target's
      case 'character-device':
      case 'block-device':
      case 'fifo': {
        const kind = header.type === 'fifo' ? S_IFIFO : header.type === 'block-device' ? S_IFBLK : S_IFCHR;
        await this.createExclusive(target, name, async () => {
          mknod(target.path, kind | ((header.mode ?? 0o600) & 0o7777), header.devmajor ?? 0, header.devminor ?? 0);
        });
        break;
      }
      default:
        throw new UnsafeEntryError(name, `unsupported tar entry type ${String(header.type)}`);
    }
    this.added.add(target.relative.join('/'));
    await this.setMetadata(target, header);
  }

  /** Sets directory times last, deepest first, so writing children does not disturb them. */
  async finish(): Promise<void> {
    for (const { path, atime, mtime } of this.dirTimes.reverse()) await lutimes(path, atime, mtime);
  }

  private async writeDirectory(target: ResolvedEntry, header: TarHeader): Promise<void> {
    try {
      await mkdir(target.path, { mode: 0o755 });
      return;
    } catch (err) {
      if (!isErrno(err, 'EEXIST')) throw err;
    }
    if ((await lstat(target.path)).isDirectory()) return; // kept: merged with what is already there
    await this.remove(target.path, true);
    await mkdir(target.path, { mode: 0o755 });
  }

  private async writeFile(target: ResolvedEntry, entry: TarEntry): Promise<void> {
    // 'wx' (O_CREAT|O_EXCL) never opens through a symlink, nor into what was there.
    const handle = await this.createExclusive(target, entry.header.name, () => open(target.path, 'wx', 0o600));
    try {
      let position = 0;
      for await (const chunk of entry as AsyncIterable<Buffer>) {
        let done = 0;
        while (done < chunk.length) {
          const { bytesWritten } = await handle.write(chunk, done, chunk.length - done, position);
          done += bytesWritten;
          position += bytesWritten;
        }
      }
    } finally {
      await handle.close();
    }
  }

  private async writeHardlink(target: ResolvedEntry, header: TarHeader): Promise<void> {
    const name = header.name;
    if (!header.linkname) throw new UnsafeEntryError(name, 'hardlink without a target');
    const linkComponents = cleanEntryName(header.linkname);
    if (linkComponents.length === 0) throw new UnsafeEntryError(name, 'hardlink to the layer root');
    const source = await resolveEntry(this.opts.root, linkComponents, name, false, this.dirs);
    const sourceStat = source === undefined ? undefined : await lstatOrUndefined(source.path);
    if (source !== undefined && sourceStat !== undefined) {
      if (sourceStat.isDirectory()) throw new UnsafeEntryError(name, `hardlink target ${header.linkname} is a directory`);
      await this.createExclusive(target, name, () => link(source.path, target.path));
      return;
    }
    if (this.opts.whiteoutMode === 'overlay') {
      for (const lower of await this.lowerDirs()) {
        const lowerSource = await resolveEntry(lower, linkComponents, name, false);
        const lowerStat = lowerSource === undefined ? undefined : await lstatOrUndefined(lowerSource.path);
        if (lowerSource === undefined || lowerStat === undefined) continue;
        if (!lowerStat.isFile()) throw new UnsafeEntryError(name, `hardlink target ${header.linkname} in a lower layer is not a regular file`);
        await this.createExclusive(target, name, () => copyFileWithMetadata(lowerSource.path, target.path, lowerStat));
        return;
      }
    }
    throw new UnsafeEntryError(name, `hardlink target ${header.linkname} does not exist in the layer`);
  }

  private async lowerDirs(): Promise<readonly string[]> {
    const lowers = this.opts.lowerDirs ?? [];
    if (typeof lowers !== 'function') return lowers;
    this.resolvedLowers ??= lowers();
    return this.resolvedLowers;
  }

  private async applyWhiteout(name: string, parentComponents: string[], base: string): Promise<void> {
    if (base === OPAQUE_MARKER) {
      const dir = await resolveDirInRoot(this.opts.root, parentComponents, name, true, this.dirs);
      const dirPath = join(this.opts.root, ...dir!);
      if (this.opts.whiteoutMode === 'overlay') {
        lsetxattr(dirPath, OVERLAY_OPAQUE_XATTR, Buffer.from('y'));
      } else {
        await this.pruneLowerEntries(dir!);
      }
      return;
    }
    if (base.startsWith(WHITEOUT_PREFIX + WHITEOUT_PREFIX)) return; // other AUFS metadata (.wh..wh.plnk, ...): ignored
    const hidden = base.slice(WHITEOUT_PREFIX.length);
    if (hidden === '..' || hidden === '.' || hidden.length === 0) throw new UnsafeEntryError(name, 'invalid whiteout name');
    const create = this.opts.whiteoutMode === 'overlay';
    const target = await resolveEntry(this.opts.root, [...parentComponents, hidden], name, create, this.dirs);
    if (target === undefined) return; // parent does not exist: nothing to hide
    // Whiteouts only hide lower layers, never what this layer itself wrote.
    if (this.added.has(target.relative.join('/'))) return;
    if (this.opts.whiteoutMode === 'overlay') {
      try {
        mknod(target.path, S_IFCHR, 0, 0);
      } catch (err) {
        if (!isErrno(err, 'EEXIST')) throw err; // something of this name is there already: it stays
      }
    } else {
      await this.remove(target.path, true);
    }
  }

  /** Removes everything below `dir` that this layer did not write itself. */
  private async pruneLowerEntries(dir: string[]): Promise<void> {
    const dirPath = join(this.opts.root, ...dir);
    for (const child of await readdir(dirPath)) {
      const relative = [...dir, child];
      const key = relative.join('/');
      const childPath = join(dirPath, child);
      if (!this.added.has(key)) {
        await this.remove(childPath, true);
      } else if ((await lstat(childPath)).isDirectory()) {
        await this.pruneLowerEntries(relative);
      }
    }
  }

  /**
   * Runs `create` (an O_EXCL-style creation that fails with EEXIST rather than
   * write through what is there); if something is in the way, removes it and
   * creates again. A fresh layer directory mostly has nothing in the way, so
   * this saves an lstat per entry.
   */
  private async createExclusive<T>(target: ResolvedEntry, name: string, create: () => Promise<T>): Promise<T> {
    if (target.relative.length === 0) throw new UnsafeEntryError(name, 'only a directory may replace the layer root');
    try {
      return await create();
    } catch (err) {
      if (!isErrno(err, 'EEXIST')) throw err;
    }
    await this.remove(target.path, true);
    return create();
  }

  /** Every removal goes through here: it may change how paths resolve, so the resolved parents are forgotten. */
  private async remove(path: string, recursive: boolean): Promise<void> {
    this.dirs.clear();
    await rm(path, { recursive, force: true });
  }

  private async setMetadata(target: ResolvedEntry, header: TarHeader): Promise<void> {
    const pax = (header.pax ?? null) as Record<string, string> | null;
    const uid = paxNumber(pax, 'uid') ?? header.uid ?? 0;
    const gid = paxNumber(pax, 'gid') ?? header.gid ?? 0;
    await lchown(target.path, uid, gid);
    for (const [key, value] of paxXattrs(pax)) {
      // overlayfs's own attributes (opaque, redirect, metacopy...) come from whiteout entries, never from a layer's xattrs.
      if (key.startsWith(OVERLAY_XATTR_PREFIX)) continue;
      try {
        lsetxattr(target.path, key, value);
      } catch (err) {
        if (isStorageFull(err)) throw err;
        // Too big for the filesystem (E2BIG, ERANGE), a namespace it refuses (EINVAL, ENOTSUP): the layer is at fault.
        throw new UnsafeEntryError(header.name, `cannot set xattr ${JSON.stringify(key.slice(0, 100))} of ${value.length} bytes: ${(err as Error).message}`);
      }
    }
    const isSymlink = header.type === 'symlink';
    // chmod after chown: chown clears setuid/setgid bits.
    if (!isSymlink) await chmod(target.path, (header.mode ?? 0o644) & 0o7777);
    const mtime = paxTime(pax, 'mtime') ?? header.mtime ?? new Date(0);
    const atime = paxTime(pax, 'atime') ?? mtime;
    if (header.type === 'directory') {
      this.dirTimes.push({ path: target.path, atime, mtime });
    } else {
      await lutimes(target.path, atime, mtime);
    }
  }
}

function paxNumber(pax: Record<string, string> | null, key: string): number | undefined {
  const raw = pax?.[key];
  if (raw === undefined) return undefined;
  const value = Number(raw);
  return Number.isSafeInteger(value) && value >= 0 ? value : undefined;
}

function paxTime(pax: Record<string, string> | null, key: string): Date | undefined {
  const raw = pax?.[key];
  if (raw === undefined) return undefined;
  const seconds = Number(raw);
  return Number.isFinite(seconds) ? new Date(seconds * 1000) : undefined;
}

