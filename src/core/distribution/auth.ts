/** Registry authentication: WWW-Authenticate challenges, credentials, and the bearer token cache. */

export type Credentials =
  | { username: string; password: string }
  | { identityToken: string }
  | { registryToken: string };

export interface Challenge {
  scheme: 'basic' | 'bearer';
  params: Record<string, string>;
}

/**
 * Parse a WWW-Authenticate header (RFC 7235): one or more challenges, each a
 * scheme followed by comma-separated `key=value` / `key="quoted"` parameters.
 * Unknown schemes are skipped.
 */
export function parseChallenges(header: string | string[] | undefined): Challenge[] {
  if (header === undefined) return [];
  const text = Array.isArray(header) ? header.join(', ') : header;
  const out: Challenge[] = [];
  let current: { scheme: string; params: Record<string, string> } | undefined;
  let i = 0;
  const skip = (re: RegExp): void => {
    while (i < text.length && re.test(text[i] as string)) i++;
  };
  const token = (): string => {
    const start = i;
    while (i < text.length && /[!#$%&'*+\-.^_`|~0-9A-Za-z]/.test(text[i] as string)) i++;
    return text.slice(start, i);
  };
  const flush = (): void => {
    if (!current) return;
    const scheme = current.scheme.toLowerCase();
    if (scheme === 'basic' || scheme === 'bearer') out.push({ scheme, params: current.params });
    current = undefined;
  };

  while (i < text.length) {
    skip(/[\s,]/);
    const name = token();
    if (name === '') {
      i++; // unexpected character: step over it rather than loop forever
      continue;
    }
    skip(/\s/);
    if (text[i] === '=' && current) {
      i++;
      skip(/\s/);
      let value: string;
      if (text[i] === '"') {
        i++;
        value = '';
        while (i < text.length && text[i] !== '"') {
          if (text[i] === '\\' && i + 1 < text.length) i++;
          value += text[i];
          i++;
        }
        i++; // closing quote
      } else {
        value = token();
      }
      current.params[name.toLowerCase()] = value;
    } else {
      flush();
      current = { scheme: name, params: {} };
    }
  }
  flush();
  return out;
}

/** Prefer Bearer over Basic when a registry offers both. */
export function pickChallenge(challenges: Challenge[]): Challenge | undefined {
  return challenges.find((c) => c.scheme === 'bearer') ?? challenges.find((c) => c.scheme === 'basic');
}

export function basicAuthorization(username: string, password: string): string {
  return `Basic ${Buffer.from(`${username}:${password}`, 'utf8').toString('base64')}`;
}

/** The username and password in a Docker config `auth` value (base64 of "username:password"); undefined without a colon. */
export function splitBasicAuth(encoded: string): { username: string; password: string } | undefined {
  const decoded = Buffer.from(encoded, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon < 0 ? undefined : { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

export function repositoryScope(repoPath: string, actions: readonly string[]): string {
  return `repository:${repoPath}:${actions.join(',')}`;
}

/** The distribution spec's default when a token response has no expires_in. */
const DEFAULT_TOKEN_LIFETIME_S = 60;
/** Refresh a little before the server's expiry so an in-flight request does not race it. */
const EXPIRY_MARGIN_MS = 5_000;

interface CachedToken {
  token: string;
  expiresAt: number;
}

/** Bearer tokens keyed by realm + service + scopes, kept until they expire. */
export class TokenCache {
  private readonly tokens = new Map<string, CachedToken>();

  static key(realm: string, service: string | undefined, scopes: readonly string[]): string {
    return [realm, service ?? '', ...[...scopes].sort()].join('|');
  }

  get(key: string, now = Date.now()): string | undefined {
    const hit = this.tokens.get(key);
    if (!hit) return undefined;
    if (hit.expiresAt <= now) {
      this.tokens.delete(key);
      return undefined;
    }
    return hit.token;
  }

  set(key: string, token: string, expiresInSeconds: number | undefined, now = Date.now()): void {
    const lifetime = expiresInSeconds && expiresInSeconds > 0 ? expiresInSeconds : DEFAULT_TOKEN_LIFETIME_S;
    this.tokens.set(key, { token, expiresAt: now + Math.max(lifetime * 1000 - EXPIRY_MARGIN_MS, 1000) });
  }

  delete(key: string): void {
    this.tokens.delete(key);
  }
}

export interface TokenResponse {
  token: string;
  expiresIn?: number;
}

/** Read `token` (or `access_token`) and `expires_in` from a token server's JSON answer. */
export function parseTokenResponse(body: Buffer): TokenResponse {
  let json: unknown;
  try {
    json = JSON.parse(body.toString('utf8'));
  } catch {
    throw new Error('token server answered with invalid JSON');
  }
  if (typeof json !== 'object' || json === null) throw new Error('token server answer is not a JSON object');
  const obj = json as Record<string, unknown>;
  const token = typeof obj['token'] === 'string' && obj['token'] ? obj['token'] : obj['access_token'];
  if (typeof token !== 'string' || token === '') throw new Error('token server answer has no token');
  if (!isHeaderSafeToken(token)) throw new Error('token server answered with a token that cannot be sent in an Authorization header');
  const expires = obj['expires_in'];
  return typeof expires === 'number' ? { token, expiresIn: expires } : { token };
}

/** Printable ASCII without spaces: what may follow `Bearer ` in an Authorization header. */
export function isHeaderSafeToken(token: string): boolean {
  return /^[\x21-\x7e]+$/.test(token);
}
