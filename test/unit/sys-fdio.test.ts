import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, readSync, writeSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { FdStream } from '../../src/core/sys/fd-stream.js';
import { getWindowSize, isSysError, openPty, readFd, seqpacketConnect, setWindowSize, writeFd } from '../../src/core/sys/native.js';

async function collect(stream: FdStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  stream.on('data', (chunk: Buffer) => chunks.push(chunk));
  await once(stream, 'end');
  return Buffer.concat(chunks);
}

describe('native descriptor I/O', () => {
  it('opens a pty whose size can be set and read back from either side', () => {
    const pty = openPty();
    try {
      assert.match(pty.path, /^\/dev\/pts\/\d+$/);
      setWindowSize(pty.master, 33, 91);
      assert.deepEqual(getWindowSize(pty.slave), { rows: 33, cols: 91 });
      assert.throws(() => setWindowSize(pty.master, 70_000, 1), /16 bits/);
    } finally {
      closeSync(pty.master);
      closeSync(pty.slave);
    }
  });

  it('reads and writes without blocking: undefined or -1 when nothing can move', () => {
    const pty = openPty();
    try {
      assert.equal(readFd(pty.master, 1024), undefined);
      writeSync(pty.slave, 'from the slave\n');
      assert.equal(readFd(pty.master, 1024)?.toString(), 'from the slave\r\n');
      assert.equal(writeFd(pty.master, Buffer.from('typed\n')), 6);
      const buf = Buffer.alloc(64);
      assert.equal(buf.subarray(0, readSync(pty.slave, buf)).toString(), 'typed\n');
    } finally {
      closeSync(pty.master);
      closeSync(pty.slave);
    }
  });

  it('seqpacketConnect names the missing socket, also past the 108-byte address limit', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'berth-fdio-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const deep = join(dir, 'd'.repeat(100));
    await mkdir(deep);
    for (const path of [join(dir, 'attach'), join(deep, 'attach'), join(dir, 'missing'.repeat(20), 'attach')]) {
      assert.throws(
        () => seqpacketConnect(path),
        (err: unknown) => isSysError(err, 'ENOENT') && err.path === path,
      );
    }
  });
});

describe('FdStream over a pty master', () => {
  it('delivers everything a program writes, then ends when the last slave closes (EIO)', async () => {
    const pty = openPty();
    const size = 1_000_000;
    const child = spawn('sh', ['-c', `head -c ${size} /dev/zero | tr '\\0' a`], { stdio: ['ignore', pty.slave, 'ignore'] });
    closeSync(pty.slave);
    const master = new FdStream(pty.master, { endWrite: 'none', eioIsEnd: true });
    const [output] = await Promise.all([collect(master), once(child, 'exit')]);
    assert.equal(output.length, size);
    assert.ok(output.every((byte) => byte === 0x61));
    master.destroy();
    await once(master, 'close');
  });

  it('waits for the terminal to take input when its buffer is full (EAGAIN), losing nothing', async () => {
    const pty = openPty();
    // Raw mode first, so the line discipline neither echoes nor holds lines back.
    assert.equal(spawnSync('stty', ['raw', '-echo'], { stdio: [pty.slave, 'ignore', 'ignore'] }).status, 0);
    const size = 1_000_000;
    const child = spawn('sh', ['-c', `head -c ${size} | wc -c`], { stdio: [pty.slave, pty.slave, 'ignore'] });
    closeSync(pty.slave);
    const master = new FdStream(pty.master, { endWrite: 'none', eioIsEnd: true });
    const output = collect(master);
    const chunk = Buffer.alloc(64 * 1024, 0x62);
    for (let sent = 0; sent < size; sent += chunk.length) {
      if (!master.write(chunk.subarray(0, Math.min(chunk.length, size - sent)))) await once(master, 'drain');
    }
    await once(child, 'exit');
    assert.equal((await output).toString().trim(), String(size));
    master.destroy();
  });

  it('closes its descriptor when destroyed', async () => {
    const pty = openPty();
    const master = new FdStream(pty.master, { endWrite: 'none', eioIsEnd: true });
    master.resume();
    master.destroy();
    await once(master, 'close');
    assert.throws(() => readFd(pty.master, 1), (err: unknown) => isSysError(err, 'EBADF'));
    closeSync(pty.slave);
  });
});
