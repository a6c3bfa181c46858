import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NotFoundError } from '../../src/core/errors.js';
import { resolveExecutable } from '../../src/core/runtime/binary.js';
import { RuncRuntime } from '../../src/core/runtime/oci-runtime.js';

function crunInstalled(): boolean {
  try {
    resolveExecutable('crun');
    return true;
  } catch {
    return false;
  }
}

// crun shares runc's command line; on this hybrid-cgroup host it cannot run containers,
// so only the verbs that need no cgroups are exercised.
describe('the same driver parametrised with crun', { skip: crunInstalled() ? false : 'crun is not installed', timeout: 30_000 }, () => {
  let base: string;
  let crun: RuncRuntime;
  before(() => {
    base = mkdtempSync(join(tmpdir(), 'berth-crun-'));
    crun = new RuncRuntime({ path: 'crun', root: join(base, 'crun') });
  });
  after(() => rmSync(base, { recursive: true, force: true }));

  it('is named after its binary', () => {
    assert.equal(crun.name, 'crun');
  });

  it('lists nothing in an empty root', async () => {
    assert.deepEqual(await crun.list(), []);
  });

  it('maps crun unknown-container errors like runc ones', async () => {
    assert.equal(await crun.state('berth-missing'), undefined);
    await assert.rejects(crun.kill('berth-missing', 'SIGKILL'), (err: unknown) => err instanceof NotFoundError);
    await assert.rejects(crun.start('berth-missing'), (err: unknown) => err instanceof NotFoundError);
    await crun.delete('berth-missing', { force: true });
  });
});
