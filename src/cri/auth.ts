import { isHeaderSafeToken, splitBasicAuth } from '../core/distribution/auth.js';
import type { Credentials } from '../core/distribution/client.js';
import { DOCKER_HUB_HOSTS } from '../core/distribution/hosts.js';
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
    const basic = splitBasicAuth(auth.auth);
    if (!basic) throw new InvalidArgumentError('auth.auth must be base64 of "username:password"');
    return basic;
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
