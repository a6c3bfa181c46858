/**
 * Per-registry credentials in berth.toml, the containerd way:
 *
 *   [registry.configs."registry.example.com:5000".auth]
 *   username = "puller"
 *   password = "secret"
 *
 * keyed by the host[:port] berth contacts (a mirror's own host when pulling
 * through one), used when PullImage carries no AuthConfig.
 */
import { splitBasicAuth, type Credentials } from '../core/distribution/auth.js';
import { DOCKER_HUB_ENDPOINT_HOST } from '../core/distribution/hosts.js';
import { DEFAULT_DOMAIN } from '../core/distribution/reference.js';
import { ConfigError, describe, isTable } from './config-error.js';

/** containerd's `registry.configs.<host>.auth` keys; exactly one form is set after validation. */
export interface RegistryAuthConfig {
  username?: string;
  password?: string;
  /** base64 of `username:password`, as in a Docker config.json. */
  auth?: string;
  /** An OAuth2 refresh token, exchanged at the registry's token server. */
  identitytoken?: string;
}

export interface RegistryHostConfig {
  auth?: RegistryAuthConfig;
}

const AUTH_KEYS = ['username', 'password', 'auth', 'identitytoken'] as const;
const REDACTED = '<redacted>';

/** Validates `[registry.configs]`: host keys, known keys only, one credential form each. */
export function validateRegistryConfigs(value: unknown, path: string): Record<string, RegistryHostConfig> {
  if (value === undefined) return {};
  if (!isTable(value)) throw new ConfigError(path, `expected a table of "host[:port]" tables, got ${describe(value)}`);
  const configs: Record<string, RegistryHostConfig> = {};
  for (const [host, section] of Object.entries(value)) {
    const hostPath = `${path}."${host}"`;
    const key = normalizeHostKey(host, hostPath);
    if (configs[key]) throw new ConfigError(hostPath, `the same host as another entry ("${key}")`);
    if (!isTable(section)) throw new ConfigError(hostPath, `expected a table, got ${describe(section)}`);
    for (const name of Object.keys(section)) {
      if (name !== 'auth') throw new ConfigError(`${hostPath}.${name}`, 'unknown key (TLS and mirrors go in config_path hosts.toml files)');
    }
    configs[key] = section.auth === undefined ? {} : { auth: validateAuth(section.auth, `${hostPath}.auth`) };
  }
  return configs;
}

function normalizeHostKey(host: string, path: string): string {
  let url: URL | undefined;
  try {
    url = /[/@?#\s]/.test(host) || host === '' ? undefined : new URL(`https://${host}`);
  } catch {
    url = undefined;
  }
  if (!url) throw new ConfigError(path, 'must be a registry host or host:port, without a scheme or path');
  // As the endpoint URLs spell it: lower case, no :443.
  return url.host;
}

function validateAuth(value: unknown, path: string): RegistryAuthConfig {
  if (!isTable(value)) throw new ConfigError(path, `expected a table, got ${describe(value)}`);
  const auth: RegistryAuthConfig = {};
  for (const [name, v] of Object.entries(value)) {
    if (!(AUTH_KEYS as readonly string[]).includes(name)) {
      throw new ConfigError(`${path}.${name}`, `unknown key; use ${AUTH_KEYS.join(', ')}`);
    }
    if (typeof v !== 'string') throw new ConfigError(`${path}.${name}`, `expected a string, got ${describe(v)}`);
    if (v !== '') auth[name as (typeof AUTH_KEYS)[number]] = v;
  }
  const forms = [auth.username !== undefined || auth.password !== undefined, auth.auth !== undefined, auth.identitytoken !== undefined];
  const count = forms.filter(Boolean).length;
  if (count === 0) throw new ConfigError(path, 'no credentials: set username and password, auth, or identitytoken');
  if (count > 1) throw new ConfigError(path, 'set only one of: username and password, auth, identitytoken');
  if (auth.password !== undefined && auth.username === undefined) throw new ConfigError(`${path}.username`, 'must be set with password');
  if (auth.auth !== undefined) decodeBasicAuth(auth.auth, `${path}.auth`);
  return auth;
}

function decodeBasicAuth(text: string, path: string): { username: string; password: string } {
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(text)) throw new ConfigError(path, 'must be base64 of "username:password"');
  const basic = splitBasicAuth(text);
  if (!basic || basic.username === '') throw new ConfigError(path, 'must be base64 of "username:password" (no colon after decoding)');
  return basic;
}

function toCredentials(auth: RegistryAuthConfig): Credentials {
  if (auth.identitytoken !== undefined) return { identityToken: auth.identitytoken };
  if (auth.auth !== undefined) return decodeBasicAuth(auth.auth, 'auth');
  return { username: auth.username ?? '', password: auth.password ?? '' };
}

/**
 * The registry client's credential lookup for validated configs, by the
 * endpoint's host as its URL spells it; Docker Hub's endpoint also answers
 * to "docker.io".
 */
export function credentialsLookup(configs: Record<string, RegistryHostConfig>): (host: string) => Credentials | undefined {
  const byHost = new Map<string, Credentials>();
  for (const [host, config] of Object.entries(configs)) {
    if (config.auth) byHost.set(host, toCredentials(config.auth));
  }
  return (host) => {
    if (byHost.size === 0) return undefined;
    const key = host.toLowerCase();
    return byHost.get(key) ?? (key === DOCKER_HUB_ENDPOINT_HOST ? byHost.get(DEFAULT_DOMAIN) : undefined);
  };
}

/** The configs with every secret replaced, for `crictl info`. */
export function redactRegistryConfigs(configs: Record<string, RegistryHostConfig>): Record<string, RegistryHostConfig> {
  const out: Record<string, RegistryHostConfig> = {};
  for (const [host, config] of Object.entries(configs)) {
    if (!config.auth) {
      out[host] = {};
      continue;
    }
    const auth: RegistryAuthConfig = {};
    if (config.auth.username !== undefined) auth.username = config.auth.username;
    if (config.auth.password !== undefined) auth.password = REDACTED;
    if (config.auth.auth !== undefined) auth.auth = REDACTED;
    if (config.auth.identitytoken !== undefined) auth.identitytoken = REDACTED;
    out[host] = { auth };
  }
  return out;
}
