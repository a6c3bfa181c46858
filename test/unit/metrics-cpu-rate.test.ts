import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CpuRateTracker } from '../../src/core/metrics/cpu-rate.js';

const SECOND = 1_000_000_000n;

describe('CpuRateTracker', () => {
  it('computes usage_nano_cores from two samples', () => {
    const tracker = new CpuRateTracker();
    assert.equal(tracker.update('c1', { timestamp: 10n * SECOND, usageCoreNanoSeconds: 4n * SECOND }), undefined);
    // 1.5 s of CPU over 2 s of wall time = 0.75 cores
    assert.equal(tracker.update('c1', { timestamp: 12n * SECOND, usageCoreNanoSeconds: 5_500_000_000n }), 750_000_000);
    assert.equal(tracker.last('c1'), 750_000_000);
    // two busy cores
    assert.equal(tracker.update('c1', { timestamp: 13n * SECOND, usageCoreNanoSeconds: 7_500_000_000n }), 2_000_000_000);
  });

  it('keeps ids apart and returns the cached rate for a sample that is not newer', () => {
    const tracker = new CpuRateTracker();
    tracker.update('a', { timestamp: 0n, usageCoreNanoSeconds: 0n });
    tracker.update('b', { timestamp: 0n, usageCoreNanoSeconds: 0n });
    assert.equal(tracker.update('a', { timestamp: SECOND, usageCoreNanoSeconds: SECOND / 4n }), 250_000_000);
    assert.equal(tracker.update('b', { timestamp: SECOND, usageCoreNanoSeconds: SECOND }), 1_000_000_000);
    assert.equal(tracker.update('a', { timestamp: SECOND, usageCoreNanoSeconds: SECOND }), 250_000_000);
  });

  it('restarts the series when the counter goes backwards', () => {
    const tracker = new CpuRateTracker();
    tracker.update('c', { timestamp: 0n, usageCoreNanoSeconds: 10n * SECOND });
    assert.equal(tracker.update('c', { timestamp: SECOND, usageCoreNanoSeconds: SECOND }), undefined);
    assert.equal(tracker.update('c', { timestamp: 2n * SECOND, usageCoreNanoSeconds: 2n * SECOND }), 1_000_000_000);
  });

  it('evicts ids not sampled for 10 minutes, and forgets on request', () => {
    let now = 0;
    const tracker = new CpuRateTracker({ nowMs: () => now });
    tracker.update('old', { timestamp: 0n, usageCoreNanoSeconds: 0n });
    now = 5 * 60_000;
    tracker.update('fresh', { timestamp: 0n, usageCoreNanoSeconds: 0n });
    now = 10 * 60_000 + 1;
    tracker.update('fresh', { timestamp: SECOND, usageCoreNanoSeconds: 0n });
    assert.equal(tracker.size, 1);
    assert.equal(tracker.update('old', { timestamp: SECOND, usageCoreNanoSeconds: SECOND }), undefined, 'evicted: starts over');
    tracker.forget('old');
    tracker.forget('fresh');
    assert.equal(tracker.size, 0);
  });
});
