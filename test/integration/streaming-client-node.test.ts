import assert from 'node:assert/strict';
import { once } from 'node:events';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { PassThrough } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { Attach, Exec, PortForward, type V1Status } from '@kubernetes/client-node';
import type { WebSocket } from 'ws';
import { BUSYBOX, podConfig, runInPod, startNode, type TestNode } from '../support/cluster.js';
import { FakeTerminal, collect, kubeConfigForStreamingUrl, waitForText } from '../support/client-node.js';
import { awaitSize } from '../support/streaming-fixtures.js';
import { waitForContainerExit, waitUntil } from '../support/wait.js';

// client-node asks for a namespace, pod and container to build the API server's path; berth's token already names them.
const NAMESPACE = 'berth-test';

function closed(ws: WebSocket): Promise<void> {
  return ws.readyState === ws.CLOSED ? Promise.resolve() : once(ws, 'close').then(() => undefined);
}

/** GET through a local port: status and body (busybox httpd sends Content-Length, so the end of the body is known). */
function get(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path, agent: false }, (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        res.on('error', reject);
      })
      .on('error', reject);
  });
}

/**
 * kubectl port-forward's shape with client-node: a local listener; each
 * accepted connection asks the runtime for a fresh single-use URL and hands
 * the socket to PortForward as its input and output.
 */
