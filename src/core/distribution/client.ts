/**
 * OCI distribution client: resolve references (mirrors first), fetch manifests and
 * blobs, push blobs and manifests, with token/basic auth and bounded redirects.
 */
import type { IncomingMessage, OutgoingHttpHeaders } from 'node:http';
import { Readable, Transform, pipeline, type TransformCallback } from 'node:stream';
import { MANIFEST_ACCEPT } from '../images/media-types.js';
import { detectManifestType } from '../images/manifest.js';
import {
  type Challenge,
  type Credentials,
  TokenCache,
  basicAuthorization,
  parseChallenges,
  parseTokenResponse,
  pickChallenge,
  repositoryScope,
} from './auth.js';
import { DigestMismatchError, RegistryAuthError, RegistryError, RegistryNotFoundError } from './errors.js';
import { resolveHosts, type HostCapability, type RegistryHost } from './hosts.js';
import { AgentPool, type RequestBody, discard, readBounded, send } from './http.js';
import { type ImageReference, isDigest, parseReference } from './reference.js';
import { sha256Digest } from './verify.js';

export type { Credentials } from './auth.js';
export type { RegistryHost } from './hosts.js';

export interface RegistryClientOptions {
  /** containerd-style certs.d directory (`<host>/hosts.toml`). */
  configPath?: string;
  /** Credentials for the endpoint being contacted, by its `host[:port]`. */
  credentials?: (host: string) => Credentials | undefined;
  userAgent?: string;
  /** Idle time after which a request is abandoned (default 30 s). */
  timeoutMs?: number;
}

export interface ContentDescriptor {
  mediaType: string;
  digest: string;
  size: number;
}

export interface ResolvedManifest {
  host: RegistryHost;
  descriptor: ContentDescriptor;
  body: Buffer;
}

export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;
export const MAX_REDIRECTS = 5;
const MAX_TOKEN_RESPONSE_BYTES = 1024 * 1024;
const MAX_ERROR_BODY_BYTES = 64 * 1024;
const DEFAULT_TIMEOUT_MS = 30_000;
const PULL: readonly string[] = ['pull'];
const PULL_PUSH: readonly string[] = ['pull', 'push'];

interface RequestOptions {
  method: string;
  url: URL;
  scopes: readonly string[];
  headers?: OutgoingHttpHeaders;
  body?: RequestBody;
  followRedirects?: boolean;
  signal?: AbortSignal;
}

interface Response {
  res: IncomingMessage;
  /** The URL that finally answered, after redirects. */
  url: URL;
}

export class RegistryClient {
  private readonly agents = new AgentPool();
  private readonly tokens = new TokenCache();
  /** Last challenge seen per origin, so later requests authenticate up front. */
  private readonly challenges = new Map<string, Challenge>();
  private readonly userAgent: string;
  private readonly timeoutMs: number;

  constructor(private readonly options: RegistryClientOptions = {}) {
    this.userAgent = options.userAgent ?? 'berth/0.1';
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  }

  /** Release pooled connections. */
  close(): void {
    this.agents.destroy();
  }

  /** Configured endpoints for `domain` that have `capability`, in the order to try them. */
  async hosts(domain: string, capability: HostCapability): Promise<RegistryHost[]> {
    const all = await resolveHosts(this.options.configPath, domain);
    return all.filter((h) => h.capabilities.has(capability));
  }

  /** The first endpoint allowed to push for `domain`. */
  async pushHost(domain: string): Promise<RegistryHost> {
    const [host] = await this.hosts(domain, 'push');
    if (!host) throw new RegistryError(`no registry host for ${domain} has the push capability (check its hosts.toml)`);
    return host;
  }

