import { readFile } from 'node:fs/promises';

async function lines(path: string): Promise<string[]> {
  const text = await readFile(path, 'utf8').catch(() => '');
  return text
    .split('\n')
    .map((l) => l.trimEnd())
    .filter((l) => l.trim() !== '' && !l.startsWith('#'));
}

/** Spec names that must pass: one per line. */
export async function loadMustPass(path: string): Promise<Set<string>> {
  return new Set(await lines(path));
}

/** `spec name | reason` per line: specs that cannot pass on these machines. */
export async function loadExpectedFail(path: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const line of await lines(path)) {
    const bar = line.lastIndexOf(' | ');
    if (bar < 0) throw new Error(`${path}: "${line}" needs " | reason"`);
    out.set(line.slice(0, bar).trim(), line.slice(bar + 3).trim());
  }
  return out;
}
