import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ATTACH_STDIN_MAX, parseAttachFrame, stdinDatagrams } from '../../src/core/runtime/attach-protocol.js';
import { REOPEN_LOGS_MESSAGE, resizeControlMessage } from '../../src/core/runtime/conmon-control.js';

describe('conmon attach datagrams', () => {
  it('names the stream from the first byte and keeps the rest as it came', () => {
    assert.deepEqual(parseAttachFrame(Buffer.from([2, 0x68, 0x69, 0x0a])), { stream: 'stdout', payload: Buffer.from('hi\n') });
    assert.deepEqual(parseAttachFrame(Buffer.from([3, 0, 255])), { stream: 'stderr', payload: Buffer.from([0, 255]) });
    assert.deepEqual(parseAttachFrame(Buffer.from([1, 0x41])), { stream: 'unknown', payload: Buffer.from('A') });
    assert.deepEqual(parseAttachFrame(Buffer.from([2])), { stream: 'stdout', payload: Buffer.alloc(0) });
  });

  it('cuts stdin into datagrams conmon reads whole, in order, never empty', () => {
    const data = Buffer.alloc(ATTACH_STDIN_MAX * 2 + 5, 7);
    data[ATTACH_STDIN_MAX] = 1;
    const pieces = stdinDatagrams(data);
    assert.deepEqual(
      pieces.map((p) => p.length),
      [ATTACH_STDIN_MAX, ATTACH_STDIN_MAX, 5],
    );
    assert.equal(pieces[1]![0], 1);
    assert.deepEqual(Buffer.concat(pieces), data);
    assert.deepEqual(stdinDatagrams(Buffer.alloc(0)), []);
    assert.deepEqual(stdinDatagrams(Buffer.from('abc'), 2), [Buffer.from('ab'), Buffer.from('c')]);
    assert.throws(() => stdinDatagrams(Buffer.from('x'), 0), RangeError);
  });
});

describe('conmon control fifo messages', () => {
  it('puts the height before the width, as conmon reads them', () => {
    assert.equal(resizeControlMessage({ width: 120, height: 40 }), '1 40 120\n');
    assert.equal(resizeControlMessage({ width: 80.9, height: 24.2 }), '1 24 80\n');
    assert.equal(REOPEN_LOGS_MESSAGE, '2 0 0\n');
  });
});
