import assert from 'node:assert/strict';
import { request } from 'node:http';
import { describe, it } from 'node:test';
import { InvalidArgumentError } from '../../src/core/errors.js';
import { parseListenAddress, startMetricsServer } from '../../src/core/metrics/http.js';
import { createMetricsRegistry } from '../../src/core/metrics/registry.js';

/** The value of one sample line ("name{labels} value") in the text format. */
function sample(text: string, prefix: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(prefix));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}

function get(url: string, method = 'GET'): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type']), body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('berth metrics registry', () => {
  it('exposes every berth metric and the default process metrics', async () => {
    const metrics = createMetricsRegistry();
    const text = await metrics.registry.metrics();
    for (const name of [
      'berth_grpc_request_duration_seconds',
      'berth_grpc_requests_total',
      'berth_containers',
      'berth_sandboxes',
      'berth_image_pull_bytes_total',
      'berth_image_pull_duration_seconds',
      'process_cpu_seconds_total',
      'nodejs_heap_size_used_bytes',
    ]) {
      assert.match(text, new RegExp(`^# TYPE ${name} `, 'm'), `${name} is exported`);
    }
  });

  it('counts RPCs by method and code and records their latency', async () => {
    const metrics = createMetricsRegistry({ defaultMetrics: false });
    metrics.observeRpc('/runtime.v1.RuntimeService/Version', 'OK', 0.002);
    metrics.observeRpc('/runtime.v1.RuntimeService/Version', 'OK', 0.3);
    metrics.startRpcTimer('/runtime.v1.RuntimeService/ContainerStatus')('NOT_FOUND');
    const text = await metrics.registry.metrics();
    assert.equal(sample(text, 'berth_grpc_requests_total{method="/runtime.v1.RuntimeService/Version",code="OK"}'), 2);
    assert.equal(sample(text, 'berth_grpc_requests_total{method="/runtime.v1.RuntimeService/ContainerStatus",code="NOT_FOUND"}'), 1);
    assert.equal(sample(text, 'berth_grpc_request_duration_seconds_count{method="/runtime.v1.RuntimeService/Version",code="OK"}'), 2);
    assert.equal(sample(text, 'berth_grpc_request_duration_seconds_bucket{le="0.005",method="/runtime.v1.RuntimeService/Version",code="OK"}'), 1);
    assert.equal(sample(text, 'berth_grpc_request_duration_seconds_sum{method="/runtime.v1.RuntimeService/Version",code="OK"}'), 0.302);
  });

  it('records image pulls', async () => {
    const metrics = createMetricsRegistry({ defaultMetrics: false });
    metrics.observeImagePull(1000, 2);
    metrics.observeImagePull(500, 20);
    const text = await metrics.registry.metrics();
    assert.equal(sample(text, 'berth_image_pull_bytes_total '), 1500);
    assert.equal(sample(text, 'berth_image_pull_duration_seconds_count '), 2);
  });

  it('fills the state gauges from the daemon callbacks at each scrape', async () => {
    let running = 3;
    const errors: string[] = [];
    let sandboxesFail = false;
    const metrics = createMetricsRegistry({
      defaultMetrics: false,
      containerStates: () => ({ CONTAINER_RUNNING: running, CONTAINER_EXITED: 1 }),
      sandboxStates: async () => {
        if (sandboxesFail) throw new Error('database closed');
        return { SANDBOX_READY: 2 };
      },
      onCollectError: (metric) => errors.push(metric),
    });
    let text = await metrics.registry.metrics();
    assert.equal(sample(text, 'berth_containers{state="CONTAINER_RUNNING"}'), 3);
    assert.equal(sample(text, 'berth_containers{state="CONTAINER_EXITED"}'), 1);
    assert.equal(sample(text, 'berth_sandboxes{state="SANDBOX_READY"}'), 2);
    running = 5;
    sandboxesFail = true;
    text = await metrics.registry.metrics();
    assert.equal(sample(text, 'berth_containers{state="CONTAINER_RUNNING"}'), 5);
    assert.equal(sample(text, 'berth_sandboxes{state="SANDBOX_READY"}'), undefined, 'a failed callback leaves the gauge empty');
    assert.deepEqual(errors, ['berth_sandboxes']);
  });
});

describe('metrics HTTP server', () => {
  it('parses listen addresses', () => {
    assert.deepEqual(parseListenAddress('127.0.0.1:10361'), { host: '127.0.0.1', port: 10361 });
    assert.deepEqual(parseListenAddress('[::1]:0'), { host: '::1', port: 0 });
    assert.deepEqual(parseListenAddress('localhost:9090'), { host: 'localhost', port: 9090 });
    for (const bad of ['10361', '127.0.0.1', '127.0.0.1:99999', ':80', '::1:80']) {
      assert.throws(() => parseListenAddress(bad), InvalidArgumentError, bad);
    }
  });

  it('serves /metrics in the text format on loopback and stops', async (t) => {
    const metrics = createMetricsRegistry({ defaultMetrics: false });
    metrics.observeRpc('Version', 'OK', 0.01);
    const server = await startMetricsServer(metrics.registry, '127.0.0.1:0');
    t.after(() => server.stop());
    assert.equal(server.host, '127.0.0.1');
    assert.ok(server.port > 0);
    const ok = await get(server.url);
    assert.equal(ok.status, 200);
    assert.match(ok.type, /^text\/plain; version=0\.0\.4/);
    assert.equal(sample(ok.body, 'berth_grpc_requests_total{method="Version",code="OK"}'), 1);
    assert.equal((await get(`http://127.0.0.1:${server.port}/other`)).status, 404);
    assert.equal((await get(server.url, 'POST')).status, 405);
    await server.stop();
    await assert.rejects(get(server.url), /ECONNREFUSED/);
  });

  it('reports a port already in use with the address', async (t) => {
    const metrics = createMetricsRegistry({ defaultMetrics: false });
    const first = await startMetricsServer(metrics.registry, '127.0.0.1:0');
    t.after(() => first.stop());
    await assert.rejects(startMetricsServer(metrics.registry, `127.0.0.1:${first.port}`), /cannot serve metrics on 127\.0\.0\.1:\d+: .*EADDRINUSE/);
  });
});
