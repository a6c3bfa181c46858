import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { LocalContentStore } from '../core/content/local-store.js';
import { formatTable, humanSize } from './format.js';
import { GLOBAL_OPTIONS, mergeGlobals, resolveEnvironment, UsageError, type GlobalFlags } from './globals.js';

export const CONTENT_USAGE = `usage: berthctl content COMMAND

  ls       every blob in the content store: DIGEST, SIZE, CREATED
  verify   re-hash every blob; exit 1 listing those that do not match their digest
`;

/** `berthctl content …`: reads <root>/content directly (read-only); returns the exit code. */
export async function runContent(args: string[], globals: GlobalFlags): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === '-h' || sub === '--help' || sub === 'help') {
    process.stdout.write(CONTENT_USAGE);
    return 0;
  }
  if (sub !== 'ls' && sub !== 'list' && sub !== 'verify') {
    throw new UsageError(sub ? `unknown content command "${sub}"\n${CONTENT_USAGE}` : CONTENT_USAGE);
  }
  const { values, positionals } = parseArgs({ args: rest, allowPositionals: true, options: GLOBAL_OPTIONS });
  if (positionals.length > 0) throw new UsageError(`usage: berthctl content ${sub}`);
  const env = await resolveEnvironment(mergeGlobals(globals, values));
  if (!existsSync(env.contentRoot)) throw new Error(`no content store at ${env.contentRoot}: is --root the daemon's root?`);
  const store = new LocalContentStore(env.contentRoot);
  return sub === 'verify' ? verify(store) : list(store);
}

async function list(store: LocalContentStore): Promise<number> {
  const rows: string[][] = [];
  for await (const blob of store.walk()) {
    rows.push([blob.digest, humanSize(blob.size), blob.createdAt.toISOString()]);
  }
  process.stdout.write(formatTable(['DIGEST', 'SIZE', 'CREATED'], rows));
  return 0;
}

async function verify(store: LocalContentStore): Promise<number> {
  const problems = await store.verify();
  if (problems.length > 0) {
    for (const p of problems) process.stdout.write(`${p.digest}: ${p.problem}\n`);
    process.stderr.write(`berthctl: ${problems.length} problem${problems.length === 1 ? '' : 's'} in ${store.root}\n`);
    return 1;
  }
  let count = 0;
  for await (const _ of store.walk()) count++;
  process.stdout.write(`${count} blobs verified\n`);
  return 0;
}