async function forwardLocally(portForwardUrl: () => Promise<string>, podName: string, port: number) {
  const sessions: WebSocket[] = [];
  const errors: string[] = [];
  const server = net.createServer((socket) => {
    socket.on('error', () => undefined);
    void (async () => {
      const errStream = new PassThrough();
      errStream.on('data', (d: Buffer) => errors.push(d.toString()));
      const url = await portForwardUrl();
      const ws = (await new PortForward(kubeConfigForStreamingUrl(url, { query: { ports: String(port) } })).portForward(
        NAMESPACE, podName, [port], socket, errStream, socket,
      )) as WebSocket;
      sessions.push(ws);
      // The library leaves the local socket open when the runtime ends the session.
      ws.on('close', () => socket.end());
    })().catch((err: unknown) => {
      errors.push(String(err));
      socket.destroy();
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as AddressInfo).port,
    errors,
    sessions,
    close: async () => {
      for (const ws of sessions) ws.terminate();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

async function freeLoopbackPort(): Promise<number> {
  const probe = net.createServer().listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const { port } = probe.address() as AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

describe('@kubernetes/client-node Exec, Attach and PortForward against berth\'s streaming URLs (WebSocket)', () => {
  let node: TestNode;
  let pod: ReturnType<typeof podConfig>;
  let podId: string;
  let webId: string;
  let counter = 0;
  const cri = () => node.daemon.cri.runtime;

  const runContainer = (sandboxId: string, sandboxConfig: ReturnType<typeof podConfig>, config: Record<string, unknown>): Promise<string> =>
    runInPod(node.daemon, sandboxId, sandboxConfig, `c${++counter}`, config);

  const state = async (id: string) => (await cri().ContainerStatus({ container_id: id })).status!;

  before(async () => {
    node = await startNode({ netIndex: 22 });
    await node.daemon.cri.image.PullImage({ image: { image: BUSYBOX } });
    pod = podConfig(node);
    podId = (await cri().RunPodSandbox({ config: pod })).pod_sandbox_id;
    webId = await runContainer(podId, pod, {
      command: ['sh', '-c', 'echo page-from-the-pod > /tmp/index.html && exec httpd -f -p 8080 -h /tmp'],
    });
  });

  after(async () => {
    await node?.stop();
  });

  it('Exec without a terminal: stdin, split stdout and stderr, and the exit status as a V1Status', async () => {
    const cmd = ['sh', '-c', 'cat; echo err-$((1+1)) >&2; exit 3'];
    const { url } = await cri().Exec({ container_id: webId, cmd, stdin: true, stdout: true, stderr: true, tty: false });
    assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/exec\/[A-Za-z0-9_-]+$/);
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    const stdin = new PassThrough();
    const out = collect(stdout);
    const err = collect(stderr);
    stdin.end('from-stdin\n');
    const status = await new Promise<V1Status>((resolve, reject) => {
      new Exec(kubeConfigForStreamingUrl(url)).exec(NAMESPACE, pod.metadata.name, 'web', cmd, stdout, stderr, stdin, false, resolve).catch(reject);
    });
    assert.equal(await out, 'from-stdin\n');
    assert.equal(await err, 'err-2\n');
    assert.equal(status.status, 'Failure');
    assert.equal(status.reason, 'NonZeroExitCode');
    assert.deepEqual(status.details?.causes, [{ reason: 'ExitCode', message: '3' }]);

    const ok = await cri().Exec({ container_id: webId, cmd: ['cat', '/tmp/index.html'], stdout: true, stderr: true });
    const okOut = new PassThrough();
    const page = collect(okOut);
    const okStatus = await new Promise<V1Status>((resolve, reject) => {
      new Exec(kubeConfigForStreamingUrl(ok.url)).exec(NAMESPACE, pod.metadata.name, 'web', ['cat', '/tmp/index.html'], okOut, null, null, false, resolve).catch(reject);
    });
    assert.equal(okStatus.status, 'Success');
    assert.equal(await page, 'page-from-the-pod\n');
  });

  it('Exec on a terminal: the library\'s window size and its resizes reach the command, then its exit code comes back', async () => {
    const { url } = await cri().Exec({ container_id: webId, cmd: ['sh'], stdin: true, stdout: true, stderr: false, tty: true });
    const terminal = new FakeTerminal();
    terminal.resizeTo(91, 33);
    const stdin = new PassThrough();
    let statusOf: (status: V1Status) => void = () => undefined;
    const status = new Promise<V1Status>((resolve) => (statusOf = resolve));
    const ws = (await new Exec(kubeConfigForStreamingUrl(url)).exec(NAMESPACE, pod.metadata.name, 'web', ['sh'], terminal, null, stdin, true, statusOf)) as WebSocket;
    // The size the library sent as the session opened.
    stdin.write(awaitSize(33, 91));
    await terminal.waitFor(/sized-33x91/);
    terminal.resizeTo(120, 40);
    stdin.write(awaitSize(40, 120));
    await terminal.waitFor(/sized-40x120/);
    stdin.write('exit 4\n');
    const final = await status;
    assert.equal(final.reason, 'NonZeroExitCode');
    assert.deepEqual(final.details?.causes, [{ reason: 'ExitCode', message: '4' }]);
    await closed(ws);
  });

  it('Attach without a terminal: stdin reaches the main process, its stdout and stderr come back apart, ending stdin ends a stdin_once container', async () => {
    const id = await runContainer(podId, pod, { command: ['sh'], stdin: true, stdin_once: true });
    const { url } = await cri().Attach({ container_id: id, stdin: true, stdout: true, stderr: true, tty: false });
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    const stdin = new PassThrough();
    let out = '';
    let err = '';
    stdout.on('data', (d: Buffer) => (out += d.toString()));
    stderr.on('data', (d: Buffer) => (err += d.toString()));
    const ws = (await new Attach(kubeConfigForStreamingUrl(url)).attach(NAMESPACE, pod.metadata.name, 'c', stdout, stderr, stdin, false)) as WebSocket;
    stdin.write('echo hello-$((1+1)); echo oops-$((2+1)) >&2\n');
    await waitForText(stdout, () => out, /hello-2\n/, 30_000);
    await waitForText(stderr, () => err, /oops-3\n/, 30_000);
    // v5.channel.k8s.io: the library sends a close frame for stdin; with stdin_once the shell sees EOF and exits.
    stdin.end();
    await closed(ws);
    const exited = await waitForContainerExit(cri(), id, 'the attached shell to exit once its stdin closed');
    assert.equal(exited.exit_code, 0);
    assert.equal(out, 'hello-2\n');
    assert.equal(err, 'oops-3\n');
  });

  it('Attach on a terminal: resizes reach the container\'s terminal; ending stdin detaches and leaves it running', async () => {
    const id = await runContainer(podId, pod, { command: ['sh'], stdin: true, tty: true });
    const { url } = await cri().Attach({ container_id: id, stdin: true, stdout: true, stderr: false, tty: true });
    const terminal = new FakeTerminal();
    terminal.resizeTo(100, 30);
    const stdin = new PassThrough();
    const ws = (await new Attach(kubeConfigForStreamingUrl(url)).attach(NAMESPACE, pod.metadata.name, 'c', terminal, null, stdin, true)) as WebSocket;
    stdin.write(awaitSize(30, 100));
    await terminal.waitFor(/sized-30x100/);
    terminal.resizeTo(77, 22);
    stdin.write(awaitSize(22, 77));
    await terminal.waitFor(/sized-22x77/);
    stdin.end();
    await closed(ws);
    assert.equal((await state(id)).state, 'CONTAINER_RUNNING');
  });

  it('PortForward: HTTP requests through a local port reach the pod\'s web server, concurrently', async () => {
    await cri().ExecSync({
      container_id: webId,
      cmd: ['sh', '-c', 'for i in $(seq 100); do wget -q -O /dev/null http://127.0.0.1:8080/index.html && exit 0; sleep 0.1; done; exit 1'],
      timeout: 30,
    });
    const local = await forwardLocally(async () => (await cri().PortForward({ pod_sandbox_id: podId, port: [8080] })).url, pod.metadata.name, 8080);
    try {
      const responses = await Promise.all([get(local.port, '/index.html'), get(local.port, '/index.html'), get(local.port, '/missing')]);
      assert.deepEqual(responses.slice(0, 2), [
        { status: 200, body: 'page-from-the-pod\n' },
        { status: 200, body: 'page-from-the-pod\n' },
      ]);
      assert.equal(responses[2]!.status, 404);
      assert.equal(local.sessions.length, 3, 'one WebSocket session per forwarded connection');
      assert.deepEqual(local.errors, []);
    } finally {
      await local.close();
    }
  });

  it('PortForward into a host-network pod reaches a server on the node\'s loopback', async () => {
    const hostPod = podConfig(node, { linux: { security_context: { namespace_options: { network: 'NODE' } } } });
    const hostPodId = (await cri().RunPodSandbox({ config: hostPod })).pod_sandbox_id;
    const port = await freeLoopbackPort();
    await runContainer(hostPodId, hostPod, {
      command: ['sh', '-c', `echo page-from-the-host-network > /tmp/index.html && exec httpd -f -p 127.0.0.1:${port} -h /tmp`],
    });
    await waitUntil(
      () =>
        new Promise<boolean>((resolve) => {
          const probe = net.connect(port, '127.0.0.1');
          probe.once('connect', () => {
            probe.destroy();
            resolve(true);
          });
          probe.once('error', () => resolve(false));
        }),
      `httpd of the host-network pod on 127.0.0.1:${port}`,
    );
    const local = await forwardLocally(async () => (await cri().PortForward({ pod_sandbox_id: hostPodId, port: [port] })).url, hostPod.metadata.name, port);
    try {
      assert.deepEqual(await get(local.port, '/index.html'), { status: 200, body: 'page-from-the-host-network\n' });
      assert.deepEqual(local.errors, []);
    } finally {
      await local.close();
    }
  });

  it('PortForward to a port nothing listens on reports the error on the library\'s error stream', async () => {
    const local = await forwardLocally(async () => (await cri().PortForward({ pod_sandbox_id: podId, port: [8081] })).url, pod.metadata.name, 8081);
    try {
      await assert.rejects(get(local.port, '/'));
      await waitUntil(() => local.errors.length > 0, 'the error stream');
      assert.match(local.errors.join(''), /error forwarding port 8081 to pod [0-9a-f]{64}/);
    } finally {
      await local.close();
    }
  });

  it('a used token is refused: the library\'s connect rejects and nothing runs', async () => {
    const cmd = ['sh', '-c', 'echo ran >> /tmp/runs'];
    const { url } = await cri().Exec({ container_id: webId, cmd, stdout: true, stderr: true });
    const exec = new Exec(kubeConfigForStreamingUrl(url));
    await new Promise<V1Status>((resolve, reject) => {
      exec.exec(NAMESPACE, pod.metadata.name, 'web', cmd, new PassThrough().resume(), new PassThrough().resume(), null, false, resolve).catch(reject);
    });
    await assert.rejects(exec.exec(NAMESPACE, pod.metadata.name, 'web', cmd, null, null, null, false));
    const runs = await cri().ExecSync({ container_id: webId, cmd: ['cat', '/tmp/runs'], timeout: 10 });
    assert.equal(runs.stdout.toString(), 'ran\n');
  });
});
