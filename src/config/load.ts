import { readFile } from 'node:fs/promises';
import { parse as parseToml } from 'smol-toml';
import type { BerthConfig } from './schema.js';
import { ConfigError, validateConfig } from './validate.js';

export const DEFAULT_CONFIG_PATH = '/etc/berth/berth.toml';

/** Command-line flags that take precedence over the file. */
export interface ConfigOverrides {
  root?: string;
  state?: string;
  address?: string;
  log_level?: string;
}

/**
 * Reads the TOML file (a missing file at the default path means "all
 * defaults"; a missing file named explicitly is an error), validates it and
 * applies the flag overrides, which are validated like file keys.
 */
export async function loadConfig(path: string | undefined, overrides: ConfigOverrides = {}): Promise<BerthConfig> {
  const file = path ?? DEFAULT_CONFIG_PATH;
  let text = '';
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const missing = (err as NodeJS.ErrnoException).code === 'ENOENT';
    if (!missing || path !== undefined) {
      throw new ConfigError('--config', `cannot read ${file}: ${(err as Error).message}`);
    }
  }
  let raw: Record<string, unknown>;
  try {
    raw = parseToml(text) as Record<string, unknown>;
  } catch (err) {
    throw new ConfigError(file, `not valid TOML: ${(err as Error).message}`);
  }
  for (const [key, value] of Object.entries(overrides)) {
    if (value !== undefined) raw[key] = value;
  }
  return validateConfig(raw);
}

