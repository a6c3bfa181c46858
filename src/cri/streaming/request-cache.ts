import { randomBytes } from 'node:crypto';
import { ResourceExhaustedError } from '../../core/errors.js';

export interface ExecRequest {
  containerId: string;
  cmd: string[];
  tty: boolean;
  stdin: boolean;
  stdout: boolean;
  stderr: boolean;
}

export interface AttachRequest {
  containerId: string;
  tty: boolean;
  stdin: boolean;
  stdout: boolean;
  stderr: boolean;
}

export interface PortForwardRequest {
  podSandboxId: string;
}

export type CachedRequest =
  | { kind: 'exec'; request: ExecRequest }
  | { kind: 'attach'; request: AttachRequest }
  | { kind: 'portforward'; request: PortForwardRequest };

export type RequestKind = CachedRequest['kind'];

/** Too many outstanding URLs means a client is asking without ever connecting. */
export class TooManyPendingRequestsError extends ResourceExhaustedError {
  constructor(limit: number) {
    super(`more than ${limit} streaming requests are waiting for their client; retry once some are used or expire`);
  }
}

/**
 * Pending streaming requests keyed by an unguessable single-use token, as
 * kubelet's request cache: a token is good once, for ttlMs.
 */
export class RequestCache {
  private readonly entries = new Map<string, { value: CachedRequest; expiresAt: number }>();

  constructor(
    private readonly ttlMs: number,
    private readonly maxEntries = 1000,
    private readonly now: () => number = Date.now,
  ) {}

  insert(value: CachedRequest): string {
    this.evictExpired();
    if (this.entries.size >= this.maxEntries) throw new TooManyPendingRequestsError(this.maxEntries);
    const token = randomBytes(18).toString('base64url');
    this.entries.set(token, { value, expiresAt: this.now() + this.ttlMs });
    return token;
  }

  /** Returns and forgets the request; undefined for unknown, used or expired tokens. */
  consume(token: string): CachedRequest | undefined {
    const entry = this.entries.get(token);
    if (!entry) return undefined;
    this.entries.delete(token);
    if (entry.expiresAt <= this.now()) return undefined;
    return entry.value;
  }

  get size(): number {
    this.evictExpired();
    return this.entries.size;
  }

  private evictExpired(): void {
    const now = this.now();
    for (const [token, entry] of this.entries) if (entry.expiresAt <= now) this.entries.delete(token);
  }
}
