import { UsageError } from './globals.js';

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];

/** 1536 → "1.5 KiB"; bytes below 1 KiB stay exact. */
export function humanSize(bytes: number): string {
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(1)} ${UNITS[unit]}`;
}

/** The first 12 hex digits of an id or digest, as docker and crictl show them. */
export function shortId(id: string): string {
  const hex = id.startsWith('sha256:') ? id.slice('sha256:'.length) : id;
  return hex.slice(0, 12);
}

/** Left-aligned columns separated by three spaces; the last column is not padded. */
export function formatTable(header: string[], rows: string[][]): string {
  const all = [header, ...rows];
  const widths = header.map((_, col) => Math.max(...all.map((row) => (row[col] ?? '').length)));
  return all
    .map((row) =>
      row
        .map((cell, col) => (col === row.length - 1 ? cell : cell.padEnd(widths[col] ?? 0)))
        .join('   ')
        .trimEnd(),
    )
    .join('\n') + '\n';
}

export function formatElapsed(ms: number): string {
  return `${(ms / 1000).toFixed(1)}s`;
}

/** `user:password` → its two halves; the password may itself contain colons. */
export function parseUserFlag(value: string): { username: string; password: string } {
  const colon = value.indexOf(':');
  if (colon <= 0) throw new UsageError(`--user must be USER:PASSWORD, got ${JSON.stringify(value.replace(/:.*/, ':…'))}`);
  return { username: value.slice(0, colon), password: value.slice(colon + 1) };
}
