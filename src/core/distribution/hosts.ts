/**
 * containerd-compatible registry host configuration: `<config_path>/<host>/hosts.toml`.
 * The result is the ordered list of endpoints to try for one registry domain:
 * the `[host."…"]` mirrors in file order, then `server` (or the default upstream).
 */
import { readFile, readdir, stat } from 'node:fs/promises';
import { isAbsolute, join } from 'node:path';
import { parse as parseToml } from 'smol-toml';
import { InvalidArgumentError } from '../errors.js';
import { DEFAULT_DOMAIN, LEGACY_DEFAULT_DOMAIN } from './reference.js';

export type HostCapability = 'pull' | 'resolve' | 'push';

export interface RegistryHost {
  /** scheme + host + API root, e.g. `https://registry-1.docker.io/v2`. Requests append `/<repo>/…`. */
  url: URL;
  capabilities: Set<HostCapability>;
  skipVerify: boolean;
  caPaths: string[];
  headers: Record<string, string[]>;
}

const ALL_CAPABILITIES: readonly HostCapability[] = ['pull', 'resolve', 'push'];
/** The host Docker Hub's registry API answers on (the "docker.io" domain of references maps to it). */
export const DOCKER_HUB_ENDPOINT_HOST = 'registry-1.docker.io';
const DOCKER_HUB_SERVER = `https://${DOCKER_HUB_ENDPOINT_HOST}`;
/** Every name Docker Hub's registry goes by: the reference domain, its legacy index name, the API endpoint. */
export const DOCKER_HUB_HOSTS: readonly string[] = [DEFAULT_DOMAIN, LEGACY_DEFAULT_DOMAIN, DOCKER_HUB_ENDPOINT_HOST];
const DEFAULT_DIR = '_default';
const HOSTS_FILE = 'hosts.toml';

export class HostsConfigError extends InvalidArgumentError {}

/**
 * The endpoints for `domain`, best first. With no configuration (or no matching
 * directory) this is the single default upstream.
 */
export async function resolveHosts(configPath: string | undefined, domain: string): Promise<RegistryHost[]> {
  const dir = configPath ? await findHostDir(configPath, domain) : undefined;
  if (dir === undefined) return [defaultServer(domain, {})];

  const file = join(dir, HOSTS_FILE);
  let text: string | undefined;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  if (text === undefined || text.trim() === '') {
    // Docker's certs.d layout: a directory of *.crt CA files and no hosts.toml.
    return [defaultServer(domain, { caPaths: await dockerCaFiles(dir) })];
  }
  return parseHostsFile(text, dir, domain, file);
}

/** Parse the text of one hosts.toml; `baseDir` anchors relative `ca` paths. */
export function parseHostsFile(text: string, baseDir: string, domain: string, fileName = HOSTS_FILE): RegistryHost[] {
  let doc: Record<string, unknown>;
  try {
    doc = parseToml(text) as Record<string, unknown>;
  } catch (err) {
    throw new HostsConfigError(`${fileName}: invalid TOML: ${(err as Error).message}`, { cause: err });
  }
  const where = (key: string): string => `${fileName}: ${key}`;

  const hosts: RegistryHost[] = [];
  const mirrors = doc['host'];
  if (mirrors !== undefined) {
    if (!isTable(mirrors)) throw new HostsConfigError(`${where('host')} must be a table of [host."<url>"] sections`);
    // smol-toml keeps tables in file order, which is the order mirrors are tried.
    for (const [url, section] of Object.entries(mirrors)) {
      if (!isTable(section)) throw new HostsConfigError(`${where(`host."${url}"`)} must be a table`);
      hosts.push(parseHostSection(url, section, baseDir, where(`host."${url}"`)));
    }
  }

  const server = doc['server'];
  if (server !== undefined && typeof server !== 'string') throw new HostsConfigError(`${where('server')} must be a string`);
  if (server) {
    hosts.push(parseHostSection(server, doc, baseDir, fileName));
  } else {
    hosts.push(defaultServer(domain, parseHostSettings(doc, baseDir, fileName)));
  }
  return hosts;
}

interface HostSettings {
  capabilities?: Set<HostCapability>;
  skipVerify?: boolean;
  caPaths?: string[];
  headers?: Record<string, string[]>;
  overridePath?: boolean;
}

function parseHostSection(rawUrl: string, section: Record<string, unknown>, baseDir: string, where: string): RegistryHost {
  const settings = parseHostSettings(section, baseDir, where);
  return makeHost(endpointUrl(rawUrl, settings.overridePath ?? false, where), settings);
}

