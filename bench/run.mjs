#!/usr/bin/env node
// Launcher for the compiled bench (`npm run build` compiles bench/*.ts to dist/bench/).
// BENCH_DIST=<dir> picks another build output (e.g. a private tsconfig's outDir).
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const entry = join(root, process.env.BENCH_DIST ?? 'dist', 'bench', 'main.js');
if (!existsSync(entry)) {
  console.error(`${entry} is missing: run "npm run build" first`);
  process.exit(2);
}
if (process.getuid?.() !== 0) {
  console.error('the bench starts runc containers and network namespaces: run it as root');
  process.exit(2);
}
const { main } = await import(pathToFileURL(entry).href);
process.exitCode = await main(process.argv.slice(2));
