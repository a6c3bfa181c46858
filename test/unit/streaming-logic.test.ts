import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InvalidArgumentError } from '../../src/core/errors.js';
import type { StreamingBackend } from '../../src/cri/streaming/backend.js';
import { negotiate, remoteCommandVersion, splitHeaderList } from '../../src/cri/streaming/protocols.js';
import { expectedStreamTypes } from '../../src/cri/streaming/remotecommand.js';
import { RequestCache, TooManyPendingRequestsError } from '../../src/cri/streaming/request-cache.js';
import { StreamingServer } from '../../src/cri/streaming/server.js';
import { encodeStatus, exitErrorText, internalErrorStatus, nonZeroExitStatus, successStatus } from '../../src/cri/streaming/status.js';
import { TerminalResizes, TerminalSizeDecoder } from '../../src/cri/streaming/terminal-size.js';

describe('Kubernetes Status documents', () => {
  it('match kubelet byte for byte', () => {
    assert.equal(encodeStatus(successStatus()).toString(), '{"metadata":{},"status":"Success"}');
    assert.equal(
      encodeStatus(nonZeroExitStatus(3, exitErrorText(['sh', '-c', 'exit 3'], 3))).toString(),
      '{"metadata":{},"status":"Failure","message":"command terminated with non-zero exit code: error executing command [sh -c exit 3], exit code 3",' +
        '"reason":"NonZeroExitCode","details":{"causes":[{"reason":"ExitCode","message":"3"}]}}',
    );
    assert.equal(
      encodeStatus(internalErrorStatus('boom')).toString(),
      '{"metadata":{},"status":"Failure","message":"Internal error occurred: boom","reason":"InternalError","details":{"causes":[{"message":"boom"}]},"code":500}',
    );
  });
});

describe('request cache', () => {
  it('hands each token out once', () => {
    const cache = new RequestCache(60_000);
    const token = cache.insert({ kind: 'portforward', request: { podSandboxId: 'p' } });
    assert.match(token, /^[A-Za-z0-9_-]{24}$/);
    assert.deepEqual(cache.consume(token), { kind: 'portforward', request: { podSandboxId: 'p' } });
    assert.equal(cache.consume(token), undefined);
    assert.equal(cache.consume('never-issued'), undefined);
  });

  it('expires tokens after the TTL', () => {
    let now = 1_000;
    const cache = new RequestCache(60_000, 10, () => now);
    const early = cache.insert({ kind: 'portforward', request: { podSandboxId: 'a' } });
    const late = cache.insert({ kind: 'portforward', request: { podSandboxId: 'b' } });
    now += 59_999;
    assert.ok(cache.consume(early));
    now += 1;
    assert.equal(cache.consume(late), undefined);
  });

  it('bounds the number of pending tokens, counting expired ones out', () => {
    let now = 0;
    const cache = new RequestCache(100, 2, () => now);
    cache.insert({ kind: 'portforward', request: { podSandboxId: 'a' } });
    cache.insert({ kind: 'portforward', request: { podSandboxId: 'b' } });
    assert.throws(() => cache.insert({ kind: 'portforward', request: { podSandboxId: 'c' } }), TooManyPendingRequestsError);
    now = 100;
    assert.equal(cache.size, 0);
    assert.ok(cache.insert({ kind: 'portforward', request: { podSandboxId: 'c' } }));
  });
});

describe('terminal resizes', () => {
  it('replays the newest size to a late subscriber, then reports every change until unsubscribed', () => {
    const resizes = new TerminalResizes();
    const early: Array<{ width: number; height: number }> = [];
    resizes.subscribe((size) => early.push(size));
    resizes.push({ width: 80, height: 24 });
    resizes.push({ width: 100, height: 30 });
    const late: Array<{ width: number; height: number }> = [];
    const unsubscribe = resizes.subscribe((size) => late.push(size));
    resizes.push({ width: 120, height: 40 });
    unsubscribe();
    resizes.push({ width: 1, height: 1 });
    assert.deepEqual(late, [{ width: 100, height: 30 }, { width: 120, height: 40 }]);
    assert.equal(early.length, 4);
  });

  it('tells a subscriber nothing before the first size arrives', () => {
    const seen: unknown[] = [];
    new TerminalResizes().subscribe((size) => seen.push(size));
    assert.deepEqual(seen, []);
  });
});