function parseHostSettings(section: Record<string, unknown>, baseDir: string, where: string): HostSettings {
  const settings: HostSettings = {};
  const caps = section['capabilities'];
  if (caps !== undefined) {
    if (!isStringArray(caps)) throw new HostsConfigError(`${where}: capabilities must be an array of strings`);
    settings.capabilities = new Set();
    for (const cap of caps) {
      const lower = cap.toLowerCase();
      if (!(ALL_CAPABILITIES as readonly string[]).includes(lower)) {
        throw new HostsConfigError(`${where}: unknown capability ${JSON.stringify(cap)} (expected pull, resolve or push)`);
      }
      settings.capabilities.add(lower as HostCapability);
    }
  }

  const skip = section['skip_verify'];
  if (skip !== undefined) {
    if (typeof skip !== 'boolean') throw new HostsConfigError(`${where}: skip_verify must be true or false`);
    settings.skipVerify = skip;
  }

  const ca = section['ca'];
  if (ca !== undefined) {
    const list = typeof ca === 'string' ? [ca] : ca;
    if (!isStringArray(list)) throw new HostsConfigError(`${where}: ca must be a path or an array of paths`);
    settings.caPaths = list.map((p) => (isAbsolute(p) ? p : join(baseDir, p)));
  }

  const header = section['header'];
  if (header !== undefined) {
    if (!isTable(header)) throw new HostsConfigError(`${where}: header must be a table`);
    settings.headers = {};
    for (const [name, value] of Object.entries(header)) {
      const values = typeof value === 'string' ? [value] : value;
      if (!isStringArray(values)) throw new HostsConfigError(`${where}: header ${name} must be a string or array of strings`);
      settings.headers[name.toLowerCase()] = [...(settings.headers[name.toLowerCase()] ?? []), ...values];
    }
  }

  const override = section['override_path'];
  if (override !== undefined) {
    if (typeof override !== 'boolean') throw new HostsConfigError(`${where}: override_path must be true or false`);
    settings.overridePath = override;
  }
  // `client` (TLS client certificates) is accepted but not used yet.
  return settings;
}

/** As containerd: no scheme means https; the path gets `/v2` unless it already ends so or override_path is set. */
function endpointUrl(raw: string, overridePath: boolean, where: string): URL {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(raw) && !/^https?:\/\//i.test(raw)) {
    throw new HostsConfigError(`${where}: ${JSON.stringify(raw)} must be an http or https URL`);
  }
  const withScheme = /^https?:\/\//i.test(raw) ? raw : `https://${raw}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw new HostsConfigError(`${where}: ${JSON.stringify(raw)} is not a valid URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new HostsConfigError(`${where}: ${JSON.stringify(raw)} must be an http or https URL`);
  }
  let path = url.pathname.replace(/\/+/g, '/').replace(/\/$/, '');
  if (!overridePath && !path.endsWith('/v2')) path += '/v2';
  url.pathname = path === '' ? '/' : path;
  url.search = '';
  url.hash = '';
  return url;
}

function defaultServer(domain: string, settings: HostSettings): RegistryHost {
  let raw: string;
  if (domain === DEFAULT_DOMAIN) raw = DOCKER_HUB_SERVER;
  else raw = `${isLocalhost(domain) ? 'http' : 'https'}://${domain}`;
  return makeHost(endpointUrl(raw, settings.overridePath ?? false, domain), settings);
}

/** localhost and loopback registries default to plain HTTP unless on port 443 (containerd's rule). */
export function isLocalhost(domain: string): boolean {
  const url = safeUrl(`http://${domain}`);
  if (!url) return false;
  if (url.port === '443') return false;
  const host = url.hostname;
  return host === 'localhost' || /^127\.\d+\.\d+\.\d+$/.test(host) || host === '[::1]';
}

function makeHost(url: URL, settings: HostSettings): RegistryHost {
  return {
    url,
    capabilities: settings.capabilities ?? new Set(ALL_CAPABILITIES),
    skipVerify: settings.skipVerify ?? false,
    caPaths: settings.caPaths ?? [],
    headers: settings.headers ?? {},
  };
}

/** `<host>_<port>_`, then `<host:port>`, then `<host>`; `_default` when none exists. */
async function findHostDir(configPath: string, domain: string): Promise<string | undefined> {
  const candidates: string[] = [];
  const colon = domain.lastIndexOf(':');
  if (colon > 0 && !domain.endsWith(']')) candidates.push(`${domain.slice(0, colon)}_${domain.slice(colon + 1)}_`);
  candidates.push(domain, DEFAULT_DIR);
  for (const name of candidates) {
    const dir = join(configPath, name);
    try {
      if ((await stat(dir)).isDirectory()) return dir;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
  return undefined;
}

async function dockerCaFiles(dir: string): Promise<string[]> {
  const names = await readdir(dir);
  return names.filter((n) => n.endsWith('.crt')).sort().map((n) => join(dir, n));
}

function isTable(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Date);
}

function isStringArray(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((v) => typeof v === 'string');
}

function safeUrl(text: string): URL | undefined {
  try {
    return new URL(text);
  } catch {
    return undefined;
  }
}
