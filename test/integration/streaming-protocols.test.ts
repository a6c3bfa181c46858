import assert from 'node:assert/strict';
import { once } from 'node:events';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { StreamingServer } from '../../src/cri/streaming/server.js';
import { HostBackend, openFdCount } from '../support/streaming-fixtures.js';
import { waitUntil } from '../support/wait.js';
import { selfSignedCertificate } from '../support/tls.js';
import { readAll, spdyConnect, wsSession } from '../support/streaming-clients.js';

const CONTAINER = 'c0ffee'.padEnd(64, '0');

function execUrl(server: StreamingServer, cmd: string[], io: { stdin?: boolean; stderr?: boolean; tty?: boolean } = {}): string {
  return server.getExecUrl({ containerId: CONTAINER, cmd, tty: io.tty ?? false, stdin: io.stdin ?? false, stdout: true, stderr: io.stderr ?? !io.tty });
}

function httpStatus(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    http.get(url, { agent: false }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    }).on('error', reject);
  });
}

/** Polls a condition for a bounded time and never fails: the assertion that follows says what went wrong. */
function settle(check: () => boolean | Promise<boolean>): Promise<void> {
  return waitUntil(check, 'a condition', { timeoutMs: 10_000, intervalMs: 20 }).catch(() => undefined);
}

