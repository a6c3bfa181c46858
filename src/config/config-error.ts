import { InvalidArgumentError } from '../core/errors.js';

/** A problem with one key of the configuration, named by its dotted path. */
export class ConfigError extends InvalidArgumentError {
  constructor(readonly key: string, problem: string) {
    super(`config key "${key}": ${problem}`);
  }
}

/** A parsed TOML table. */
export type Raw = Record<string, unknown>;

export function isTable(value: unknown): value is Raw {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Date);
}

/** "a string", "an array", … for messages about a value of the wrong type. */
export function describe(value: unknown): string {
  if (Array.isArray(value)) return 'an array';
  if (value instanceof Date) return 'a date';
  if (value === null) return 'null';
  return `a ${typeof value}`;
}
