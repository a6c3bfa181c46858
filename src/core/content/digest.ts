import { createHash, type Hash } from 'node:crypto';
import { InvalidArgumentError } from '../errors.js';

const DIGEST_PATTERN = /^sha256:([0-9a-f]{64})$/;

/**
 * Returns the 64-hex part of a `sha256:<hex>` digest. Anything else is rejected
 * so that untrusted text never becomes a path component.
 */
export function digestHex(digest: string): string {
  const match = typeof digest === 'string' ? DIGEST_PATTERN.exec(digest) : null;
  if (match === null) {
    const shown = typeof digest === 'string' ? JSON.stringify(digest.slice(0, 100)) : typeof digest;
    throw new InvalidArgumentError(`invalid digest ${shown}: expected "sha256:" followed by 64 lowercase hex characters`);
  }
  return match[1]!;
}

export function isValidDigest(digest: string): boolean {
  return typeof digest === 'string' && DIGEST_PATTERN.test(digest);
}

export function newDigester(): Hash {
  return createHash('sha256');
}

export function digestOf(data: Buffer | string): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}
