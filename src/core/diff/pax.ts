import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

/** Largest PAX extended header we accept (names, link targets and xattrs live there). */
export const MAX_PAX_HEADER_BYTES = 1 << 20;

const XATTR_PREFIX = 'SCHILY.xattr.';

/**
 * Decodes PAX records ("<len> <key>=<value>\n"). Differs from tar-stream's own
 * decoder in two ways: it refuses headers over MAX_PAX_HEADER_BYTES, and it
 * keeps xattr values byte-exact (latin1 string, one char per byte) because
 * values like security.capability are binary and would be mangled as UTF-8.
 */
export function decodePaxRecords(buf: Buffer): Record<string, string> {
  if (buf.length > MAX_PAX_HEADER_BYTES) {
    throw new Error(`layer has a PAX header of ${buf.length} bytes, more than the ${MAX_PAX_HEADER_BYTES} allowed`);
  }
  const result = Object.create(null) as Record<string, string>;
  let pos = 0;
  while (pos < buf.length) {
    const space = buf.indexOf(0x20, pos);
    if (space < 0) break;
    const length = Number.parseInt(buf.toString('ascii', pos, space), 10);
    if (!Number.isSafeInteger(length) || length <= space - pos || pos + length > buf.length) break;
    const record = buf.subarray(space + 1, pos + length - 1);
    const equals = record.indexOf(0x3d);
    if (equals < 0) break;
    const key = record.toString('utf8', 0, equals);
    result[key] = record.toString(key.startsWith(XATTR_PREFIX) ? 'latin1' : 'utf8', equals + 1);
    pos += length;
  }
  return result;
}

/** The xattrs of a PAX record set, values as exact bytes. */
export function paxXattrs(pax: Record<string, string> | null | undefined): Map<string, Buffer> {
  const xattrs = new Map<string, Buffer>();
  if (!pax) return xattrs;
  for (const [key, value] of Object.entries(pax)) {
    if (key.startsWith(XATTR_PREFIX) && key.length > XATTR_PREFIX.length) {
      xattrs.set(key.slice(XATTR_PREFIX.length), Buffer.from(value, 'latin1'));
    }
  }
  return xattrs;
}

let installed = false;

/**
 * tar-stream offers no hook for PAX decoding, so its internal decoder is
 * replaced once per process (same module instance its extractor uses).
 * Only xattr values and the size bound differ from the original behaviour.
 */
export function installPaxDecoder(): void {
  if (installed) return;
  const require = createRequire(import.meta.url);
  const headersPath = join(dirname(require.resolve('tar-stream')), 'headers.js');
  const headers = require(headersPath) as { decodePax?: unknown };
  if (typeof headers.decodePax !== 'function') {
    throw new Error(`tar-stream changed: ${headersPath} has no decodePax; update src/core/diff/pax.ts`);
  }
  headers.decodePax = decodePaxRecords;
  installed = true;
}
