import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { StreamingServer } from '../../src/cri/streaming/server.js';
import { HostBackend, crictlArgs, freePort, runWithInput, startCriStub, type CriStub } from '../support/streaming-fixtures.js';

const CONTAINER = 'c0ffee'.padEnd(64, '0');
const POD = 'beef'.padEnd(64, '1');

function crictl(stub: CriStub, args: string[], input?: string | Buffer) {
  return runWithInput('crictl', crictlArgs(stub.socket, args), input);
}

/** Starts a long-running `crictl port-forward` and waits until it listens. */
async function startPortForward(stub: CriStub, args: string[]): Promise<ChildProcess> {
  const child = spawn('crictl', crictlArgs(stub.socket, ['port-forward', ...args]), { stdio: ['ignore', 'pipe', 'pipe'] });
  let seen = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`crictl port-forward did not start: ${seen}`)), 30_000);
    const onData = (chunk: Buffer): void => {
      seen += chunk.toString();
      if (seen.includes('Forwarding from')) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', () => {
      clearTimeout(timer);
      reject(new Error(`crictl port-forward exited: ${seen}`));
    });
  });
  return child;
}

function httpGet(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, agent: false, timeout: 30_000 }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error('HTTP request through the port forward timed out')));
    req.on('error', reject);
  });
}

describe('streaming server with crictl (SPDY and WebSocket clients)', () => {
  const backend = new HostBackend();
  const streaming = new StreamingServer({ address: '127.0.0.1', port: 0, backend });
  let stub: CriStub;
  let target: http.Server;
  const children: ChildProcess[] = [];

  before(async () => {
    await streaming.start();
    stub = await startCriStub(streaming);
    target = http.createServer((req, res) => res.end(`hello from the pod: ${req.url}`));
    target.listen(0, '127.0.0.1');
    await once(target, 'listening');
    backend.portMap.set(8080, (target.address() as AddressInfo).port);
  });

  after(async () => {
    for (const child of children) child.kill('SIGKILL');
    await stub?.stop();
    await streaming.stop();
    target.closeAllConnections();
    await new Promise<void>((resolve) => target.close(() => resolve()));
  });

  for (const transport of ['spdy', 'websocket']) {
    it(`exec over ${transport} splits stdout and stderr and returns the exit code`, async () => {
      const res = await crictl(stub, ['exec', '-r', transport, CONTAINER, 'sh', '-c', 'echo out; echo err >&2; exit 3']);
      assert.equal(res.stdout.toString(), 'out\n');
      assert.match(res.stderr, /err\n/);
      // crictl turns the v4 status (reason NonZeroExitCode, cause ExitCode=3) into this message and exits 1.
      assert.match(res.stderr, /command terminated with exit code 3/);
      assert.notEqual(res.code, 0);
    });

    it(`exec -i over ${transport} pipes stdin to the command`, async () => {
      const res = await crictl(stub, ['exec', '-r', transport, '-i', CONTAINER, 'sh', '-c', 'tr a-z A-Z; echo done'], 'piped through stdin\n');
      assert.equal(res.code, 0, res.stderr);
      assert.equal(res.stdout.toString(), 'PIPED THROUGH STDIN\ndone\n');
    });

    it(`exec over ${transport} delivers 5 MiB of output intact`, async () => {
      const size = 5 * 1024 * 1024;
      const res = await crictl(stub, ['exec', '-r', transport, CONTAINER, 'sh', '-c', `yes 0123456789abcdef | head -c ${size}`]);
      assert.equal(res.code, 0, res.stderr);
      assert.equal(res.stdout.length, size);
      const expected = Buffer.from('0123456789abcdef\n'.repeat(Math.ceil(size / 17))).subarray(0, size);
      assert.ok(res.stdout.equals(expected), 'output differs from what the command wrote');
    });

    it(`port-forward over ${transport} carries an HTTP request to the pod port`, async () => {
      const local = await freePort();
      const child = await startPortForward(stub, ['-r', transport, POD, `${local}:8080`]);
      children.push(child);
      try {
        for (const path of ['/first', '/second']) {
          const res = await httpGet(local, path);
          assert.equal(res.status, 200);
          assert.equal(res.body, `hello from the pod: ${path}`);
        }
        assert.ok(backend.forwardedPorts.includes(8080));
      } finally {
        child.kill('SIGTERM');
        if (child.exitCode === null) await once(child, 'exit');
      }
    });
  }

  it('exec of a failing command start reports an internal error', async () => {
    const res = await crictl(stub, ['exec', CONTAINER, '/nonexistent/program']);
    assert.notEqual(res.code, 0);
    assert.match(res.stderr, /error executing command in container/);
  });

  it('attach -i over SPDY streams stdin and stdout', async () => {
    const res = await crictl(stub, ['attach', '-i', CONTAINER], 'shout\n');
    assert.equal(res.code, 0, res.stderr);
    assert.equal(res.stdout.toString(), 'attached\nSHOUT\n');
  });

  it('exec -it through a real terminal forwards resizes', async () => {
    const before = backend.resizes.length;
    // script gives crictl a pty, as a person at a terminal would.
    const command = `stty cols 91 rows 33; crictl ${crictlArgs(stub.socket, ['exec', '-it', CONTAINER, 'sh', '-c', 'echo tty-ok'])
      .map((a) => `'${a}'`)
      .join(' ')}`;
    const res = await runWithInput('script', ['-qec', command, '/dev/null']);
    assert.equal(res.code, 0, res.stderr + res.stdout.toString());
    assert.match(res.stdout.toString(), /tty-ok/);
    assert.ok(
      backend.resizes.slice(before).some((s) => s.width === 91 && s.height === 33),
      `no 91x33 resize among ${JSON.stringify(backend.resizes.slice(before))}`,
    );
  });
});