describe('terminal size decoder', () => {
  it('decodes back-to-back documents split anywhere, case-insensitively', () => {
    const decoder = new TerminalSizeDecoder();
    const wire = '{"Width":80,"Height":24}\n{"width":100,"height":50}{"Width":1}{bad json}{"Width":7,"Height":8}';
    const sizes = [];
    for (const ch of wire) sizes.push(...decoder.push(ch));
    assert.deepEqual(sizes, [
      { width: 80, height: 24 },
      { width: 100, height: 50 },
      { width: 7, height: 8 },
    ]);
  });
});

describe('protocol negotiation', () => {
  it('follows the client preference among what the server supports', () => {
    assert.equal(negotiate(['v5.channel.k8s.io', 'v4.channel.k8s.io'], ['v4.channel.k8s.io', 'v5.channel.k8s.io']), 'v5.channel.k8s.io');
    assert.equal(negotiate(['v9'], ['v4.channel.k8s.io']), undefined);
    assert.deepEqual(splitHeaderList(['v4.channel.k8s.io, v3.channel.k8s.io', 'channel.k8s.io']), ['v4.channel.k8s.io', 'v3.channel.k8s.io', 'channel.k8s.io']);
    assert.equal(remoteCommandVersion('v5.channel.k8s.io'), 5);
    assert.equal(remoteCommandVersion('v4.base64.channel.k8s.io'), 4);
    assert.equal(remoteCommandVersion('channel.k8s.io'), 1);
    assert.equal(remoteCommandVersion(''), 1);
  });

  it('expects the streams kubelet expects', () => {
    const base = { containerId: 'c', tty: false, stdin: true, stdout: true, stderr: true };
    assert.deepEqual([...expectedStreamTypes(base, 4)].sort(), ['error', 'stderr', 'stdin', 'stdout']);
    assert.deepEqual([...expectedStreamTypes({ ...base, tty: true, stderr: false }, 4)].sort(), ['error', 'resize', 'stdin', 'stdout']);
    assert.deepEqual([...expectedStreamTypes({ ...base, tty: true, stderr: false }, 2)].sort(), ['error', 'stdin', 'stdout']);
  });
});

describe('streaming server request validation', () => {
  const backend: StreamingBackend = {
    exec: async () => 0,
    attach: async () => undefined,
    portForward: async () => undefined,
  };
  const server = new StreamingServer({ address: '127.0.0.1', port: 0, backend });
  const io = { tty: false, stdin: false, stdout: true, stderr: false };

  it('rejects malformed requests as InvalidArgument', () => {
    assert.throws(() => server.getExecUrl({ containerId: '', cmd: ['true'], ...io }), InvalidArgumentError);
    assert.throws(() => server.getExecUrl({ containerId: 'c', cmd: [], ...io }), /cmd is required/);
    assert.throws(() => server.getExecUrl({ containerId: 'c', cmd: ['sh'], ...io, tty: true, stderr: true }), /tty and stderr cannot both be true/);
    assert.throws(() => server.getAttachUrl({ containerId: 'c', tty: false, stdin: false, stdout: false, stderr: false }), /one of stdin, stdout, or stderr/);
    assert.throws(() => server.getPortForwardUrl({ podSandboxId: '' }), InvalidArgumentError);
  });

  it('refuses to hand out URLs before it listens', () => {
    assert.throws(() => server.getExecUrl({ containerId: 'c', cmd: ['true'], ...io }), /not started/);
  });
});
