import { lstat, mkdir, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { InvalidArgumentError } from '../errors.js';
import { isErrno } from '../util/errno.js';

const MAX_SYMLINK_HOPS = 40;
const MAX_ENTRY_NAME_BYTES = 4096;

export class UnsafeEntryError extends InvalidArgumentError {
  constructor(readonly entryName: string, reason: string) {
    super(`layer entry ${JSON.stringify(entryName.slice(0, 300))} refused: ${reason}`);
  }
}

/**
 * Lexically cleans a tar entry name into path components relative to the
 * layer root. Absolute names and `..` that would climb above the root are refused.
 */
export function cleanEntryName(name: string): string[] {
  if (Buffer.byteLength(name) > MAX_ENTRY_NAME_BYTES) throw new UnsafeEntryError(name, `name longer than ${MAX_ENTRY_NAME_BYTES} bytes`);
  if (name.includes('\0')) throw new UnsafeEntryError(name, 'name contains a NUL byte');
  if (name.startsWith('/')) throw new UnsafeEntryError(name, 'absolute paths are not allowed in a layer');
  const parts: string[] = [];
  for (const part of name.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (parts.length === 0) throw new UnsafeEntryError(name, 'path climbs out of the layer root with ".."');
      parts.pop();
      continue;
    }
    parts.push(part);
  }
  return parts;
}

/**
 * Directories already resolved inside one root, by their unresolved path.
 * Resolving walks the path with one lstat per component; a layer's entries
 * mostly share their parents, so the applier remembers them. Only valid while
 * nothing in the tree is removed or replaced: the owner calls `clear()` then.
 */
export class ResolvedDirs {
  private readonly byPath = new Map<string, string[]>();

  /** The longest known prefix of `components`: its length and resolution. */
  longestPrefix(components: readonly string[]): { length: number; resolved: string[] } | undefined {
    for (let length = components.length; length > 0; length--) {
      const hit = this.byPath.get(components.slice(0, length).join('/'));
      if (hit) return { length, resolved: hit };
    }
    return undefined;
  }

  remember(components: readonly string[], resolved: readonly string[]): void {
    if (components.length > 0) this.byPath.set(components.join('/'), [...resolved]);
  }

  clear(): void {
    this.byPath.clear();
  }
}

/**
 * Resolves `components` as a directory inside `root` the way a chroot would:
 * symlinks met on the way are followed, absolute targets restart at `root`
 * and `..` never climbs above it. Returns the resolved components (no symlinks
 * left), or undefined when a component is missing and `create` is false.
 * Missing directories are created with mode 0755 when `create` is true.
 * `known` (for this root only) skips the walk over an already resolved prefix.
 */
export async function resolveDirInRoot(
  root: string,
  components: readonly string[],
  entryName: string,
  create: boolean,
  known?: ResolvedDirs,
): Promise<string[] | undefined> {
  const prefix = known?.longestPrefix(components);
  const resolved: string[] = prefix ? [...prefix.resolved] : [];
  const queue = prefix ? components.slice(prefix.length) : [...components];
  let hops = 0;
  while (queue.length > 0) {
    const part = queue.shift()!;
    if (part === '' || part === '.') continue;
    if (part === '..') {
      resolved.pop();
      continue;
    }
    const path = join(root, ...resolved, part);
    let st;
    try {
      st = await lstat(path);
    } catch (err) {
      if (!isErrno(err, 'ENOENT')) throw err;
      if (!create) return undefined;
      await mkdir(path, { mode: 0o755 });
      resolved.push(part);
      continue;
    }
    if (st.isDirectory()) {
      resolved.push(part);
    } else if (st.isSymbolicLink()) {
      if (++hops > MAX_SYMLINK_HOPS) throw new UnsafeEntryError(entryName, 'too many levels of symbolic links in its parent path');
      const target = await readlink(path);
      if (target.startsWith('/')) resolved.length = 0;
      queue.unshift(...target.split('/'));
    } else {
      throw new UnsafeEntryError(entryName, `parent ${[...resolved, part].join('/')} is not a directory`);
    }
  }
  known?.remember(components, resolved);
  return resolved;
}

/** Where an entry lands: its resolved parent plus its final (never followed) component. */
export interface ResolvedEntry {
  /** Components relative to root, parent resolved physically. Empty for the root itself. */
  relative: string[];
  /** Absolute host path. */
  path: string;
}

export async function resolveEntry(
  root: string,
  components: readonly string[],
  entryName: string,
  createParents: boolean,
  known?: ResolvedDirs,
): Promise<ResolvedEntry | undefined> {
  if (components.length === 0) return { relative: [], path: root };
  const parent = await resolveDirInRoot(root, components.slice(0, -1), entryName, createParents, known);
  if (parent === undefined) return undefined;
  const relative = [...parent, components[components.length - 1]!];
  return { relative, path: join(root, ...relative) };
}
