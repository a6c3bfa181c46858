import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DeadlineExceededError } from '../../src/core/errors.js';
import { readExitFile } from '../../src/core/runtime/exit-file.js';
import { ExitMonitor, type ObservedExit } from '../../src/core/runtime/exit-monitor.js';

const base = mkdtempSync(join(tmpdir(), 'berth-exitmon-'));
after(() => rmSync(base, { recursive: true, force: true }));

/** Writes the way conmon's g_file_set_contents does: `<id>.XXXXXX`, then a rename. */
function writeExit(dir: string, id: string, code: number): void {
  const tmp = join(dir, `${id}.AB12CD`);
  writeFileSync(tmp, String(code));
  renameSync(tmp, join(dir, id));
}

function monitorOf(dir: string, oomIds: string[] = [], rescanMs = 3000): ExitMonitor {
  return new ExitMonitor({ exitDir: dir, oomKilled: async (id) => oomIds.includes(id), rescanMs });
}

describe('ExitMonitor', () => {
  it('reports exits already on disk at start, once each, with the OOM verdict', async () => {
    const dir = mkdtempSync(join(base, 'start-'));
    writeExit(dir, 'c1', 0);
    writeExit(dir, 'c2', 137);
    const monitor = monitorOf(dir, ['c2']);
    const seen: Array<[string, ObservedExit]> = [];
    monitor.onExit((id, exit) => seen.push([id, exit]));
    await monitor.start();
    try {
      assert.deepEqual(seen.map(([id, e]) => [id, e.exitCode, e.oomKilled]).sort(), [
        ['c1', 0, false],
        ['c2', 137, true],
      ]);
      assert.equal(monitor.get('c2')?.exitCode, 137);
      assert.equal(monitor.get('c3'), undefined);
    } finally {
      monitor.close();
    }
  });

  it('hears a new exit through the watch and wakes its waiters, ignoring temporary names', async () => {
    const dir = mkdtempSync(join(base, 'watch-'));
    const monitor = monitorOf(dir);
    const seen: string[] = [];
    monitor.onExit((id) => seen.push(id));
    await monitor.start();
    try {
      const waiting = monitor.waitFor('c4', 20_000);
      writeFileSync(join(dir, 'c9.XYZ123'), 'not an exit yet');
      writeExit(dir, 'c4', 143);
      assert.equal((await waiting).exitCode, 143);
      assert.deepEqual(seen, ['c4']);
      // A waiter arriving after the fact gets the recorded exit at once.
      assert.equal((await monitor.waitFor('c4', 1)).exitCode, 143);
    } finally {
      monitor.close();
    }
  });

  it('reads again when the exit file appears while a waiter\'s read of it is in flight', async () => {
    const dir = mkdtempSync(join(base, 'race-'));
    let releaseEarlyRead!: () => void;
    const earlyReadMayEnd = new Promise<void>((resolve) => (releaseEarlyRead = resolve));
    let reads = 0;
    const monitor = new ExitMonitor({
      exitDir: dir,
      oomKilled: async () => false,
      rescanMs: 600_000,
      // The waiter's read looks before conmon's rename and is slow to report that it found nothing.
      readExit: async (exitDir, id) => {
        reads++;
        if (reads === 1) {
          await earlyReadMayEnd;
          return undefined;
        }
        return readExitFile(exitDir, id);
      },
    });
    await monitor.start();
    try {
      const waiting = monitor.waitFor('c5', 20_000);
      writeExit(dir, 'c5', 3);
      // Let the watch event arrive while the first read is still in flight.
      await new Promise((resolve) => setTimeout(resolve, 200));
      releaseEarlyRead();
      assert.equal((await waiting).exitCode, 3);
      assert.ok(reads >= 2, `the exit file was read ${reads} time(s)`);
    } finally {
      monitor.close();
    }
  });

  it('times out a waiter with DeadlineExceededError', async () => {
    const dir = mkdtempSync(join(base, 'timeout-'));
    const monitor = monitorOf(dir);
    await monitor.start();
    try {
      await assert.rejects(monitor.waitFor('never', 30), (err: unknown) => err instanceof DeadlineExceededError);
    } finally {
      monitor.close();
    }
  });

  it('forgets a removed container and does not resurrect it', async () => {
    const dir = mkdtempSync(join(base, 'forget-'));
    const monitor = monitorOf(dir, [], 20);
    await monitor.start();
    try {
      writeExit(dir, 'c6', 0);
      await monitor.waitFor('c6', 20_000);
      rmSync(join(dir, 'c6'));
      monitor.forget('c6');
      await new Promise((r) => setTimeout(r, 100));
      assert.equal(monitor.get('c6'), undefined);
    } finally {
      monitor.close();
    }
  });
});
