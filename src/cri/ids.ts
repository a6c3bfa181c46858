import { randomBytes } from 'node:crypto';
import { InvalidArgumentError, NotFoundError } from '../core/errors.js';
import type { CachedTable } from '../core/metadata/cached-table.js';

/** A new 64-hex id, as containerd makes them. */
export function newId(): string {
  return randomBytes(32).toString('hex');
}

/** Finds a record by full id or unique prefix (crictl sends prefixes). */
export function lookupById<R extends { id: string }>(table: CachedTable<R>, id: string, what: string): R {
  if (!id) throw new InvalidArgumentError(`${what} id must not be empty`);
  if (!/^[a-f0-9]{1,64}$/.test(id)) throw new NotFoundError(`${what} "${id}" not found`);
  const matches = table.resolvePrefix(id);
  if (matches.length === 0) throw new NotFoundError(`${what} "${id}" not found`);
  if (matches.length > 1) throw new InvalidArgumentError(`${what} id prefix "${id}" is ambiguous: ${matches.length} matches`);
  return matches[0]!;
}

/** Like lookupById but undefined when absent (for idempotent stop/remove). */
export function findById<R extends { id: string }>(table: CachedTable<R>, id: string, what: string): R | undefined {
  try {
    return lookupById(table, id, what);
  } catch (err) {
    if (err instanceof NotFoundError) return undefined;
    throw err;
  }
}

export function nowNanos(): bigint {
  return BigInt(Date.now()) * 1_000_000n + BigInt(process.hrtime.bigint() % 1_000_000n);
}
