import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig } from '../config/load.js';
import { credentialsLookup } from '../config/registry-auth.js';
import type { Credentials } from '../core/distribution/client.js';

/** Flags every command accepts, before or after the command name. */
export interface GlobalFlags {
  address?: string;
  root?: string;
  config?: string;
}

export const GLOBAL_OPTIONS = {
  address: { type: 'string', short: 'a' },
  root: { type: 'string' },
  config: { type: 'string', short: 'c' },
} as const;

/** Where berthctl finds the daemon and its state, after flags, environment and config file. */
export interface CtlEnvironment {
  address: string;
  root: string;
  contentRoot: string;
  metadataDb: string;
  /** The daemon's certs.d directory (registry.config_path). */
  registryConfigPath: string;
  /** Credentials configured per registry host ([registry.configs."host".auth]), as the daemon uses them. */
  registryCredentials: (host: string) => Credentials | undefined;
}

/** Later flags (given after the command name) win over earlier ones. */
export function mergeGlobals(base: GlobalFlags, values: Record<string, unknown>): GlobalFlags {
  const merged: GlobalFlags = { ...base };
  for (const key of ['address', 'root', 'config'] as const) {
    const value = values[key];
    if (typeof value === 'string') merged[key] = value;
  }
  return merged;
}

/**
 * Precedence: flag, then $BERTH_ADDRESS / $BERTH_ROOT, then the config file
 * (/etc/berth/berth.toml unless --config), then the embedded defaults.
 */
export async function resolveEnvironment(flags: GlobalFlags): Promise<CtlEnvironment> {
  const address = flags.address ?? (process.env.BERTH_ADDRESS || undefined);
  const root = flags.root ?? (process.env.BERTH_ROOT || undefined);
  const overrides: { address?: string; root?: string } = {};
  if (address !== undefined) overrides.address = address;
  if (root !== undefined) overrides.root = root;
  const config = await loadConfig(flags.config, overrides);
  return {
    address: config.address,
    root: config.root,
    contentRoot: join(config.root, 'content'),
    metadataDb: join(config.root, 'metadata.db'),
    registryConfigPath: config.registry.config_path,
    registryCredentials: credentialsLookup(config.registry.configs),
  };
}

export interface SplitCommandLine {
  globals: GlobalFlags;
  help: boolean;
  command: string | undefined;
  rest: string[];
}

/** Separates the global flags in front of the command name from the command and its own arguments. */
export function splitCommandLine(argv: string[]): SplitCommandLine {
  const { tokens } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: false,
    tokens: true,
    options: { ...GLOBAL_OPTIONS, help: { type: 'boolean', short: 'h' } },
  });
  const values: Record<string, unknown> = {};
  let help = false;
  for (const token of tokens) {
    if (token.kind === 'positional') {
      return { globals: mergeGlobals({}, values), help, command: token.value, rest: argv.slice(token.index + 1) };
    }
    if (token.kind === 'option-terminator') break;
    if (token.name === 'help') help = true;
    else if (token.name in GLOBAL_OPTIONS) values[token.name] = token.value;
    else throw new UsageError(`unknown flag ${token.rawName} (global flags: --address, --root, --config)`);
  }
  return { globals: mergeGlobals({}, values), help, command: undefined, rest: [] };
}

/** A mistake on the command line: berthctl prints it with the usage and exits 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}
