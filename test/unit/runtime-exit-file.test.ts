import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, utimesSync, writeFileSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readExitFile, writeExitFile } from '../../src/core/runtime/exit-file.js';
import { isProcessAlive, parentPidOf, readPidFile } from '../../src/core/runtime/proc.js';
import { resolveExecutable } from '../../src/core/runtime/binary.js';
import { wasOomKilled } from '../../src/core/runtime/oom.js';

const base = mkdtempSync(join(tmpdir(), 'berth-exitfile-'));
after(() => rmSync(base, { recursive: true, force: true }));

/** Writes the way conmon does: a temp file renamed over the final name. */
function writeExit(dir: string, id: string, text: string): void {
  const tmp = join(dir, `.${id}.tmp`);
  writeFileSync(tmp, text);
  renameSync(tmp, join(dir, id));
}

describe('readExitFile', () => {
  it('is undefined before the container exits, then gives the code and mtime', async () => {
    const dir = mkdtempSync(join(base, 'read-'));
    assert.equal(await readExitFile(dir, 'c1'), undefined);
    writeExit(dir, 'c1', '143');
    const when = new Date('2024-05-01T10:00:00Z');
    utimesSync(join(dir, 'c1'), when, when);
    assert.deepEqual(await readExitFile(dir, 'c1'), { exitCode: 143, finishedAt: when });
  });

  it('rejects a file that does not hold a number', async () => {
    const dir = mkdtempSync(join(base, 'bad-'));
    writeFileSync(join(dir, 'c1'), 'garbage');
    await assert.rejects(readExitFile(dir, 'c1'), /does not hold a number/);
  });

  it('is undefined when the exit dir itself is missing', async () => {
    assert.equal(await readExitFile(join(base, 'nope'), 'c1'), undefined);
  });

  it('reads what writeExitFile recorded for a container whose conmon died, and no temp file stays', async () => {
    const dir = mkdtempSync(join(base, 'write-'));
    await writeExitFile(dir, 'c1', 255);
    assert.equal((await readExitFile(dir, 'c1'))?.exitCode, 255);
    assert.deepEqual(readdirSync(dir), ['c1']);
  });
});


describe('process helpers', () => {
  it('reads the parent pid from /proc', async () => {
    assert.equal(await parentPidOf(process.pid), process.ppid);
    assert.equal(await parentPidOf(2 ** 22 + 1), undefined);
  });

  it('tells live processes from absent ones', () => {
    assert.equal(isProcessAlive(process.pid), true);
    assert.equal(isProcessAlive(2 ** 22 + 1), false);
    assert.equal(isProcessAlive(0), false);
  });

  it('reads pid files', async () => {
    const file = join(base, 'pidfile');
    assert.equal(await readPidFile(file), undefined);
    writeFileSync(file, '4242\n');
    assert.equal(await readPidFile(file), 4242);
    writeFileSync(file, 'x');
    await assert.rejects(readPidFile(file), /does not hold a pid/);
  });

  it('resolves executables by PATH or path', () => {
    assert.equal(resolveExecutable('sh', '/nonexistent:/bin'), '/bin/sh');
    assert.equal(resolveExecutable('/bin/sh'), '/bin/sh');
    assert.throws(() => resolveExecutable('no-such-binary-berth', '/bin'), /not found in PATH/);
  });

  it('detects the oom marker in the persist dir or the bundle', async () => {
    const persist = mkdtempSync(join(base, 'persist-'));
    const bundle = mkdtempSync(join(base, 'bundle-'));
    assert.equal(await wasOomKilled(persist, bundle), false);
    writeFileSync(join(bundle, 'oom'), '');
    assert.equal(await wasOomKilled(persist, bundle), true);
    assert.equal(await wasOomKilled(persist), false);
    writeFileSync(join(persist, 'oom'), '');
    assert.equal(await wasOomKilled(persist), true);
  });
});
