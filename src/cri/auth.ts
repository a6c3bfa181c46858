import { isHeaderSafeToken } from '../core/distribution/auth.js';
import type { Credentials } from '../core/distribution/client.js';
import { InvalidArgumentError } from '../core/errors.js';
import type { AuthConfig__Output } from '../gen/cri/runtime/v1/AuthConfig.js';

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
