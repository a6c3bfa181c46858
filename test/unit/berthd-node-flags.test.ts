/** berthd's node flags reach every way it is started: the shebang (used by the systemd unit) and scripts/setup.sh. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { BERTHD_NODE_FLAGS } from '../../src/daemon/node-flags.js';
import { REPO_ROOT } from '../support/daemon.js';

const firstLine = (path: string): string => readFileSync(join(REPO_ROOT, path), 'utf8').split('\n')[0]!;

describe('berthd node flags', () => {
  it('node accepts every flag', () => {
    const run = spawnSync(process.execPath, [...BERTHD_NODE_FLAGS, '-e', '0'], { encoding: 'utf8' });
    assert.equal(run.status, 0, run.stderr);
  });

  it('the bin shebang, source and built, runs node with exactly these flags', () => {
    const expected = `#!/usr/bin/env -S node ${BERTHD_NODE_FLAGS.join(' ')}`;
    assert.equal(firstLine('src/bin/berthd.ts'), expected);
    assert.equal(firstLine('dist/src/bin/berthd.js'), expected);
  });

  it('scripts/setup.sh starts berthd with them', () => {
    const script = readFileSync(join(REPO_ROOT, 'scripts', 'setup.sh'), 'utf8');
    assert.match(script, new RegExp(`^exec node ${BERTHD_NODE_FLAGS.join(' ')} dist/src/bin/berthd\\.js "\\$@"$`, 'm'));
  });
});