  /**
   * Resolve a reference to its manifest (or index): each host with the resolve
   * capability is tried in order and the first good answer wins.
   */
  async resolve(ref: ImageReference | string, signal?: AbortSignal): Promise<ResolvedManifest> {
    const reference = typeof ref === 'string' ? parseReference(ref) : ref;
    const hosts = await this.hosts(reference.domain, 'resolve');
    if (hosts.length === 0) {
      throw new RegistryError(`no registry host for ${reference.domain} has the resolve capability (check its hosts.toml)`);
    }
    const failures: { host: RegistryHost; err: unknown }[] = [];
    for (const host of hosts) {
      try {
        const { descriptor, body } = await this.fetchManifest(host, reference.path, reference.object(), signal);
        return { host, descriptor, body };
      } catch (err) {
        signal?.throwIfAborted();
        failures.push({ host, err });
      }
    }
    if (failures.length === 1) throw failures[0]?.err;
    const summary = failures.map((f) => `${f.host.url.origin}: ${(f.err as Error).message}`).join('; ');
    if (failures.every((f) => f.err instanceof RegistryNotFoundError)) {
      throw new RegistryNotFoundError(`image ${reference} not found on any registry host (${summary})`);
    }
    throw new RegistryError(`cannot resolve ${reference}: every registry host failed (${summary})`, undefined, undefined, {
      cause: failures[failures.length - 1]?.err,
    });
  }

  /**
   * Fetch one manifest by tag or digest. The body is bounded to 4 MiB and checked
   * against the requested digest and the Docker-Content-Digest header.
   */
  async fetchManifest(
    host: RegistryHost,
    repoPath: string,
    reference: string,
    signal?: AbortSignal,
  ): Promise<{ descriptor: ContentDescriptor; body: Buffer }> {
    const url = endpoint(host, `${repoPath}/manifests/${reference}`);
    const { res, url: finalUrl } = await this.request(host, {
      method: 'GET',
      url,
      scopes: [repositoryScope(repoPath, PULL)],
      headers: { accept: MANIFEST_ACCEPT.join(', ') },
      followRedirects: true,
      ...(signal ? { signal } : {}),
    });
    if (res.statusCode !== 200) throw await statusError(res, 'GET', finalUrl, `manifest ${repoPath}:${reference}`);
    const body = await readBounded(res, MAX_MANIFEST_BYTES, `manifest ${repoPath}@${reference} from ${host.url.origin}`, signal);
    const digest = sha256Digest(body);

    const announced = headerValue(res, 'docker-content-digest');
    if (announced && announced.startsWith('sha256:') && announced !== digest) {
      throw new DigestMismatchError(
        `manifest ${repoPath}:${reference} from ${url.origin}: Docker-Content-Digest header says ${announced} but the body hashes to ${digest}`,
        announced,
        digest,
      );
    }
    if (isDigest(reference) && reference !== digest) {
      throw new DigestMismatchError(
        `manifest ${repoPath}@${reference} from ${url.origin}: requested ${reference} but the body hashes to ${digest}`,
        reference,
        digest,
      );
    }
    const mediaType = detectManifestType(body, headerValue(res, 'content-type'));
    return { descriptor: { mediaType, digest, size: body.length }, body };
  }

  /**
   * Stream a blob. With `offset`, asks for the rest only (Range); if the server
   * ignores the range, the first `offset` bytes are skipped here. The caller
   * verifies the digest (see verifyingStream).
   */
  async fetchBlob(host: RegistryHost, repoPath: string, descriptor: ContentDescriptor, offset = 0, signal?: AbortSignal): Promise<Readable> {
    const url = endpoint(host, `${repoPath}/blobs/${descriptor.digest}`);
    const headers: OutgoingHttpHeaders = {};
    if (offset > 0) headers['range'] = `bytes=${offset}-`;
    const { res, url: finalUrl } = await this.request(host, {
      method: 'GET',
      url,
      scopes: [repositoryScope(repoPath, PULL)],
      headers,
      followRedirects: true,
      ...(signal ? { signal } : {}),
    });
    if (offset > 0 && res.statusCode === 206) {
      const start = /^bytes (\d+)-/.exec(headerValue(res, 'content-range') ?? '')?.[1];
      if (start !== undefined && Number(start) !== offset) {
        res.destroy();
        throw new RegistryError(`GET ${finalUrl}: asked for bytes from ${offset} but got a range starting at ${start}`, finalUrl.href);
      }
      return res;
    }
    if (res.statusCode === 200) return offset > 0 ? pipeline(res, skipBytes(offset), () => {}) : res;
    if (res.statusCode === 416 && offset >= descriptor.size) {
      discard(res);
      return Readable.from([]);
    }
    throw await statusError(res, 'GET', finalUrl, `blob ${descriptor.digest}`);
  }

