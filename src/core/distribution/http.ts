/** Minimal HTTP/1.1 transport for the registry client: one request, TLS settings, bounded bodies. */
import { readFileSync } from 'node:fs';
import http, { type IncomingMessage, type OutgoingHttpHeaders } from 'node:http';
import https from 'node:https';
import type { Readable } from 'node:stream';
import { rootCertificates } from 'node:tls';
import { RegistryError, SizeLimitError } from './errors.js';

export interface TlsSettings {
  skipVerify: boolean;
  caPaths: string[];
}

export type RequestBody = Buffer | (() => Readable);

export interface SendOptions {
  method: string;
  url: URL;
  headers: OutgoingHttpHeaders;
  body?: RequestBody;
  tls?: TlsSettings;
  timeoutMs: number;
  /** Aborting it destroys the request (and the response being read). */
  signal?: AbortSignal;
}

/** Keep-alive agents, one per distinct TLS configuration. */
export class AgentPool {
  private readonly agents = new Map<string, http.Agent>();
  private active = 0;
  private closing = false;

  get(url: URL, tls: TlsSettings | undefined): http.Agent {
    const secure = url.protocol === 'https:';
    const key = secure ? `https|${tls?.skipVerify ?? false}|${(tls?.caPaths ?? []).join('\n')}` : 'http';
    let agent = this.agents.get(key);
    if (!agent) {
      if (secure) {
        const ca = tls?.caPaths.length ? [...rootCertificates, ...tls.caPaths.map((p) => readCa(p))] : undefined;
        agent = new https.Agent({ keepAlive: true, rejectUnauthorized: !(tls?.skipVerify ?? false), ...(ca ? { ca } : {}) });
      } else {
        agent = new http.Agent({ keepAlive: true });
      }
      this.agents.set(key, agent);
    }
    return agent;
  }

  /**
   * Closes every connection once the requests in progress have ended: a
   * response this pool's client started may still be read by someone else
   * (a blob download other pulls share).
   */
  destroy(): void {
    this.closing = true;
    if (this.active === 0) this.destroyNow();
  }

  /** Counts `req` as in progress until it closes (its response read or abandoned). */
  track(req: http.ClientRequest): void {
    this.active++;
    req.once('close', () => {
      if (--this.active === 0 && this.closing) this.destroyNow();
    });
  }

  private destroyNow(): void {
    for (const agent of this.agents.values()) agent.destroy();
    this.agents.clear();
  }
}

function readCa(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new RegistryError(`cannot read CA certificate ${path} (from hosts.toml "ca"): ${(err as Error).message}`);
  }
}

/** Send one request and resolve with the response head; the body is left for the caller to read or destroy. */
export function send(agents: AgentPool, opts: SendOptions): Promise<IncomingMessage> {
  const { method, url } = opts;
  return new Promise<IncomingMessage>((resolve, reject) => {
    const lib = url.protocol === 'https:' ? https : http;
    let req: http.ClientRequest;
    try {
      req = lib.request(url, {
        method,
        headers: opts.headers,
        agent: agents.get(url, opts.tls),
        timeout: opts.timeoutMs,
        ...(opts.signal ? { signal: opts.signal } : {}),
      });
    } catch (err) {
      // Node refuses header values with control characters (a token or header from a registry or hosts.toml).
      reject(err instanceof RegistryError ? err : new RegistryError(`${method} ${url}: cannot send the request: ${(err as Error).message}`, url.href, undefined, { cause: err }));
      return;
    }
    agents.track(req);
    req.on('timeout', () => {
      req.destroy(new RegistryError(`${method} ${url}: no activity for ${opts.timeoutMs} ms`, url.href));
    });
    req.on('error', (err) => {
      if (opts.signal?.aborted) {
        reject(opts.signal.reason);
        return;
      }
      reject(err instanceof RegistryError ? err : new RegistryError(`${method} ${url}: ${err.message}`, url.href, undefined, { cause: err }));
    });
    req.on('response', resolve);
    const body = opts.body;
    if (body === undefined) {
      req.end();
    } else if (Buffer.isBuffer(body)) {
      req.end(body);
    } else {
      const source = body();
      source.on('error', (err) => req.destroy(new RegistryError(`${method} ${url}: reading upload body: ${err.message}`, url.href)));
      source.pipe(req);
    }
  });
}

/** Read a whole body, refusing (and cutting the connection) once it passes `limit` bytes. */
export function readBounded(res: IncomingMessage, limit: number, what: string, signal?: AbortSignal): Promise<Buffer> {
  return new Promise<Buffer>((resolve, reject) => {
    if (signal?.aborted) {
      res.destroy();
      reject(signal.reason);
      return;
    }
    const declared = Number(res.headers['content-length']);
    if (Number.isFinite(declared) && declared > limit) {
      res.destroy();
      reject(new SizeLimitError(`${what} is ${declared} bytes, over the ${limit}-byte limit`));
      return;
    }
    const chunks: Buffer[] = [];
    let total = 0;
    let done = false;
    res.on('data', (chunk: Buffer) => {
      if (done) return;
      total += chunk.length;
      if (total > limit) {
        done = true;
        res.destroy();
        reject(new SizeLimitError(`${what} exceeds the ${limit}-byte limit; refusing to read more`));
        return;
      }
      chunks.push(chunk);
    });
    res.on('end', () => {
      if (done) return;
      done = true;
      resolve(Buffer.concat(chunks));
    });
    res.on('error', (err) => {
      if (done) return;
      done = true;
      if (signal?.aborted) {
        reject(signal.reason);
        return;
      }
      reject(new RegistryError(`${what}: connection failed while reading: ${err.message}`, undefined, undefined, { cause: err }));
    });
    res.on('close', () => {
      if (done) return;
      done = true;
      reject(signal?.aborted ? signal.reason : new RegistryError(`${what}: connection closed before the body was complete`));
    });
  });
}

/** Throw away a body we do not need without reading an unbounded amount of it. */
export function discard(res: IncomingMessage): void {
  const declared = Number(res.headers['content-length']);
  if (Number.isFinite(declared) && declared <= 64 * 1024) res.resume();
  else res.destroy();
}