describe('streaming server protocols (in-process WebSocket and SPDY clients)', () => {
  const backend = new HostBackend();
  const server = new StreamingServer({ address: '127.0.0.1', port: 0, backend, streamCreationTimeoutMs: 2_000 });
  let echo: net.Server;

  before(async () => {
    await server.start();
    echo = net.createServer((socket) => socket.pipe(socket));
    echo.listen(0, '127.0.0.1');
    await once(echo, 'listening');
    backend.portMap.set(7000, (echo.address() as AddressInfo).port);
  });

  after(async () => {
    await server.stop();
    await new Promise<void>((resolve) => echo.close(() => resolve()));
  });

  it('v5.channel.k8s.io: stdin with a close frame, split output, exit status on the error channel', async () => {
    const cmd = ['sh', '-c', 'cat; echo err >&2; exit 4'];
    const res = await wsSession(execUrl(server, cmd, { stdin: true }), ['v5.channel.k8s.io', 'v4.channel.k8s.io'], [
      [0, Buffer.from('from stdin\n')],
      [255, Buffer.from([0])],
    ]);
    assert.equal(res.protocol, 'v5.channel.k8s.io');
    assert.equal(res.channels[0], 1, 'the first message opens the stdout channel');
    assert.equal(res.output.get(1)?.toString(), 'from stdin\n');
    assert.equal(res.output.get(2)?.toString(), 'err\n');
    assert.deepEqual(JSON.parse(res.output.get(3)!.toString()), {
      metadata: {},
      status: 'Failure',
      message: 'command terminated with non-zero exit code: error executing command [sh -c cat; echo err >&2; exit 4], exit code 4',
      reason: 'NonZeroExitCode',
      details: { causes: [{ reason: 'ExitCode', message: '4' }] },
    });
  });

  it('v4.channel.k8s.io: a clean exit writes the Success status exactly as kubelet', async () => {
    const res = await wsSession(execUrl(server, ['echo', 'hi']), ['v4.channel.k8s.io'], []);
    assert.equal(res.output.get(1)?.toString(), 'hi\n');
    assert.equal(res.output.get(3)?.toString(), '{"metadata":{},"status":"Success"}');
  });

  it('v4.base64.channel.k8s.io: text frames with base64 payloads', async () => {
    const res = await wsSession(execUrl(server, ['sh', '-c', 'read line; echo "got $line"'], { stdin: true }), ['v4.base64.channel.k8s.io'], [[0, Buffer.from('b64\n')]], {
      base64: true,
    });
    assert.equal(res.protocol, 'v4.base64.channel.k8s.io');
    assert.equal(res.output.get(1)?.toString(), 'got b64\n');
  });

  it('channel.k8s.io (v1): the error channel carries only the message of a failure', async () => {
    const res = await wsSession(execUrl(server, ['sh', '-c', 'exit 2']), ['channel.k8s.io'], []);
    assert.equal(res.output.get(3)?.toString(), 'command terminated with non-zero exit code: error executing command [sh -c exit 2], exit code 2');
  });

  it('tty exec over WebSocket delivers resize messages to the backend', async () => {
    const before = backend.resizes.length;
    const res = await wsSession(execUrl(server, ['sh', '-c', 'read x'], { tty: true, stdin: true }), ['v5.channel.k8s.io'], [
      [4, Buffer.from('{"Width":120,"Height":40}')],
      [0, Buffer.from('go\n')],
    ]);
    assert.equal(res.output.get(3)?.toString(), '{"metadata":{},"status":"Success"}');
    assert.deepEqual(backend.resizes.slice(before), [{ width: 120, height: 40 }]);
  });

  it('port-forward over WebSocket prefixes each channel with the port and relays data', async () => {
    const url = `${server.getPortForwardUrl({ podSandboxId: 'pod' })}?port=7000`;
    const ws = new (await import('ws')).WebSocket(url.replace(/^http/, 'ws'), ['v4.channel.k8s.io']);
    const messages: Buffer[] = [];
    let echoed = '';
    ws.on('message', (data: Buffer) => {
      messages.push(data);
      if (data[0] === 0 && messages.filter((m) => m[0] === 0).length > 1) {
        echoed += data.subarray(1).toString();
        if (echoed === 'ping through the pod') ws.close();
      }
    });
    await once(ws, 'open');
    ws.send(Buffer.concat([Buffer.from([0]), Buffer.from('ping through the pod')]));
    const timer = setTimeout(() => ws.terminate(), 10_000);
    await once(ws, 'close');
    clearTimeout(timer);
    const portPrefix = Buffer.from([7000 & 0xff, 7000 >> 8]);
    assert.deepEqual(messages.find((m) => m[0] === 0)?.subarray(1), portPrefix);
    assert.deepEqual(messages.find((m) => m[0] === 1)?.subarray(1), portPrefix);
    assert.equal(echoed, 'ping through the pod');
  });

  it('port-forward over WebSocket reports a failing port on its error channel', async () => {
    const url = `${server.getPortForwardUrl({ podSandboxId: 'pod' })}?port=7001`;
    const res = await wsSession(url, ['v4.channel.k8s.io'], []);
    assert.match(res.output.get(1)!.subarray(2).toString(), /error forwarding port 7001 to pod pod: nothing listens on port 7001/);
  });

  it('exec over SPDY (in-process client): streams, status and clean close', async () => {
    const { session, protocol } = await spdyConnect(execUrl(server, ['sh', '-c', 'cat; exit 5'], { stdin: true }), ['v4.channel.k8s.io']);
    assert.equal(protocol, 'v4.channel.k8s.io');
    const error = await session.openStream({ streamtype: ['error'] });
    const stdin = await session.openStream({ streamtype: ['stdin'] });
    const stdout = await session.openStream({ streamtype: ['stdout'] });
    const stderr = await session.openStream({ streamtype: ['stderr'] });
    stdin.end('echoed over spdy');
    const [out, err, status] = await Promise.all([readAll(stdout), readAll(stderr), readAll(error)]);
    assert.equal(out.toString(), 'echoed over spdy');
    assert.equal(err.length, 0);
    assert.equal(JSON.parse(status.toString()).details.causes[0].message, '5');
    if (!session.isClosed) await once(session, 'close');
  });

  it('SPDY upgrade: no common protocol is refused with 403 and the accepted list', async () => {
    await assert.rejects(spdyConnect(execUrl(server, ['true']), ['v9.channel.k8s.io']), (err: Error & { status?: number }) => {
      assert.equal(err.status, 403);
      assert.match(err.message, /unable to negotiate protocol/);
      return true;
    });
  });

  it('SPDY: a client that never opens its streams is dropped and nothing runs', async () => {
    const calls = backend.execCalls;
    const { session } = await spdyConnect(execUrl(server, ['true']), ['v4.channel.k8s.io']);
    await session.openStream({ streamtype: ['error'] });
    if (!session.isClosed) await once(session, 'close');
    assert.equal(backend.execCalls, calls);
  });

  it('tokens are single use: a reused token gets 404 and runs nothing', async () => {
    const url = execUrl(server, ['echo', 'once']);
    const first = await wsSession(url, ['v4.channel.k8s.io'], []);
    assert.equal(first.output.get(1)?.toString(), 'once\n');
    const calls = backend.execCalls;
    await assert.rejects(wsSession(url, ['v4.channel.k8s.io'], []), /HTTP 404/);
    await assert.rejects(spdyConnect(url, ['v4.channel.k8s.io']), /HTTP 404/);
    assert.equal(await httpStatus(url), 404);
    assert.equal(backend.execCalls, calls);
  });

  it('unknown tokens, wrong paths and plain GETs are refused', async () => {
    const base = server.baseUrl;
    assert.equal(await httpStatus(`${base}/exec/not-a-token`), 404);
    const attachUrl = server.getAttachUrl({ containerId: CONTAINER, tty: false, stdin: false, stdout: true, stderr: false });
    // An attach token is no good on the exec path, and using it burns it.
    assert.equal(await httpStatus(attachUrl.replace('/attach/', '/exec/')), 404);
    assert.equal(await httpStatus(attachUrl), 404);
    assert.equal(await httpStatus(execUrl(server, ['true'])), 400);
  });

  it('expired tokens get 404 and run nothing', async () => {
    const shortLived = new StreamingServer({ address: '127.0.0.1', port: 0, backend, tokenTtlMs: 1 });
    await shortLived.start();
    try {
      const url = shortLived.getExecUrl({ containerId: CONTAINER, cmd: ['true'], tty: false, stdin: false, stdout: true, stderr: false });
      await sleep(20);
      const calls = backend.execCalls;
      await assert.rejects(wsSession(url, ['v4.channel.k8s.io'], []), /HTTP 404/);
      assert.equal(backend.execCalls, calls);
    } finally {
      await shortLived.stop();
    }
  });

  it('a client that vanishes mid-exec aborts the backend call', async () => {
    const aborts = backend.aborts;
    const { WebSocket } = await import('ws');
    const ws = new WebSocket(execUrl(server, ['sleep', '30']).replace(/^http/, 'ws'), ['v5.channel.k8s.io']);
    await once(ws, 'message');
    ws.terminate();
    await settle(() => backend.aborts > aborts && server.activeSessions === 0);
    assert.equal(backend.aborts, aborts + 1);
    assert.equal(server.activeSessions, 0);
  });

  it('a SPDY client that vanishes mid-exec aborts the backend call', async () => {
    const aborts = backend.aborts;
    const calls = backend.execCalls;
    const { session, socket } = await spdyConnect(execUrl(server, ['sleep', '30'], { stderr: false }), ['v4.channel.k8s.io']);
    await session.openStream({ streamtype: ['error'] });
    await session.openStream({ streamtype: ['stdout'] });
    await settle(() => backend.execCalls > calls);
    assert.equal(server.activeSessions, 1);
    socket.destroy();
    await settle(() => backend.aborts > aborts && server.activeSessions === 0);
    assert.equal(backend.aborts, aborts + 1);
  });

  it('stop() ends running sessions and tells the backend', async () => {
    const other = new StreamingServer({ address: '127.0.0.1', port: 0, backend });
    await other.start();
    const aborts = backend.aborts;
    const { WebSocket } = await import('ws');
    const ws = new WebSocket(execUrl(other, ['sleep', '30']).replace(/^http/, 'ws'), ['v5.channel.k8s.io']);
    ws.on('error', () => undefined);
    await once(ws, 'message');
    await other.stop();
    assert.equal(backend.aborts, aborts + 1);
    assert.equal(other.activeSessions, 0);
    if (ws.readyState !== WebSocket.CLOSED) await once(ws, 'close');
  });

  it('serves https/wss when given a certificate', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'berth-stream-tls-'));
    const { cert, key } = await selfSignedCertificate(dir);
    const tlsServer = new StreamingServer({ address: '127.0.0.1', port: 0, backend, tls: { cert, key } });
    try {
      const base = await tlsServer.start();
      assert.match(base, /^https:\/\/127\.0\.0\.1:\d+$/);
      const url = tlsServer.getExecUrl({ containerId: CONTAINER, cmd: ['echo', 'over tls'], tty: false, stdin: false, stdout: true, stderr: false });
      const res = await wsSession(url, ['v4.channel.k8s.io'], [], { ca: cert });
      assert.equal(res.output.get(1)?.toString(), 'over tls\n');
      const spdyUrl = tlsServer.getExecUrl({ containerId: CONTAINER, cmd: ['echo', 'spdy over tls'], tty: false, stdin: false, stdout: true, stderr: false });
      const { session } = await spdyConnect(spdyUrl, ['v4.channel.k8s.io'], { ca: cert });
      const error = await session.openStream({ streamtype: ['error'] });
      const stdout = await session.openStream({ streamtype: ['stdout'] });
      const [out] = await Promise.all([readAll(stdout), readAll(error)]);
      assert.equal(out.toString(), 'spdy over tls\n');
      if (!session.isClosed) await once(session, 'close');
    } finally {
      await tlsServer.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('100 sequential exec sessions (WebSocket and SPDY) leave no open descriptors behind', async () => {
    const once1 = async (i: number): Promise<void> => {
      if (i % 2 === 0) {
        const res = await wsSession(execUrl(server, ['echo', String(i)]), ['v5.channel.k8s.io'], []);
        assert.equal(res.output.get(1)?.toString(), `${i}\n`);
      } else {
        const { session } = await spdyConnect(execUrl(server, ['echo', String(i)], { stderr: false }), ['v4.channel.k8s.io']);
        const error = await session.openStream({ streamtype: ['error'] });
        const stdout = await session.openStream({ streamtype: ['stdout'] });
        const [out] = await Promise.all([readAll(stdout), readAll(error)]);
        if (!session.isClosed) await once(session, 'close');
        assert.equal(out.toString(), `${i}\n`);
      }
    };
    for (let i = 0; i < 4; i++) await once1(i); // warm up lazily opened handles
    await settle(() => server.activeSessions === 0);
    const before = await openFdCount();
    for (let i = 0; i < 100; i++) await once1(i);
    await settle(async () => server.activeSessions === 0 && (await openFdCount()) <= before);
    assert.equal(server.activeSessions, 0);
    assert.ok((await openFdCount()) <= before, `descriptors grew from ${before} to ${await openFdCount()}`);
  });
});