  /**
   * Upload a blob unless the registry already has it (HEAD first). Monolithic:
   * POST to start the upload, then one PUT with the digest. Returns false when skipped.
   */
  async pushBlob(
    host: RegistryHost,
    repoPath: string,
    descriptor: ContentDescriptor,
    open: () => Readable,
  ): Promise<boolean> {
    const scopes = [repositoryScope(repoPath, PULL_PUSH)];
    const blobUrl = endpoint(host, `${repoPath}/blobs/${descriptor.digest}`);
    const head = await this.request(host, { method: 'HEAD', url: blobUrl, scopes, followRedirects: true });
    head.res.resume(); // a HEAD answer has no body
    if (head.res.statusCode === 200) return false;
    if (head.res.statusCode !== 404) {
      throw new RegistryError(`HEAD ${head.url}: blob ${descriptor.digest}: ${head.res.statusCode}`, head.url.href, head.res.statusCode);
    }

    const start = await this.request(host, {
      method: 'POST',
      url: endpoint(host, `${repoPath}/blobs/uploads/`),
      scopes,
      headers: { 'content-length': '0' },
      body: Buffer.alloc(0),
    });
    if (start.res.statusCode !== 202) throw await statusError(start.res, 'POST', start.url, `upload of ${descriptor.digest}`);
    discard(start.res);
    const location = headerValue(start.res, 'location');
    if (!location) throw new RegistryError(`POST ${start.url}: upload started without a Location header`, start.url.href, 202);

    const uploadUrl = new URL(location, start.url);
    uploadUrl.searchParams.set('digest', descriptor.digest);
    const put = await this.request(host, {
      method: 'PUT',
      url: uploadUrl,
      scopes,
      headers: { 'content-type': 'application/octet-stream', 'content-length': String(descriptor.size) },
      body: open,
    });
    if (put.res.statusCode !== 201) throw await statusError(put.res, 'PUT', put.url, `upload of ${descriptor.digest}`);
    discard(put.res);
    return true;
  }

  /** PUT a manifest or index under a tag or its digest; returns the digest of `body`. */
  async pushManifest(
    host: RegistryHost,
    repoPath: string,
    reference: string,
    mediaType: string,
    body: Buffer,
  ): Promise<ContentDescriptor> {
    const digest = sha256Digest(body);
    if (isDigest(reference) && reference !== digest) {
      throw new DigestMismatchError(`cannot push manifest as ${reference}: its body hashes to ${digest}`, reference, digest);
    }
    const url = endpoint(host, `${repoPath}/manifests/${reference}`);
    const { res, url: finalUrl } = await this.request(host, {
      method: 'PUT',
      url,
      scopes: [repositoryScope(repoPath, PULL_PUSH)],
      headers: { 'content-type': mediaType, 'content-length': String(body.length) },
      body,
    });
    if (res.statusCode !== 201) throw await statusError(res, 'PUT', finalUrl, `manifest ${repoPath}:${reference}`);
    discard(res);
    return { mediaType, digest, size: body.length };
  }

  // -------------------------------------------------------------------------

