import { isHeaderSafeToken } from '../core/distribution/auth.js';
import type { Credentials } from '../core/distribution/client.js';
import { InvalidArgumentError } from '../core/errors.js';
import type { AuthConfig__Output } from '../gen/cri/runtime/v1/AuthConfig.js';
import type { PullCredentials } from '../core/images/image-service.js';

/** Turns CRI's AuthConfig (kubelet's image pull secret) into registry credentials. */
export function credentialsFromAuth(auth: AuthConfig__Output | null | undefined): Credentials | undefined {
  if (!auth) return undefined;
  if (auth.identity_token) return { identityToken: auth.identity_token };
  if (auth.registry_token) {
    if (!isHeaderSafeToken(auth.registry_token)) throw new InvalidArgumentError('auth.registry_token must be printable ASCII without spaces');
    return { registryToken: auth.registry_token };
  }
  if (auth.username || auth.password) return { username: auth.username, password: auth.password };
  if (auth.auth) {
    const decoded = Buffer.from(auth.auth, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) throw new InvalidArgumentError('auth.auth must be base64 of "username:password"');
    return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
  }
  return undefined;
}

/**
 * The AuthConfig's credentials as a pull uses them: for every registry host
 * contacted (mirrors included), unless `server_address` names the registry
 * they belong to; then only that host gets them, as with containerd's
 * ParseAuth, so a mirror or another registry never sees them.
 */
export function pullCredentialsFromAuth(auth: AuthConfig__Output | null | undefined): PullCredentials | undefined {
  const credentials = credentialsFromAuth(auth);
  if (!credentials) return undefined;
  const serverAddress = auth?.server_address?.trim() ?? '';
  const hosts = serverAddress ? serverHosts(serverAddress) : undefined;
  return {
    forHost: (host) => (hosts === undefined || hosts.has(host) ? credentials : undefined),
    key: JSON.stringify({ credentials, serverAddress }),
  };
}

/** Docker Hub credentials are keyed by its index URL; its registry endpoint is another host. */
const DOCKER_HUB_HOSTS = ['index.docker.io', 'docker.io', 'registry-1.docker.io'];

/** The `host[:port]` names a server_address stands for: the host of a URL, or the address itself. */
function serverHosts(serverAddress: string): Set<string> {
  const hosts = new Set([serverAddress]);
  try {
    const url = new URL(serverAddress.includes('://') ? serverAddress : `https://${serverAddress}`);
    if (url.host) hosts.add(url.host);
  } catch {
    // Not a URL: only the exact text matches.
  }
  if (DOCKER_HUB_HOSTS.some((h) => hosts.has(h))) for (const h of DOCKER_HUB_HOSTS) hosts.add(h);
  return hosts;
}
