#!/usr/bin/env node
// Runs the compiled test files with node's test runner: unit tests in
// parallel, then integration tests one file at a time (they share the host's
// network namespace, iptables and the local registry port), then the
// reliability suite (hostile input, disk full, crash points, load), also one
// file at a time (each prints a `reliability:` summary line), then upstream
// critest against a live berthd (test/critest/run: both streaming transports,
// fails when a spec of test/critest/must-pass.txt fails).
// Suites to run may be named: unit, integration, reliability, critest.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync, existsSync } from 'node:fs';
import { join } from 'node:path';

const suites = process.argv.slice(2);
const wanted = suites.length > 0 ? suites : ['unit', 'integration', 'reliability', 'critest'];

function testFiles(dir) {
  if (!existsSync(dir)) return [];
  const out = [];
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...testFiles(path));
    else if (name.endsWith('.test.js')) out.push(path);
  }
  return out;
}

let failed = false;
for (const suite of wanted) {
  if (suite === 'critest') {
    const res = spawnSync(join('test', 'critest', 'run'), [], { stdio: 'inherit' });
    if (res.status !== 0) failed = true;
    continue;
  }
  // The bench's own logic (statistics, report, settings) is unit-tested too.
  const files = [...testFiles(join('dist', 'test', suite)), ...(suite === 'unit' ? testFiles(join('dist', 'bench', 'test')) : [])];
  if (files.length === 0) continue;
  const concurrency = suite === 'unit' ? '2' : '1';
  const res = spawnSync(process.execPath, ['--test', `--test-concurrency=${concurrency}`, '--test-timeout=600000', ...files], { stdio: 'inherit' });
  if (res.status !== 0) failed = true;
}
process.exit(failed ? 1 : 0);