  /**
   * One logical request: authenticates (retrying once after a 401 challenge) and
   * follows up to MAX_REDIRECTS redirects. Authorization is only sent to the
   * registry's own origin, never to a host it redirects to (e.g. object storage).
   */
  private async request(host: RegistryHost, opts: RequestOptions): Promise<Response> {
    const origin = host.url.origin;
    let url = opts.url;
    let authRetried = false;
    let challengeScope: string | undefined;
    let redirects = 0;
    let usedTokenKey: string | undefined;
    for (;;) {
      const headers: OutgoingHttpHeaders = { 'user-agent': this.userAgent };
      const sameOrigin = url.origin === origin;
      if (sameOrigin) Object.assign(headers, host.headers);
      Object.assign(headers, opts.headers);
      if (sameOrigin) {
        const scopes = challengeScope ? [...new Set([...opts.scopes, ...challengeScope.split(' ')])] : opts.scopes;
        const auth = await this.authorization(host, scopes, opts.signal);
        if (auth) headers['authorization'] = auth.header;
        usedTokenKey = auth?.tokenKey;
      }

      const res = await send(this.agents, {
        method: opts.method,
        url,
        headers,
        ...(opts.body !== undefined ? { body: opts.body } : {}),
        tls: sameOrigin ? host : undefined,
        timeoutMs: this.timeoutMs,
        ...(opts.signal ? { signal: opts.signal } : {}),
      });
      const status = res.statusCode ?? 0;

      if (status === 401 && sameOrigin) {
        const challenge = pickChallenge(parseChallenges(res.headers['www-authenticate']));
        const detail = await errorDetail(res);
        if (authRetried) {
          const hint = this.options.credentials?.(host.url.host)
            ? `check the credentials for ${host.url.host}`
            : `the registry wants credentials for ${host.url.host} and none were given`;
          throw new RegistryAuthError(`${opts.method} ${url}: still 401 Unauthorized after authenticating${detail}; ${hint}`, url.href);
        }
        if (!challenge) {
          throw new RegistryAuthError(`${opts.method} ${url}: 401 Unauthorized without a usable WWW-Authenticate challenge${detail}`, url.href);
        }
        this.challenges.set(origin, challenge);
        if (usedTokenKey) this.tokens.delete(usedTokenKey); // rejected: do not offer it again
        challengeScope = challenge.params['scope'];
        authRetried = true;
        continue;
      }

      if (opts.followRedirects && status >= 300 && status < 400 && status !== 304) {
        const location = headerValue(res, 'location');
        discard(res);
        if (!location) throw new RegistryError(`${opts.method} ${url}: redirect ${status} without a Location header`, url.href, status);
        if (++redirects > MAX_REDIRECTS) {
          throw new RegistryError(
            `${opts.method} ${opts.url}: more than ${MAX_REDIRECTS} redirects (last to ${location}); the registry is redirecting in a loop`,
            opts.url.href,
            status,
          );
        }
        url = new URL(location, url);
        continue;
      }
      return { res, url };
    }
  }

  /** The Authorization header for `host`, fetching a bearer token when its last challenge asked for one. */
  private async authorization(
    host: RegistryHost,
    scopes: readonly string[],
    signal?: AbortSignal,
  ): Promise<{ header: string; tokenKey?: string } | undefined> {
    const creds = this.options.credentials?.(host.url.host);
    if (creds && 'registryToken' in creds) return { header: `Bearer ${creds.registryToken}` };
    const challenge = this.challenges.get(host.url.origin);
    if (!challenge) return undefined;
    if (challenge.scheme === 'basic') {
      if (creds && 'username' in creds) return { header: basicAuthorization(creds.username, creds.password) };
      throw new RegistryAuthError(`registry ${host.url.host} requires basic authentication but no username/password is configured for it`);
    }
    const realm = challenge.params['realm'];
    if (!realm) throw new RegistryAuthError(`registry ${host.url.host} asked for a bearer token without a realm to get it from`);
    const service = challenge.params['service'];
    const key = TokenCache.key(realm, service, scopes);
    const cached = this.tokens.get(key);
    if (cached) return { header: `Bearer ${cached}`, tokenKey: key };
    const { token, expiresIn } = await this.fetchToken(host, realm, service, scopes, creds, signal);
    this.tokens.set(key, token, expiresIn);
    return { header: `Bearer ${token}`, tokenKey: key };
  }

