// Pieces of berthctl that need no daemon: the ingest meter on a real content store,
// the push progress display and the formatting helpers.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { LocalContentStore } from '../../src/core/content/local-store.js';
import { formatTable, humanSize, parseUserFlag, shortId } from '../../src/ctl/format.js';
import { UsageError } from '../../src/ctl/globals.js';
import { barLine, IngestMeter, TransferProgress, type ProgressOutput } from '../../src/ctl/progress.js';

const digestOf = (data: Buffer): string => `sha256:${createHash('sha256').update(data).digest('hex')}`;

class Capture implements ProgressOutput {
  text = '';
  constructor(readonly isTTY: boolean) {}
  write(chunk: string): boolean {
    this.text += chunk;
    return true;
  }
}

describe('IngestMeter on a real content store', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'berth-ctl-meter-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('counts bytes written since it started, keeps counting committed blobs and ignores leftovers', async () => {
    const store = new LocalContentStore(join(dir, 'content'));
    const leftover = Buffer.alloc(5000, 1);
    const old = await store.writer('leftover', { digest: digestOf(leftover), size: leftover.length });
    await old.write(leftover.subarray(0, 3000));
    await old.close(); // an interrupted ingest from before the meter started

    const meter = new IngestMeter(join(dir, 'content'));
    assert.equal(await meter.sample(), 0);

    const data = Buffer.alloc(10_000, 7);
    const writer = await store.writer('layer', { digest: digestOf(data), size: data.length });
    await writer.write(data.subarray(0, 4000));
    assert.equal(await meter.sample(), 4000);
    await writer.write(data.subarray(4000));
    await writer.commit({ digest: digestOf(data), size: data.length });
    // The ingest directory is gone; the committed blob still counts in full.
    assert.equal(await meter.sample(), 10_000);
    assert.equal(await meter.sample(), 10_000);
  });

  it('reads an absent store as zero bytes', async () => {
    assert.equal(await new IngestMeter(join(dir, 'nowhere')).sample(), 0);
  });
});

describe('TransferProgress', () => {
  const a = `sha256:${'a'.repeat(64)}`;
  const b = `sha256:${'b'.repeat(64)}`;

  it('prints one plain line per finished blob when not on a TTY', () => {
    const out = new Capture(false);
    const progress = new TransferProgress(out);
    progress.add(a, 2048);
    progress.add(b, 10);
    progress.setSent(a, 1024);
    assert.equal(out.text, '');
    progress.setState(a, 'done');
    progress.setState(b, 'exists');
    progress.finish();
    assert.equal(out.text, `${a}  pushed 2048 bytes\n${b}  already present\n`);
  });

  it('redraws every blob line in place on a TTY', () => {
    const out = new Capture(true);
    const progress = new TransferProgress(out, 60_000);
    progress.add(a, 2048);
    progress.add(b, 10);
    progress.setSent(a, 1024);
    progress.finish();
    const first = out.text;
    assert.equal(first.split('\n').length - 1, 2);
    assert.match(first, /aaaaaaaaaaaa  \[={15}>\s+\]  1\.0 KiB \/ 2\.0 KiB\s+uploading/);
    assert.match(first, /bbbbbbbbbbbb  \[>\s+\]  0 B \/ 10 B\s+waiting/);
    progress.setState(a, 'done');
    progress.finish();
    // The second drawing moves the cursor up over the two lines drawn before.
    assert.ok(out.text.slice(first.length).startsWith('\x1b[2A'), JSON.stringify(out.text.slice(first.length, first.length + 10)));
    assert.match(out.text.slice(first.length), /\[={30}\]  2\.0 KiB \/ 2\.0 KiB\s+done/);
  });

  it('draws a full bar for a finished empty blob', () => {
    assert.match(barLine({ digest: a, total: 0, sent: 0, state: 'exists' }), /\[={30}\]/);
  });
});

describe('berthctl formatting', () => {
  it('formats sizes, ids and tables', () => {
    assert.equal(humanSize(512), '512 B');
    assert.equal(humanSize(1536), '1.5 KiB');
    assert.equal(humanSize(3 * 1024 * 1024), '3.0 MiB');
    assert.equal(shortId(`sha256:${'0123456789ab'.repeat(5)}abcd`), '0123456789ab');
    assert.equal(formatTable(['A', 'BB'], [['long-value', 'x']]), 'A            BB\nlong-value   x\n');
  });

  it('splits --user at the first colon and refuses a value without one', () => {
    assert.deepEqual(parseUserFlag('me:pa:ss'), { username: 'me', password: 'pa:ss' });
    assert.throws(() => parseUserFlag('me'), UsageError);
    assert.throws(() => parseUserFlag(':secret'), (err: Error) => err instanceof UsageError && !err.message.includes('secret'));
  });
});
