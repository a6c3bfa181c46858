import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { describe, it } from 'node:test';
import { pseudoRandomBytes } from '../big-image.js';
import { medianOfRounds, type FigureRun } from '../measures.js';
import { rows, type FigureResult } from '../report.js';
import { parseSettings } from '../settings.js';
import { mapLimit, percentile, summarize } from '../stats.js';

describe('stats', () => {
  it('takes nearest-rank percentiles of unsorted samples', () => {
    const samples = Array.from({ length: 100 }, (_, i) => 100 - i);
    assert.equal(percentile(samples, 50), 50);
    assert.equal(percentile(samples, 99), 99);
    assert.equal(percentile(samples, 100), 100);
    assert.equal(percentile([7], 99), 7);
    assert.throws(() => percentile([], 50), /no samples/);
    assert.throws(() => percentile([1], 101), /outside/);
  });

  it('summarizes without reordering the input', () => {
    const samples = [3, 1, 2];
    assert.deepEqual(summarize(samples), { n: 3, p50: 2, p99: 3, mean: 2, min: 1, max: 3 });
    assert.deepEqual(samples, [3, 1, 2]);
  });

  it('bounds concurrency and keeps results in order', async () => {
    let inFlight = 0;
    let peak = 0;
    const out = await mapLimit([5, 1, 4, 2, 3], 2, async (v) => {
      inFlight++;
      peak = Math.max(peak, inFlight);
      await new Promise((r) => setTimeout(r, v));
      inFlight--;
      return v * 10;
    });
    assert.deepEqual(out, [50, 10, 40, 20, 30]);
    assert.equal(peak, 2);
  });
});

describe('settings', () => {
  it('selects figures by name or number and scales down in quick mode', () => {
    const s = parseSettings(['--quick', '--only', 'exec,6'], {});
    assert.equal(s.quick, true);
    assert.deepEqual([...s.only].sort(), ['exec', 'pull']);
    assert.equal(s.scalePods, 20);
    assert.equal(s.cpuWindowSeconds, 20);
    const full = parseSettings([], { BERTH_CPU_PROF: '/tmp/prof' });
    assert.equal(full.only.size, 6);
    assert.equal(full.sequentialPods, 50);
    assert.equal(full.scalePods, 100);
    assert.equal(full.cpuProfDir, '/tmp/prof');
  });

  it('refuses unknown flags and figures with the usage', () => {
    assert.throws(() => parseSettings(['--fast'], {}), /unknown argument "--fast"[\s\S]*usage/);
    assert.throws(() => parseSettings(['--only', 'gpu'], {}), /unknown figure "gpu"/);
    assert.throws(() => parseSettings(['--only', '7'], {}), /unknown figure "7"/);
    assert.throws(() => parseSettings(['--only'], {}), /--only needs a figure/);
  });
});

describe('report rows', () => {
  it('pairs both runtimes by key with the ratio and the winner', () => {
    const result: FigureResult = {
      figure: 'pull',
      number: 6,
      title: 'pull',
      runs: {
        berth: { measures: [
          { key: 'wall', label: 'wall', unit: 'ms', value: 200 },
          { key: 'tput', label: 'tput', unit: 'MB/s', value: 50, higherIsBetter: true },
          { key: 'only', label: 'only berth', unit: 'ms', value: 1 },
        ], detail: {} },
        containerd: { measures: [
          { key: 'wall', label: 'wall', unit: 'ms', value: 100 },
          { key: 'tput', label: 'tput', unit: 'MB/s', value: 100, higherIsBetter: true },
        ], detail: {} },
      },
      errors: {},
    };
    const [wall, tput, only] = rows(result);
    assert.deepEqual(wall, { key: 'wall', label: 'wall', unit: 'ms', berth: 200, containerd: 100, ratio: 2, better: 'containerd' });
    assert.equal(tput!.ratio, 0.5);
    assert.equal(tput!.better, 'containerd');
    assert.equal(only!.ratio, undefined);
    assert.equal(only!.containerd, undefined);
  });
});

describe('big image data', () => {
  it('is deterministic per seed and incompressible', () => {
    const a = pseudoRandomBytes('seed', 1 << 20);
    assert.equal(a.length, 1 << 20);
    assert.deepEqual(a, pseudoRandomBytes('seed', 1 << 20));
    assert.notDeepEqual(a.subarray(0, 64), pseudoRandomBytes('other', 64));
    assert.ok(gzipSync(a).length > a.length * 0.99);
  });
});

describe('medianOfRounds', () => {
  const round = (p50: number, p99: number, n: number): FigureRun => ({
    measures: [
      { key: 'x.p50', label: 'x p50', unit: 'ms', value: p50 },
      { key: 'x.p99', label: 'x p99', unit: 'ms', value: p99 },
    ],
    detail: { n },
  });

  it('reports the median round of each measure and keeps every round in the detail', () => {
    const merged = medianOfRounds([round(10, 30, 1), round(12, 20, 2), round(11, 50, 3)]);
    assert.deepEqual(
      merged.measures.map((m) => [m.key, m.value]),
      [['x.p50', 11], ['x.p99', 30]],
    );
    assert.equal(merged.detail['rounds'], 3);
    assert.equal(merged.detail['round2.n'], 2);
  });

  it('averages the middle two of an even number of rounds and passes a single round through', () => {
    assert.equal(medianOfRounds([round(10, 1, 1), round(14, 1, 1)]).measures[0]!.value, 12);
    const single = round(5, 6, 1);
    assert.equal(medianOfRounds([single]), single);
  });
});