  private async fetchToken(
    host: RegistryHost,
    realm: string,
    service: string | undefined,
    scopes: readonly string[],
    creds: Credentials | undefined,
    signal?: AbortSignal,
  ): Promise<{ token: string; expiresIn?: number }> {
    let realmUrl: URL;
    try {
      realmUrl = new URL(realm);
    } catch {
      throw new RegistryAuthError(`registry ${host.url.host} sent an invalid token realm ${JSON.stringify(realm)}`);
    }
    if (realmUrl.protocol !== 'https:' && realmUrl.protocol !== 'http:') {
      throw new RegistryAuthError(`registry ${host.url.host} sent a token realm that is not http(s): ${realm}`);
    }
    const tls = realmUrl.origin === host.url.origin ? host : undefined;
    const headers: OutgoingHttpHeaders = { 'user-agent': this.userAgent };
    let res: IncomingMessage;
    if (creds && 'identityToken' in creds) {
      // OAuth2 refresh-token grant, as Docker does for identity tokens.
      const form = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: creds.identityToken, client_id: 'berth' });
      if (service) form.set('service', service);
      if (scopes.length) form.set('scope', scopes.join(' '));
      const body = Buffer.from(form.toString());
      headers['content-type'] = 'application/x-www-form-urlencoded';
      headers['content-length'] = String(body.length);
      res = await send(this.agents, { method: 'POST', url: realmUrl, headers, body, tls, timeoutMs: this.timeoutMs, ...(signal ? { signal } : {}) });
    } else {
      const url = new URL(realmUrl);
      if (service) url.searchParams.set('service', service);
      for (const scope of scopes) url.searchParams.append('scope', scope);
      if (creds && 'username' in creds) headers['authorization'] = basicAuthorization(creds.username, creds.password);
      res = await send(this.agents, { method: 'GET', url, headers, tls, timeoutMs: this.timeoutMs, ...(signal ? { signal } : {}) });
    }
    if (res.statusCode !== 200) {
      const detail = await errorDetail(res);
      let why = '';
      if (res.statusCode === 401 || res.statusCode === 403) {
        why = creds ? ' (credentials rejected)' : ` (anonymous access refused: credentials for ${host.url.host} are needed)`;
      }
      throw new RegistryAuthError(
        `registry ${host.url.host}: token request to ${realmUrl.origin}${realmUrl.pathname} failed: ${res.statusCode}${why}${detail}`,
      );
    }
    const body = await readBounded(res, MAX_TOKEN_RESPONSE_BYTES, `token response from ${realmUrl.origin}`, signal);
    try {
      return parseTokenResponse(body);
    } catch (err) {
      throw new RegistryAuthError(`token request to ${realmUrl.origin}${realmUrl.pathname}: ${(err as Error).message}`);
    }
  }
}

/** `<host url>/<subpath>` keeping the host's API root (e.g. `/v2`). */
function endpoint(host: RegistryHost, subpath: string): URL {
  const url = new URL(host.url.href);
  url.pathname = `${url.pathname.replace(/\/$/, '')}/${subpath}`;
  return url;
}

function headerValue(res: IncomingMessage, name: string): string | undefined {
  const v = res.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** The registry's error JSON (`{"errors":[{code,message}]}`) or text, for messages; never reads more than 64 KiB. */
async function errorDetail(res: IncomingMessage): Promise<string> {
  let body: Buffer;
  try {
    body = await readBounded(res, MAX_ERROR_BODY_BYTES, 'error body');
  } catch {
    return '';
  }
  const text = body.toString('utf8').trim();
  if (!text) return '';
  try {
    const json = JSON.parse(text) as { errors?: { code?: string; message?: string }[] };
    if (Array.isArray(json.errors) && json.errors.length) {
      return `: ${json.errors.map((e) => [e.code, e.message].filter(Boolean).join(' ')).join('; ')}`;
    }
  } catch {
    // not JSON: fall through to the raw text
  }
  return `: ${text.slice(0, 200)}`;
}

async function statusError(res: IncomingMessage, method: string, url: URL, what: string): Promise<Error> {
  const status = res.statusCode ?? 0;
  const detail = await errorDetail(res);
  const message = `${method} ${url}: ${what}: ${status} ${res.statusMessage ?? ''}`.trimEnd() + detail;
  if (status === 404) return new RegistryNotFoundError(message, url.href);
  if (status === 401 || status === 403) return new RegistryAuthError(message, url.href);
  return new RegistryError(message, url.href, status);
}

function skipBytes(count: number): Transform {
  let left = count;
  return new Transform({
    transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
      if (left >= chunk.length) {
        left -= chunk.length;
        done();
        return;
      }
      const rest = chunk.subarray(left);
      left = 0;
      done(null, rest);
    },
  });
}
