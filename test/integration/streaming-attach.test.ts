import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { status as GrpcStatus } from '@grpc/grpc-js';
import { BUSYBOX, podConfig, runInPod, startNode, type TestNode } from '../support/cluster.js';
import { remoteCommandClient, type RemoteCommandClient, type Transport } from '../support/streaming-clients.js';
import { awaitSize, crictlArgs, runWithInput } from '../support/streaming-fixtures.js';
import { waitForContainerExit, waitUntil } from '../support/wait.js';

const TRANSPORTS: Transport[] = ['spdy', 'websocket'];
const SUCCESS = '{"metadata":{},"status":"Success"}';

function code(err: unknown): number | undefined {
  return (err as { code?: number }).code;
}

/** Resizes a terminal session and waits until the shell on it sees the new size. */
async function resizeAndConfirm(client: RemoteCommandClient, rows: number, cols: number): Promise<void> {
  client.resize(cols, rows);
  client.sendStdin(awaitSize(rows, cols));
  await client.waitFor('stdout', new RegExp(`sized-${rows}x${cols}`));
}

describe('attach and terminal exec through berthd (conmon attach socket, runc on a pty)', () => {
  let node: TestNode;
  let podId: string;
  let pod: ReturnType<typeof podConfig>;
  let counter = 0;
  const cri = () => node.daemon.cri.runtime;

  const runContainer = (config: Record<string, unknown>, start = true): Promise<string> => runInPod(node.daemon, podId, pod, `c${++counter}`, config, start);

  const state = async (id: string) => (await cri().ContainerStatus({ container_id: id })).status!;

  before(async () => {
    node = await startNode({ netIndex: 25 });
    await node.daemon.cri.image.PullImage({ image: { image: BUSYBOX } });
    pod = podConfig(node);
    podId = (await cri().RunPodSandbox({ config: pod })).pod_sandbox_id;
  });

  after(async () => {
    await node?.stop();
  });

  for (const transport of TRANSPORTS) {
    it(`crictl attach -i over ${transport}: stdin reaches the shell, ending it ends a stdin_once container`, async () => {
      // As critest's attach spec: a shell reading stdin, stdin_once, no terminal.
      const id = await runContainer({ command: ['sh'], stdin: true, stdin_once: true });
      const res = await runWithInput(
        'crictl',
        crictlArgs(node.daemon.dirs.socket, ['attach', '-i', '-r', transport, id]),
        'echo hello-$((1+1)); echo oops-$((2+1)) >&2\n',
      );
      assert.equal(res.code, 0, res.stderr);
      assert.equal(res.stdout.toString(), 'hello-2\n');
      assert.match(res.stderr, /oops-3/);
      const status = await waitForContainerExit(cri(), id, 'the shell to exit once its stdin closed');
      assert.equal(status.exit_code, 0);
    });

    it(`attach -t over ${transport}: resizes reach the container's terminal; detaching leaves it running`, async () => {
      const id = await runContainer({ command: ['sh'], tty: true, stdin: true });
      const wanted = { stdin: true, stdout: true, stderr: false, tty: true };
      const attachUrl = async () => (await cri().Attach({ container_id: id, tty: true, stdin: true, stdout: true, stderr: false })).url;

      const first = await remoteCommandClient(transport, await attachUrl(), wanted);
      await resizeAndConfirm(first, 30, 100);
      await resizeAndConfirm(first, 22, 77);
      // Ending stdin on a terminal detaches; the container's stdin stays open (not stdin_once).
      first.closeStdin();
      assert.equal(await first.finished, SUCCESS);
      assert.equal((await state(id)).state, 'CONTAINER_RUNNING');

      const second = await remoteCommandClient(transport, await attachUrl(), wanted);
      second.sendStdin('echo again-$((2+2))\n');
      await second.waitFor('stdout', /again-4/);
      second.disconnect();
      await second.finished.catch(() => undefined);
      const alive = await cri().ExecSync({ container_id: id, cmd: ['echo', 'alive'], timeout: 10 });
      assert.equal(alive.stdout.toString(), 'alive\n');
      assert.equal((await state(id)).state, 'CONTAINER_RUNNING');
    });

    it(`attach without stdin over ${transport}: output written after attaching arrives split into stdout and stderr`, async () => {
      const id = await runContainer({
        command: ['sh', '-c', 'while :; do if [ -f /tmp/go ]; then rm /tmp/go; echo out-$((1+1)); echo err-$((2+1)) >&2; fi; sleep 0.1; done'],
      });
      const url = (await cri().Attach({ container_id: id, stdin: false, stdout: true, stderr: true, tty: false })).url;
      const client = await remoteCommandClient(transport, url, { stdin: false, stdout: true, stderr: true, tty: false });
      await cri().ExecSync({ container_id: id, cmd: ['touch', '/tmp/go'], timeout: 10 });
      await client.waitFor('stdout', /out-2\n/);
      await client.waitFor('stderr', /err-3\n/);
      assert.doesNotMatch(client.output('stdout'), /err-3/);
      client.disconnect();
      await client.finished.catch(() => undefined);
      assert.equal((await state(id)).state, 'CONTAINER_RUNNING');
    });

    it(`exec -t over ${transport}: resizes reach the command's terminal and its exit code comes back`, async () => {
      const id = await runContainer({ command: ['sh', '-c', 'trap "exit 0" TERM; while :; do sleep 1; done'] });
      const url = (await cri().Exec({ container_id: id, cmd: ['sh'], tty: true, stdin: true, stdout: true, stderr: false })).url;
      const client = await remoteCommandClient(transport, url, { stdin: true, stdout: true, stderr: false, tty: true });
      await resizeAndConfirm(client, 25, 90);
      await resizeAndConfirm(client, 40, 120);
      client.sendStdin('exit 3\n');
      const status = JSON.parse(await client.finished) as { reason?: string; details?: { causes?: Array<{ message?: string }> } };
      assert.equal(status.reason, 'NonZeroExitCode');
      assert.equal(status.details?.causes?.[0]?.message, '3');
    });

    it(`exec -t with stdin left open over ${transport}: the session ends when the command exits (critest's tty exec)`, async () => {
      const id = await runContainer({ command: ['sh', '-c', 'trap "exit 0" TERM; while :; do sleep 1; done'] });
      const url = (await cri().Exec({ container_id: id, cmd: ['echo', 'hello'], tty: true, stdin: true, stdout: true, stderr: false })).url;
      const client = await remoteCommandClient(transport, url, { stdin: true, stdout: true, stderr: false, tty: true });
      assert.equal(await client.finished, SUCCESS);
      assert.match(client.output('stdout'), /hello/);
    });
  }

  it('crictl exec -it on a terminal: the window size of the person\'s terminal reaches the command', async () => {
    const id = await runContainer({ command: ['sh', '-c', 'trap "exit 0" TERM; while :; do sleep 1; done'] });
    const script = 'while [ "$(stty size)" != "33 91" ]; do sleep 0.1; done; echo sized-$((33+0))x$((91+0))';
    // script gives crictl a pty, as a person at a terminal would.
    const command = `stty cols 91 rows 33; crictl ${crictlArgs(node.daemon.dirs.socket, ['exec', '-it', id, 'sh', '-c', script])
      .map((a) => `'${a}'`)
      .join(' ')}`;
    const res = await runWithInput('script', ['-qec', command, '/dev/null']);
    assert.equal(res.code, 0, res.stderr + res.stdout.toString());
    assert.match(res.stdout.toString(), /sized-33x91/);
  });

  it('terminal execs and attaches leave no descriptors open in berthd', async () => {
    const id = await runContainer({ command: ['sh'], tty: true, stdin: true });
    const fds = async () => (await readdir(`/proc/${node.daemon.process.pid}/fd`)).length;
    const oneOfEach = async (i: number): Promise<void> => {
      const transport = TRANSPORTS[i % 2]!;
      const exec = await cri().Exec({ container_id: id, cmd: ['echo', `e${i}`], tty: true, stdin: true, stdout: true, stderr: false });
      const execClient = await remoteCommandClient(transport, exec.url, { stdin: true, stdout: true, stderr: false, tty: true });
      assert.equal(await execClient.finished, SUCCESS);
      const attach = await cri().Attach({ container_id: id, tty: true, stdin: true, stdout: true, stderr: false });
      const attachClient = await remoteCommandClient(transport, attach.url, { stdin: true, stdout: true, stderr: false, tty: true });
      attachClient.sendStdin(`echo a-$((${i}+1000))\n`);
      await attachClient.waitFor('stdout', new RegExp(`a-${i + 1000}`));
      attachClient.closeStdin();
      assert.equal(await attachClient.finished, SUCCESS);
    };
    for (let i = 0; i < 2; i++) await oneOfEach(i); // warm up lazily opened handles
    const before = await fds();
    for (let i = 0; i < 20; i++) await oneOfEach(i);
    await waitUntil(async () => (await fds()) <= before, 'berthd to close its session descriptors', { timeoutMs: 10_000 }).catch(() => undefined);
    assert.ok((await fds()) <= before, `berthd's descriptors grew from ${before} to ${await fds()}`);
  });

  it('Attach refuses unknown containers, containers not running and a terminal with stderr', async () => {
    await assert.rejects(cri().Attach({ container_id: 'f'.repeat(64), stdout: true }), (err) => code(err) === GrpcStatus.NOT_FOUND);
    const created = await runContainer({ command: ['true'] }, false);
    await assert.rejects(cri().Attach({ container_id: created, stdout: true }), (err) => code(err) === GrpcStatus.FAILED_PRECONDITION);
    const running = await runContainer({ command: ['sh', '-c', 'trap "exit 0" TERM; while :; do sleep 1; done'], tty: true });
    await assert.rejects(
      cri().Attach({ container_id: running, tty: true, stdout: true, stderr: true }),
      (err) => code(err) === GrpcStatus.INVALID_ARGUMENT,
    );
  });
});
