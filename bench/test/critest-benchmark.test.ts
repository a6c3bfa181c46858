import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { comparisonMarkdown, paramsYaml, summarizeLifecycle } from '../critest-benchmark.js';

describe('critest -benchmark report', () => {
  const results = {
    operationsNames: ['CreatePod', 'StatusPod'],
    numParallel: 1,
    datapoints: [
      { operationsDurationsNs: [100e6, 1e6] },
      { operationsDurationsNs: [300e6, 3e6] },
      { operationsDurationsNs: [200e6, 2e6] },
    ],
  };
  it('summarizes each operation in milliseconds', () => {
    assert.deepEqual(summarizeLifecycle(results), [
      { operation: 'CreatePod', n: 3, p50: 200, p99: 300, mean: 200 },
      { operation: 'StatusPod', n: 3, p50: 2, p99: 3, mean: 2 },
    ]);
  });
  it('puts both runtimes side by side with the p50 ratio; a missing side shows a dash', () => {
    const berth = summarizeLifecycle(results);
    const containerd = summarizeLifecycle({ ...results, datapoints: results.datapoints.map((d) => ({ operationsDurationsNs: d.operationsDurationsNs.map((v) => v * 2) })) });
    const md = comparisonMarkdown({ berth: { pod_benchmark_data: berth, only_berth: berth }, containerd: { pod_benchmark_data: containerd } });
    assert.match(md, /^### pod_benchmark_data$/m);
    assert.match(md, /^\| CreatePod \| 3 \| 200 \| 400 \| 0\.5 \| 300 \| 600 \|$/m);
    assert.match(md, /^\| StatusPod \| 3 \| 2 \| 4 \| 0\.5 \| 3 \| 6 \|$/m);
    assert.match(md, /^\| CreatePod \| 3 \| 200 \| — \| — \| 300 \| — \|$/m);
  });
  it('writes the params as YAML critest reads', () => {
    assert.equal(paramsYaml({
      containersNumber: 1, containersNumberParallel: 1, podsNumber: 2, podsNumberParallel: 1, imagesNumber: 3, imagesNumberParallel: 1,
      imagePullingBenchmarkImage: 'a:1', imageListingBenchmarkImages: ['a:1', 'b:2'],
    }), 'containersNumber: 1\ncontainersNumberParallel: 1\npodsNumber: 2\npodsNumberParallel: 1\nimagesNumber: 3\nimagesNumberParallel: 1\nimagePullingBenchmarkImage: "a:1"\nimageListingBenchmarkImages: ["a:1","b:2"]\n');
  });
});
