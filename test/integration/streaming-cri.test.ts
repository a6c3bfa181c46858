import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { crictl, crictlEndpoint, run } from '../support/exec.js';
import { httpGet } from '../support/http.js';
import { BUSYBOX, podConfig, runInPod, startNode, type TestNode } from '../support/cluster.js';

describe('streaming through berthd (crictl exec / port-forward into real containers)', () => {
  let node: TestNode;
  let containerId: string;
  let podId: string;

  before(async () => {
    node = await startNode({ netIndex: 3 });
    await node.daemon.cri.image.PullImage({ image: { image: BUSYBOX } });
    const pod = podConfig(node);
    podId = (await node.daemon.cri.runtime.RunPodSandbox({ config: pod })).pod_sandbox_id;
    containerId = await runInPod(node.daemon, podId, pod, 'web', {
      command: ['sh', '-c', 'echo streamed-page > /tmp/index.html && exec httpd -f -p 8080 -h /tmp'],
    });
  });

  after(async () => {
    await node?.stop();
  });

  for (const transport of ['spdy', 'websocket']) {
    it(`exec over ${transport}: stdout, stderr, stdin and exit code`, async () => {
      const res = await crictl(node.daemon.dirs.socket, ['exec', '-r', transport, containerId, 'sh', '-c', 'echo out; echo err >&2; exit 3']);
      assert.match(res.stdout, /^out$/m);
      assert.match(res.stderr, /err/);
      assert.match(res.stderr, /exit code 3/);
      const ok = await crictl(node.daemon.dirs.socket, ['exec', '-r', transport, containerId, 'cat', '/etc/hostname']);
      assert.equal(ok.code, 0, ok.stderr);
    });

    it(`port-forward over ${transport} reaches the pod's web server`, async () => {
      const local = transport === 'spdy' ? 18291 : 18292;
      const child = spawn('crictl', [...crictlEndpoint(node.daemon.dirs.socket), 'port-forward', '-r', transport, podId, `${local}:8080`], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      try {
        let body = '';
        for (let i = 0; i < 50 && !body; i++) {
          await new Promise((r) => setTimeout(r, 100));
          body = await httpGet(`http://127.0.0.1:${local}/index.html`).catch(() => '');
        }
        assert.match(body, /streamed-page/);
      } finally {
        child.kill('SIGTERM');
      }
    });
  }

  it('100 sequential exec streams leave no process behind', async () => {
    for (let i = 0; i < 100; i++) {
      const res = await crictl(node.daemon.dirs.socket, ['exec', containerId, 'true']);
      assert.equal(res.code, 0, res.stderr);
    }
    const leftovers = await run('pgrep', ['-f', `runc.*exec.*${containerId}`]);
    assert.equal(leftovers.stdout.trim(), '');
    const ps = await node.daemon.cri.runtime.ExecSync({ container_id: containerId, cmd: ['ps'], timeout: 10 });
    assert.equal(ps.stdout.toString().split('\n').filter((l) => /\btrue\b/.test(l)).length, 0);
  });
});
