import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { Exec, type V1Status } from '@kubernetes/client-node';
import { BUSYBOX, podConfig, runInPod, startNode, type TestNode } from '../support/cluster.js';
import { collect, kubeConfigForStreamingUrl } from '../support/client-node.js';
import { makeDaemonDirs, runBerthd } from '../support/daemon.js';
import { crictl } from '../support/exec.js';
import { readAll, spdyConnect, wsSession } from '../support/streaming-clients.js';
import { selfSignedCertificate, type TestCertificate } from '../support/tls.js';

function plainGet(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    http.get(url, { agent: false }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    }).on('error', reject);
  });
}

describe('streaming over TLS ([stream] tls_cert_file / tls_key_file)', () => {
  let dir: string;
  let certificate: TestCertificate;
  let node: TestNode;
  let containerId: string;
  let podId: string;
  const cri = () => node.daemon.cri.runtime;
  const execUrl = async (cmd: string[], stdin = false) =>
    (await cri().Exec({ container_id: containerId, cmd, stdin, stdout: true, stderr: true, tty: false })).url;
  const ran = async (marker: string) =>
    (await cri().ExecSync({ container_id: containerId, cmd: ['sh', '-c', `cat /tmp/${marker} 2>/dev/null || true`], timeout: 10 })).stdout.toString();

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'berth-stream-tls-'));
    certificate = await selfSignedCertificate(dir);
    node = await startNode({
      netIndex: 21,
      extraToml: `[stream]\ntls_cert_file = "${certificate.certFile}"\ntls_key_file = "${certificate.keyFile}"\n`,
    });
    await node.daemon.cri.image.PullImage({ image: { image: BUSYBOX } });
    const pod = podConfig(node);
    podId = (await cri().RunPodSandbox({ config: pod })).pod_sandbox_id;
    containerId = await runInPod(node.daemon, podId, pod, 'sleeper', { command: ['sh', '-c', 'trap "exit 0" TERM; while :; do sleep 1; done'] });
  });

  after(async () => {
    await node?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('Exec, Attach and PortForward hand out https URLs', async () => {
    assert.match(await execUrl(['true']), /^https:\/\/127\.0\.0\.1:\d+\/exec\/[A-Za-z0-9_-]+$/);
    const attach = await cri().Attach({ container_id: containerId, stdout: true });
    assert.match(attach.url, /^https:\/\/127\.0\.0\.1:\d+\/attach\//);
    const forward = await cri().PortForward({ pod_sandbox_id: podId, port: [80] });
    assert.match(forward.url, /^https:\/\/127\.0\.0\.1:\d+\/portforward\//);
  });

  for (const transport of ['spdy', 'websocket']) {
    it(`crictl exec over ${transport} through TLS: output and exit code`, async () => {
      const res = await crictl(node.daemon.dirs.socket, ['exec', '-r', transport, containerId, 'sh', '-c', 'echo out-$((1+1)); echo err >&2; exit 3']);
      assert.match(res.stdout, /^out-2$/m);
      assert.match(res.stderr, /err/);
      assert.match(res.stderr, /exit code 3/);
    });
  }

  it('clients that verify the certificate: SPDY/3.1 over https and WebSocket over wss', async () => {
    const { session, protocol } = await spdyConnect(await execUrl(['sh', '-c', 'cat; exit 5'], true), ['v4.channel.k8s.io'], { ca: certificate.cert });
    assert.equal(protocol, 'v4.channel.k8s.io');
    const error = await session.openStream({ streamtype: ['error'] });
    const stdin = await session.openStream({ streamtype: ['stdin'] });
    const stdout = await session.openStream({ streamtype: ['stdout'] });
    const stderr = await session.openStream({ streamtype: ['stderr'] });
    stdin.end('spdy-over-tls');
    const [out, , status] = await Promise.all([readAll(stdout), readAll(stderr), readAll(error)]);
    assert.equal(out.toString(), 'spdy-over-tls');
    assert.equal(JSON.parse(status.toString()).details.causes[0].message, '5');

    const ws = await wsSession(await execUrl(['sh', '-c', 'cat; echo err >&2'], true), ['v5.channel.k8s.io'], [
      [0, Buffer.from('wss-over-tls\n')],
      [255, Buffer.from([0])],
    ], { ca: certificate.cert });
    assert.equal(ws.protocol, 'v5.channel.k8s.io');
    assert.equal(ws.output.get(1)?.toString(), 'wss-over-tls\n');
    assert.equal(ws.output.get(2)?.toString(), 'err\n');
    assert.equal(ws.output.get(3)?.toString(), '{"metadata":{},"status":"Success"}');
  });

  it('@kubernetes/client-node Exec over wss, trusting the certificate through its KubeConfig', async () => {
    const cmd = ['sh', '-c', 'echo through-the-library; exit 2'];
    const url = await execUrl(cmd);
    const stdout = new PassThrough();
    const out = collect(stdout);
    const status = await new Promise<V1Status>((resolve, reject) => {
      new Exec(kubeConfigForStreamingUrl(url, { ca: certificate.cert })).exec('berth-test', 'pod', 'sleeper', cmd, stdout, new PassThrough().resume(), null, false, resolve).catch(reject);
    });
    assert.equal(await out, 'through-the-library\n');
    assert.deepEqual(status.details?.causes, [{ reason: 'ExitCode', message: '2' }]);
  });

  it('plain http and ws to the TLS port fail, and neither they nor an untrusting client use up the token', async () => {
    const url = await execUrl(['sh', '-c', 'echo ran >> /tmp/plain-attempt; echo done']);
    await assert.rejects(plainGet(url.replace(/^https:/, 'http:')));
    await assert.rejects(wsSession(url.replace(/^https:/, 'http:'), ['v4.channel.k8s.io'], []));
    await assert.rejects(spdyConnect(url.replace(/^https:/, 'http:'), ['v4.channel.k8s.io']));
    // A client that does not trust the self-signed certificate stops at the handshake.
    await assert.rejects(wsSession(url, ['v4.channel.k8s.io'], []), /self-signed certificate/);
    assert.equal(await ran('plain-attempt'), '');
    const res = await wsSession(url, ['v4.channel.k8s.io'], [], { ca: certificate.cert });
    assert.equal(res.output.get(1)?.toString(), 'done\n');
    assert.equal(await ran('plain-attempt'), 'ran\n');
  });
});

describe('berthd refuses streaming TLS files it cannot use, naming the key', () => {
  let dir: string;
  let certificate: TestCertificate;
  let other: TestCertificate;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'berth-stream-tls-bad-'));
    certificate = await selfSignedCertificate(dir, 'one');
    other = await selfSignedCertificate(dir, 'other');
  });

  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const cases: Array<[string, () => string, RegExp]> = [
    ['an unreadable certificate', () => `tls_cert_file = "${join(dir, 'absent.crt')}"\ntls_key_file = "${certificate.keyFile}"`, /config key "stream\.tls_cert_file": cannot read .*absent\.crt/],
    ['a key of another certificate', () => `tls_cert_file = "${certificate.certFile}"\ntls_key_file = "${other.keyFile}"`, /config key "stream\.tls_key_file": .* is not the private key of the certificate/],
    ['a certificate without its key', () => `tls_cert_file = "${certificate.certFile}"`, /config key "stream\.tls_key_file": must be set together with stream\.tls_cert_file/],
  ];
  for (const [what, stream, message] of cases) {
    it(what, async () => {
      const dirs = await makeDaemonDirs(`[stream]\n${stream()}\n`);
      try {
        const res = await runBerthd(['--config', dirs.configPath, '--root', dirs.root, '--state', dirs.state, '--address', dirs.socket]);
        assert.equal(res.code, 1, res.output);
        assert.match(res.output, message);
        assert.equal(existsSync(dirs.root), false, 'nothing is created before the configuration is known good');
      } finally {
        await rm(dirs.base, { recursive: true, force: true });
      }
    });
  }

  it('a file that holds no certificate', async () => {
    const garbage = join(dir, 'garbage.crt');
    await writeFile(garbage, '-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n');
    const dirs = await makeDaemonDirs(`[stream]\ntls_cert_file = "${garbage}"\ntls_key_file = "${certificate.keyFile}"\n`);
    try {
      const res = await runBerthd(['--config', dirs.configPath, '--root', dirs.root, '--state', dirs.state, '--address', dirs.socket]);
      assert.equal(res.code, 1, res.output);
      assert.match(res.output, /config key "stream\.tls_cert_file": .*garbage\.crt holds no PEM certificate/);
    } finally {
      await rm(dirs.base, { recursive: true, force: true });
    }
  });
});
