import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { spawnChild, type Child } from '../../src/core/sys/spawn.js';

function collect(stream: Readable | null): Promise<string> {
  assert.ok(stream, 'the stream exists');
  let text = '';
  stream.on('data', (chunk: Buffer) => (text += chunk.toString()));
  return once(stream, 'end').then(() => text);
}

/** Resolves with 'close''s arguments (exit code, signal name), also after an 'error'. */
function closed(child: Child): Promise<[number | null, NodeJS.Signals | null]> {
  return new Promise((resolve) => child.once('close', (code: number | null, signal: NodeJS.Signals | null) => resolve([code, signal])));
}

/** The "SigBlk"/"SigIgn"/... lines of a shell started by `start`, read from its own /proc/self/status. */
async function signalState(start: (args: string[]) => Child | ReturnType<typeof spawn>): Promise<Record<string, string>> {
  const child = start(['-c', 'grep -E "^Sig(Blk|Ign)" /proc/self/status']);
  const text = await collect(child.stdout);
  return Object.fromEntries(text.trim().split('\n').map((line) => line.split(/:\s+/) as [string, string]));
}

describe('spawnChild', () => {
  it('runs a program with our input, keeps stdout and stderr apart and reports its exit status', async () => {
    const child = spawnChild('sh', ['-c', 'cat; echo to-stderr >&2; exit 3']);
    const [out, err] = [collect(child.stdout), collect(child.stderr)];
    const exited = once(child, 'exit');
    child.stdin.end('from-stdin\n');
    assert.deepEqual(await closed(child), [3, null]);
    assert.deepEqual(await exited, [3, null]);
    assert.equal(await out, 'from-stdin\n');
    assert.equal(await err, 'to-stderr\n');
    assert.equal(child.exitCode, 3);
  });

  it('reports a signal by name and kill() is false once the child is gone', async () => {
    const child = spawnChild('sleep', ['30'], { stdio: ['ignore', 'ignore', 'ignore'] });
    assert.ok(child.pid! > 0);
    assert.equal(child.kill('SIGKILL'), true);
    assert.deepEqual(await closed(child), [null, 'SIGKILL']);
    assert.equal(child.signalCode, 'SIGKILL');
    assert.equal(child.kill('SIGKILL'), false);
  });

  it('a missing program is an ENOENT error event, then close, as child_process does', async () => {
    for (const file of ['/nonexistent/berth-program', 'berth-no-such-program']) {
      const child = spawnChild(file, ['x']);
      const closing = closed(child);
      const [error] = (await once(child, 'error')) as [NodeJS.ErrnoException];
      assert.equal(error.code, 'ENOENT');
      assert.match(error.message, /ENOENT/);
      assert.equal(child.pid, undefined);
      // The pipes exist anyway: writes go nowhere, reads end at once.
      child.stdin.end('ignored');
      assert.equal(await collect(child.stdout), '');
      assert.deepEqual(await closing, [-2, null]);
    }
  });

  it('hands over descriptors of ours, /dev/null and extra pipes at the numbers asked for', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'berth-spawn-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const file = join(dir, 'out');
    const fd = openSync(file, 'w');
    const child = spawnChild(
      'sh',
      ['-c', 'echo to-file; cat <&3 >&4; test -z "$(cat)" && echo stdin-was-empty >&2; ls /proc/self/fd >&2'],
      { stdio: ['ignore', fd, 'pipe', 'pipe', 'pipe'] },
    );
    closeSync(fd);
    const [fromFd4, err] = [collect(child.stdio[4] as Readable), collect(child.stderr)];
    (child.stdio[3] as NodeJS.WritableStream).end('through-fd-3');
    assert.deepEqual(await closed(child), [0, null]);
    assert.equal(readFileSync(file, 'utf8'), 'to-file\n');
    assert.equal(await fromFd4, 'through-fd-3');
    const [emptyLine, ...fds] = (await err).trim().split('\n');
    assert.equal(emptyLine, 'stdin-was-empty');
    assert.deepEqual(fds.map(Number).filter((n) => n <= 4), [0, 1, 2, 3, 4]);
    // Nothing of ours beyond what child_process passes on too (descriptors we inherited without close-on-exec).
    const node = spawn('sh', ['-c', 'ls /proc/self/fd'], { stdio: ['ignore', 'pipe', 'pipe', 'pipe', 'pipe'] });
    assert.deepEqual(fds, (await collect(node.stdout)).trim().split('\n'));
  });

  it('passes env and cwd, and starts a session of its own when detached', async () => {
    const child = spawnChild('sh', ['-c', 'echo "$BERTH_VALUE $(pwd) $$ $(cut -d" " -f6 /proc/$$/stat)"'], {
      env: { PATH: process.env.PATH, BERTH_VALUE: 'v1' },
      cwd: '/usr',
      detached: true,
    });
    const [value, cwd, pid, sid] = (await collect(child.stdout)).trim().split(' ');
    assert.deepEqual([value, cwd], ['v1', '/usr']);
    assert.equal(sid, pid, 'the shell leads its own session');
    assert.equal(Number(pid), child.pid);
    await closed(child);
  });

  it('the child starts with no signal blocked or ignored, as one started by child_process does', async () => {
    // Node ignores SIGPIPE itself; neither way of starting a child may pass that (or anything else) on.
    const ours = await signalState((args) => spawnChild('sh', args));
    const nodes = await signalState((args) => spawn('sh', args));
    assert.deepEqual(ours, nodes);
    assert.deepEqual(ours, { SigBlk: '0000000000000000', SigIgn: '0000000000000000' });
  });
});
