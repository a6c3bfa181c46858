import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { TaskService, UNKNOWN_EXIT_CODE } from '../../src/core/runtime/task-service.js';

const base = mkdtempSync(join(tmpdir(), 'berth-settle-'));
after(() => rmSync(base, { recursive: true, force: true }));

// Start-up recovery settles containers whose conmon died, then berthd serves at once:
// the exit must be known by then, or List/Status report a dead container as running.
describe('TaskService.settleUnmonitored', () => {
  it('has the exit recorded in the exit monitor when it returns', async () => {
    const tasks = new TaskService({ stateDir: base, runtimes: { runc: { path: 'runc' } }, systemdCgroup: false });
    const seen: string[] = [];
    tasks.exits.onExit((id) => seen.push(id));
    await tasks.exits.start();
    try {
      const id = 'a'.repeat(64);
      await tasks.settleUnmonitored(id, 'runc');
      assert.equal(tasks.exitInfo(id)?.exitCode, UNKNOWN_EXIT_CODE);
      assert.deepEqual(seen, [id]);
    } finally {
      tasks.exits.close();
    }
  });
});
