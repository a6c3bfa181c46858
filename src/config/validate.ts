import { ConfigError, type Raw, describe, isTable } from './config-error.js';
import { validateRegistryConfigs } from './registry-auth.js';
import type { BerthConfig } from './schema.js';
import { defaultConfig } from './schema.js';

export { ConfigError } from './config-error.js';

function str(raw: Raw, key: string, path: string, fallback: string, allowed?: readonly string[]): string {
  if (!(key in raw)) return fallback;
  const value = raw[key];
  if (typeof value !== 'string') throw new ConfigError(path, `expected a string, got ${describe(value)}`);
  if (allowed && !allowed.includes(value)) {
    throw new ConfigError(path, `"${value}" is not one of ${allowed.join(', ')}`);
  }
  return value;
}

function int(raw: Raw, key: string, path: string, fallback: number, min: number, max: number): number {
  if (!(key in raw)) return fallback;
  const value = raw[key];
  const n = typeof value === 'bigint' ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isInteger(n)) {
    throw new ConfigError(path, `expected an integer, got ${describe(value)}`);
  }
  if (n < min || n > max) throw new ConfigError(path, `${n} is outside ${min}..${max}`);
  return n;
}

function bool(raw: Raw, key: string, path: string, fallback: boolean): boolean {
  if (!(key in raw)) return fallback;
  const value = raw[key];
  if (typeof value !== 'boolean') throw new ConfigError(path, `expected true or false, got ${describe(value)}`);
  return value;
}

function strList(raw: Raw, key: string, path: string, fallback: string[]): string[] {
  if (!(key in raw)) return fallback;
  const value = raw[key];
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string')) {
    throw new ConfigError(path, `expected an array of strings, got ${describe(value)}`);
  }
  return value as string[];
}

function table(raw: Raw, key: string, path: string, allowedKeys: readonly string[]): Raw {
  if (!(key in raw)) return {};
  const value = raw[key];
  if (!isTable(value)) throw new ConfigError(path, `expected a table, got ${describe(value)}`);
  rejectUnknown(value, allowedKeys, path);
  return value;
}

function rejectUnknown(raw: Raw, allowedKeys: readonly string[], prefix: string): void {
  for (const key of Object.keys(raw)) {
    if (!allowedKeys.includes(key)) {
      throw new ConfigError(prefix ? `${prefix}.${key}` : key, 'unknown key');
    }
  }
}

const TOP_KEYS = [
  'root', 'state', 'address', 'log_level', 'log_format', 'cgroup_driver', 'sandbox_image',
  'default_runtime', 'ignore_image_defined_volume', 'runtimes', 'registry', 'cni', 'stream', 'metrics',
] as const;

function absolutePath(value: string, key: string): string {
  if (!value.startsWith('/')) throw new ConfigError(key, `"${value}" must be an absolute path`);
  return value;
}

function optionalAbsolutePath(value: string, key: string): string {
  return value === '' ? value : absolutePath(value, key);
}

/** Two keys that only work together: one set without the other names the missing one. */
export function requireBothOrNeither(a: string, aKey: string, b: string, bKey: string): void {
  if (a && !b) throw new ConfigError(bKey, `must be set together with ${aKey}`);
  if (b && !a) throw new ConfigError(aKey, `must be set together with ${bKey}`);
}

/**
 * Turns a parsed TOML document into a complete configuration, filling in the
 * embedded defaults. Unknown keys and wrong types are errors naming the key.
 */
export function validateConfig(raw: Raw): BerthConfig {
  const d = defaultConfig();
  rejectUnknown(raw, TOP_KEYS, '');

  const runtimesRaw = raw.runtimes;
  let runtimes = d.runtimes;
  if (runtimesRaw !== undefined) {
    if (!isTable(runtimesRaw)) throw new ConfigError('runtimes', `expected a table, got ${describe(runtimesRaw)}`);
    runtimes = { ...d.runtimes };
    for (const [name, handler] of Object.entries(runtimesRaw)) {
      const path = `runtimes.${name}`;
      if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(name)) throw new ConfigError(path, 'invalid handler name');
      if (!isTable(handler)) throw new ConfigError(path, `expected a table, got ${describe(handler)}`);
      rejectUnknown(handler, ['path'], path);
      const binary = str(handler, 'path', `${path}.path`, '');
      if (!binary) throw new ConfigError(`${path}.path`, 'must name the runtime binary');
      runtimes[name] = { path: binary };
    }
  }

  const registry = table(raw, 'registry', 'registry', ['config_path', 'configs']);
  const cni = table(raw, 'cni', 'cni', ['conf_dir', 'bin_dirs']);
  const stream = table(raw, 'stream', 'stream', ['address', 'port', 'tls_cert_file', 'tls_key_file']);
  const metrics = table(raw, 'metrics', 'metrics', ['address']);

  const config: BerthConfig = {
    root: absolutePath(str(raw, 'root', 'root', d.root), 'root'),
    state: absolutePath(str(raw, 'state', 'state', d.state), 'state'),
    address: absolutePath(str(raw, 'address', 'address', d.address), 'address'),
    log_level: str(raw, 'log_level', 'log_level', d.log_level, ['error', 'warn', 'info', 'debug']) as BerthConfig['log_level'],
    log_format: str(raw, 'log_format', 'log_format', d.log_format, ['text', 'json']) as BerthConfig['log_format'],
    cgroup_driver: str(raw, 'cgroup_driver', 'cgroup_driver', d.cgroup_driver, ['auto', 'cgroupfs', 'systemd']) as BerthConfig['cgroup_driver'],
    sandbox_image: str(raw, 'sandbox_image', 'sandbox_image', d.sandbox_image),
    default_runtime: str(raw, 'default_runtime', 'default_runtime', d.default_runtime),
    ignore_image_defined_volume: bool(raw, 'ignore_image_defined_volume', 'ignore_image_defined_volume', d.ignore_image_defined_volume),
    runtimes,
    registry: {
      config_path: str(registry, 'config_path', 'registry.config_path', d.registry.config_path),
      configs: validateRegistryConfigs(registry['configs'], 'registry.configs'),
    },
    cni: {
      conf_dir: str(cni, 'conf_dir', 'cni.conf_dir', d.cni.conf_dir),
      bin_dirs: strList(cni, 'bin_dirs', 'cni.bin_dirs', d.cni.bin_dirs),
    },
    stream: {
      address: str(stream, 'address', 'stream.address', d.stream.address),
      port: int(stream, 'port', 'stream.port', d.stream.port, 0, 65535),
      tls_cert_file: optionalAbsolutePath(str(stream, 'tls_cert_file', 'stream.tls_cert_file', d.stream.tls_cert_file), 'stream.tls_cert_file'),
      tls_key_file: optionalAbsolutePath(str(stream, 'tls_key_file', 'stream.tls_key_file', d.stream.tls_key_file), 'stream.tls_key_file'),
    },
    metrics: { address: str(metrics, 'address', 'metrics.address', d.metrics.address) },
  };
  if (!config.runtimes[config.default_runtime]) {
    throw new ConfigError('default_runtime', `"${config.default_runtime}" has no [runtimes.${config.default_runtime}] table`);
  }
  requireBothOrNeither(config.stream.tls_cert_file, 'stream.tls_cert_file', config.stream.tls_key_file, 'stream.tls_key_file');
  if (!config.sandbox_image) throw new ConfigError('sandbox_image', 'must not be empty');
  return config;
}
