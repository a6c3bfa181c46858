/**
 * Image references, parsed and normalised the way Docker and containerd do:
 * `busybox` is `docker.io/library/busybox:latest`.
 */
import { InvalidArgumentError } from '../errors.js';

export const DEFAULT_DOMAIN = 'docker.io';
export const DEFAULT_TAG = 'latest';
export const LEGACY_DEFAULT_DOMAIN = 'index.docker.io';
const OFFICIAL_REPO_PREFIX = 'library/';
const MAX_NAME_LENGTH = 255;

const DOMAIN_COMPONENT = /^(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])$/;
const IPV6_HOST = /^\[[a-fA-F0-9:]+\]$/;
const PORT = /^[0-9]+$/;
const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const SHA256_DIGEST = /^sha256:[a-f0-9]{64}$/;
const BARE_HEX_ID = /^[a-f0-9]{64}$/;

export class ImageReference {
  constructor(
    readonly domain: string,
    readonly path: string,
    readonly tag?: string,
    readonly digest?: string,
  ) {}

  /** `domain/path`, e.g. `docker.io/library/busybox`. */
  repository(): string {
    return `${this.domain}/${this.path}`;
  }

  /** The tag or, when pinned, the digest: what goes after `/manifests/`. */
  object(): string {
    return this.digest ?? this.tag ?? DEFAULT_TAG;
  }

  toString(): string {
    return this.repository() + suffix(this.tag, this.digest);
  }

  /** The short form `docker images` shows: `busybox:latest`, `user/img:v1`. */
  familiarName(): string {
    let name = this.repository();
    if (this.domain === DEFAULT_DOMAIN) {
      name = this.path;
      const rest = name.slice(OFFICIAL_REPO_PREFIX.length);
      if (name.startsWith(OFFICIAL_REPO_PREFIX) && !rest.includes('/')) name = rest;
    }
    return name + suffix(this.tag, this.digest);
  }

  withDigest(digest: string): ImageReference {
    assertDigest(digest, digest);
    return new ImageReference(this.domain, this.path, this.tag, digest);
  }
}

function suffix(tag: string | undefined, digest: string | undefined): string {
  return (tag !== undefined ? `:${tag}` : '') + (digest !== undefined ? `@${digest}` : '');
}

export interface ParseReferenceOptions {
  /** Add `:latest` when neither tag nor digest is given (default true, as the CRI does). */
  defaultTag?: boolean;
}

/** True for a well-formed `sha256:<64 lowercase hex>` digest. */
export function isDigest(text: string): boolean {
  return SHA256_DIGEST.test(text);
}

export function parseReference(text: string, options: ParseReferenceOptions = {}): ImageReference {
  const invalid = (reason: string): InvalidArgumentError =>
    new InvalidArgumentError(`invalid image reference ${JSON.stringify(text)}: ${reason}`);

  if (typeof text !== 'string' || text.length === 0) throw invalid('empty reference');
  if (text.trim() !== text) throw invalid('leading or trailing whitespace');
  if (BARE_HEX_ID.test(text)) {
    throw invalid('a 64-character hex string is an image id, not a reference; use sha256:<hex> or name@sha256:<hex>');
  }

  let rest = text;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    assertDigest(digest, text);
  }

  // A tag is what follows the last ':' only if no '/' comes after it (else it is a port).
  let tag: string | undefined;
  const colon = rest.lastIndexOf(':');
  if (colon >= 0 && !rest.slice(colon).includes('/')) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) throw invalid(`tag ${JSON.stringify(tag)} must match [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`);
  }

  if (rest.length === 0) throw invalid('missing repository name');
  if (rest.length > MAX_NAME_LENGTH) throw invalid(`repository name longer than ${MAX_NAME_LENGTH} characters`);

  let [domain, path] = splitDomain(rest);
  if (domain === LEGACY_DEFAULT_DOMAIN) domain = DEFAULT_DOMAIN;
  if (domain === DEFAULT_DOMAIN && !path.includes('/')) path = OFFICIAL_REPO_PREFIX + path;

  validateDomain(domain, invalid);
  if (path.toLowerCase() !== path) throw invalid('repository name must be lowercase');
  for (const component of path.split('/')) {
    if (!PATH_COMPONENT.test(component)) {
      throw invalid(
        `path component ${JSON.stringify(component)} must be lowercase letters and digits, separated by '.', '_', '__' or '-'`,
      );
    }
  }

  if (tag === undefined && digest === undefined && options.defaultTag !== false) tag = DEFAULT_TAG;
  return new ImageReference(domain, path, tag, digest);
}

/** Docker's rule: the first component is a domain if it has '.' or ':', is localhost, or has uppercase. */
function splitDomain(name: string): [string, string] {
  const slash = name.indexOf('/');
  if (slash < 0) return [DEFAULT_DOMAIN, name];
  const first = name.slice(0, slash);
  const looksLikeDomain =
    first.includes('.') || first.includes(':') || first === 'localhost' || first.toLowerCase() !== first;
  return looksLikeDomain ? [first, name.slice(slash + 1)] : [DEFAULT_DOMAIN, name];
}

function validateDomain(domain: string, invalid: (reason: string) => InvalidArgumentError): void {
  let host = domain;
  const bracketEnd = domain.lastIndexOf(']');
  const colon = domain.lastIndexOf(':');
  if (colon > bracketEnd) {
    const port = domain.slice(colon + 1);
    if (!PORT.test(port) || Number(port) > 65535) throw invalid(`invalid port ${JSON.stringify(port)} in domain`);
    host = domain.slice(0, colon);
  }
  if (IPV6_HOST.test(host)) return;
  if (!host.split('.').every((c) => DOMAIN_COMPONENT.test(c))) {
    throw invalid(`invalid registry domain ${JSON.stringify(domain)}`);
  }
}

function assertDigest(digest: string, text: string): void {
  if (!isDigest(digest)) {
    throw new InvalidArgumentError(
      `invalid image reference ${JSON.stringify(text)}: digest ${JSON.stringify(digest)} must be sha256:<64 lowercase hex characters>`,
    );
  }
}
