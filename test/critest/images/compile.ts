/**
 * Static C test programs: compiled with `gcc -static` into the cache directory,
 * keyed by the hash of source and flags, so a rebuild reuses them.
 */
import { createHash } from 'node:crypto';
import { statSync } from 'node:fs';
import { access, mkdir, readFile, rename } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCommand } from './command.js';

const GCC_FLAGS = ['-static', '-O2', '-s', '-Wall', '-Wextra', '-Werror'];

/**
 * The C sources live beside this module's TypeScript source (test/critest/images/c).
 * From the compiled file (dist-x/test/critest/images) it is found from the project root.
 */
export function sourceDir(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const candidates = [join(here, 'c'), join(here, '..', '..', '..', '..', 'test', 'critest', 'images', 'c')];
  return candidates.find((dir) => dirExistsSync(dir)) ?? candidates[0]!;
}

/** Compile `c/<name>.c` statically; returns the path of the cached binary. */
export async function compileStatic(name: string, cacheDir: string): Promise<string> {
  const source = join(sourceDir(), `${name}.c`);
  let text: Buffer;
  try {
    text = await readFile(source);
  } catch (err) {
    throw new Error(`cannot read the C source ${source} (run from a checkout that has test/critest/images/c): ${(err as Error).message}`);
  }
  const key = createHash('sha256').update(GCC_FLAGS.join(' ')).update('\0').update(text).digest('hex').slice(0, 16);
  const outDir = join(cacheDir, 'bin');
  const binary = join(outDir, `${name}-${key}`);
  if (await exists(binary)) return binary;
  await mkdir(outDir, { recursive: true });
  const partial = `${binary}.tmp-${process.pid}`;
  await runCommand('gcc', [...GCC_FLAGS, '-o', partial, source]);
  await rename(partial, binary);
  return binary;
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

function dirExistsSync(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}
