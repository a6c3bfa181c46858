/**
 * A registry that demands bearer tokens, as Docker Hub and most hosted
 * registries do: Debian's docker-registry with `auth: token` verifies every
 * token's ES256 signature against a throwaway certificate, and a small token
 * server here issues those tokens (Docker's token protocol: GET with Basic
 * credentials, or the OAuth2 POST with a refresh token). Known users get every
 * action they ask for; anyone else gets a token without access, as Docker Hub
 * answers anonymous requests for a private repository.
 */
import { execFile } from 'node:child_process';
import { createPrivateKey, randomBytes, sign, X509Certificate, type KeyObject } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startRegistry, type TestRegistry } from './registry.js';

const run = promisify(execFile);
const SERVICE = 'berth-test-registry';
const ISSUER = 'berth-test-token-issuer';
const TOKEN_LIFETIME_S = 300;

export interface TokenRequestLog {
  method: string;
  /** The user the request authenticated as, or undefined when anonymous or refused. */
  user?: string;
  scopes: string[];
  status: number;
}

export interface TokenAuthRegistry {
  registry: TestRegistry;
  /** `http://127.0.0.1:<port>/token` */
  realm: string;
  requests: TokenRequestLog[];
  stop(): Promise<void>;
}

export interface TokenAuthOptions {
  /** username → password */
  users: Record<string, string>;
  /** OAuth2 refresh token (an identity token) → username */
  refreshTokens?: Record<string, string>;
}

interface Access {
  type: string;
  name: string;
  actions: string[];
}

/** `repository:library/x:pull,push` → access entry; other scope kinds are ignored. */
function parseScope(scope: string): Access | undefined {
  const first = scope.indexOf(':');
  const last = scope.lastIndexOf(':');
  if (first < 0 || last === first) return undefined;
  return { type: scope.slice(0, first), name: scope.slice(first + 1, last), actions: scope.slice(last + 1).split(',').filter(Boolean) };
}

function base64url(data: Buffer | string): string {
  return Buffer.from(data).toString('base64url');
}

function issueToken(key: KeyObject, certDer: Buffer, subject: string, access: Access[]): string {
  const now = Math.floor(Date.now() / 1000);
  const header = { typ: 'JWT', alg: 'ES256', x5c: [certDer.toString('base64')] };
  const claims = {
    iss: ISSUER,
    sub: subject,
    aud: SERVICE,
    exp: now + TOKEN_LIFETIME_S,
    nbf: now - 10,
    iat: now,
    jti: randomBytes(12).toString('hex'),
    access,
  };
  const signingInput = `${base64url(JSON.stringify(header))}.${base64url(JSON.stringify(claims))}`;
  // JWS wants the raw r||s form of the ECDSA signature, not DER.
  const signature = sign('sha256', Buffer.from(signingInput), { key, dsaEncoding: 'ieee-p1363' });
  return `${signingInput}.${base64url(signature)}`;
}

function readBody(req: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (body += chunk));
    req.on('end', () => resolve(body));
    req.on('error', reject);
  });
}

export async function startTokenAuthRegistry(options: TokenAuthOptions): Promise<TokenAuthRegistry> {
  const dir = await mkdtemp(join(tmpdir(), 'berth-token-auth-'));
  const requests: TokenRequestLog[] = [];
  let server: http.Server | undefined;
  let registry: TestRegistry | undefined;
  const stop = async (): Promise<void> => {
    await registry?.stop();
    if (server) {
      const s = server;
      s.closeAllConnections();
      await new Promise<void>((resolve) => s.close(() => resolve()));
    }
    await rm(dir, { recursive: true, force: true });
  };

  try {
    const keyFile = join(dir, 'token.key');
    const certFile = join(dir, 'token.crt');
    await run('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
      '-subj', '/CN=berth test token issuer', '-days', '1', '-keyout', keyFile, '-out', certFile,
    ]);
    const key = createPrivateKey(await readFile(keyFile));
    const certDer = new X509Certificate(await readFile(certFile)).raw;

    server = http.createServer((req, res) => {
      void (async () => {
        const url = new URL(req.url ?? '/', 'http://token.invalid');
        if (url.pathname !== '/token') {
          res.writeHead(404).end();
          return;
        }
        let user: string | undefined;
        let refused = false;
        let scopes: string[];
        if (req.method === 'POST') {
          const form = new URLSearchParams(await readBody(req));
          scopes = (form.get('scope') ?? '').split(' ').filter(Boolean);
          const grant = form.get('grant_type');
          if (grant === 'refresh_token') user = options.refreshTokens?.[form.get('refresh_token') ?? ''];
          else if (grant === 'password' && options.users[form.get('username') ?? ''] === form.get('password')) user = form.get('username')!;
          refused = user === undefined;
        } else {
          scopes = url.searchParams.getAll('scope');
          const basic = /^Basic (.+)$/i.exec(req.headers.authorization ?? '')?.[1];
          if (basic) {
            const decoded = Buffer.from(basic, 'base64').toString('utf8');
            const colon = decoded.indexOf(':');
            const name = decoded.slice(0, colon);
            if (colon > 0 && options.users[name] === decoded.slice(colon + 1)) user = name;
            else refused = true;
          }
        }
        if (refused) {
          requests.push({ method: req.method ?? 'GET', scopes, status: 401 });
          res.writeHead(401, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: 'invalid username, password or refresh token' }] }));
          return;
        }
        requests.push({ method: req.method ?? 'GET', ...(user ? { user } : {}), scopes, status: 200 });
        const access = user ? scopes.map(parseScope).filter((a): a is Access => a !== undefined) : [];
        const token = issueToken(key, certDer, user ?? '', access);
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ token, access_token: token, expires_in: TOKEN_LIFETIME_S, issued_at: new Date().toISOString() }));
      })().catch(() => res.destroy());
    });
    const listening = server;
    await new Promise<void>((resolve) => listening.listen(0, '127.0.0.1', resolve));
    const realm = `http://127.0.0.1:${(listening.address() as AddressInfo).port}/token`;
    registry = await startRegistry({ tokenAuth: { realm, service: SERVICE, issuer: ISSUER, rootCertBundle: certFile } });
    return { registry, realm, requests, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
