/**
 * Loading the pod network configuration the way libcni and containerd do: the
 * first valid `.conflist`, `.conf` or `.json` file in the conf dir, by file name.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import type { NetworkConfigList, PluginConfig } from './types.js';

export const DEFAULT_CONF_DIR = '/etc/cni/net.d';
export const CONFIG_EXTENSIONS = ['.conflist', '.conf', '.json'] as const;

export class CniConfigError extends Error {
  constructor(readonly source: string, problem: string) {
    super(`invalid CNI config ${source}: ${problem}`);
    this.name = 'CniConfigError';
  }
}

export type LoadResult =
  | { config: NetworkConfigList; reason?: undefined; skipped: string[] }
  | { config: undefined; reason: string; skipped: string[] };

/**
 * Returns the network config that wins in `confDir`, or a reason when there is
 * none. `skipped` lists why earlier files were passed over.
 */
export function loadNetworkConfig(confDir: string = DEFAULT_CONF_DIR): LoadResult {
  let names: string[];
  try {
    names = readdirSync(confDir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'does not exist' : `cannot be read (${code ?? String(err)})`;
    return { config: undefined, reason: `no network config found in ${confDir}: the directory ${why}`, skipped: [] };
  }
  const candidates = names
    .filter((name) => CONFIG_EXTENSIONS.some((ext) => name.endsWith(ext)))
    .sort()
    .map((name) => path.join(confDir, name));
  const skipped: string[] = [];
  for (const file of candidates) {
    try {
      if (!statSync(file).isFile()) continue;
      return { config: parseNetworkConfig(readFileSync(file, 'utf8'), file), skipped };
    } catch (err) {
      skipped.push(err instanceof Error ? err.message : String(err));
    }
  }
  const detail = skipped.length > 0 ? ` (skipped: ${skipped.join('; ')})` : '';
  return {
    config: undefined,
    reason: `no valid network config found in ${confDir}${detail}`,
    skipped,
  };
}

/**
 * Parses one config file. A `.conflist` must hold a list; any other file holds a
 * single plugin config which is wrapped into a one-plugin list (libcni's
 * ConfListFromConf). A non-list file that nevertheless has `plugins` is read as a list.
 */
export function parseNetworkConfig(text: string, source: string): NetworkConfigList {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new CniConfigError(source, `not JSON (${err instanceof Error ? err.message : String(err)})`);
  }
  if (!isObject(parsed)) throw new CniConfigError(source, 'top level must be a JSON object');
  const isList = source.endsWith('.conflist') || 'plugins' in parsed;

  const name = parsed.name;
  if (typeof name !== 'string' || name === '') throw new CniConfigError(source, '"name" must be a non-empty string');
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(name)) {
    throw new CniConfigError(source, `network name "${name}" may only hold letters, digits, '_', '.', '-'`);
  }
  const cniVersion = parsed.cniVersion;
  if (typeof cniVersion !== 'string' || !/^\d+\.\d+\.\d+$/.test(cniVersion)) {
    throw new CniConfigError(source, '"cniVersion" must be a version such as "1.0.0"');
  }

  let rawPlugins: unknown[];
  if (isList) {
    if (!Array.isArray(parsed.plugins) || parsed.plugins.length === 0) {
      throw new CniConfigError(source, '"plugins" must be a non-empty array');
    }
    rawPlugins = parsed.plugins;
  } else {
    rawPlugins = [parsed];
  }
  const plugins = rawPlugins.map((raw, index) => validatePlugin(raw, index, source));

  return {
    name,
    cniVersion,
    disableCheck: isList ? parseBool(parsed.disableCheck, source) : false,
    plugins,
    source,
  };
}

function validatePlugin(raw: unknown, index: number, source: string): PluginConfig {
  if (!isObject(raw)) throw new CniConfigError(source, `plugin #${index} must be a JSON object`);
  const type = raw.type;
  if (typeof type !== 'string' || type === '') {
    throw new CniConfigError(source, `plugin #${index} has no "type"`);
  }
  // The type names a binary inside the bin dirs; it must not reach outside them.
  if (type.includes('/') || type === '.' || type === '..') {
    throw new CniConfigError(source, `plugin #${index} type "${type}" must be a bare binary name`);
  }
  if (raw.capabilities !== undefined) {
    if (!isObject(raw.capabilities) || !Object.values(raw.capabilities).every((v) => typeof v === 'boolean')) {
      throw new CniConfigError(source, `plugin "${type}": "capabilities" must map names to true/false`);
    }
  }
  return raw as PluginConfig;
}

function parseBool(value: unknown, source: string): boolean {
  if (value === undefined || value === false || value === 'false') return false;
  if (value === true || value === 'true') return true;
  throw new CniConfigError(source, '"disableCheck" must be true or false');
}

function isObject(value: unknown): value is { [key: string]: unknown } {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Compares dotted versions numerically: negative, zero or positive like a sort comparator. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const diff = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (diff !== 0) return diff;
  }
  return 0;
}
