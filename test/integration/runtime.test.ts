import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, rmdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FailedPreconditionError, InvalidArgumentError, NotFoundError } from '../../src/core/errors.js';
import { ContainerCreateError, startMonitoredContainer, type MonitoredContainer } from '../../src/core/runtime/conmon.js';
import { readExitFile } from '../../src/core/runtime/exit-file.js';
import { ExitMonitor } from '../../src/core/runtime/exit-monitor.js';
import { RuncRuntime } from '../../src/core/runtime/oci-runtime.js';
import { wasOomKilled } from '../../src/core/runtime/oom.js';
import { isProcessAlive, parentPidOf, readPidFile } from '../../src/core/runtime/proc.js';
import { writeTestBundle, type MinimalSpecOptions } from '../support/minimal-oci-spec.js';
import { waitUntil } from '../support/wait.js';

const TEST_TIMEOUT_MS = 60_000;
const EXIT_WAIT_MS = 30_000;
const CGROUP_PARENT = 'berth-test';

interface Launched {
  id: string;
  bundle: string;
  logPath: string;
  persistDir: string;
  monitored: MonitoredContainer;
}

describe('runc driven by conmon', { timeout: 5 * TEST_TIMEOUT_MS }, () => {
  let base: string;
  let runtime: RuncRuntime;
  let exitDir: string;
  let exits: ExitMonitor;
  let socketDir: string;
  const ids: string[] = [];

  before(async () => {
    base = mkdtempSync(join(tmpdir(), 'berth-runtime-'));
    runtime = new RuncRuntime({ root: join(base, 'runc') });
    exitDir = join(base, 'exits');
    socketDir = join(base, 's');
    exits = new ExitMonitor({ exitDir, oomKilled: async () => false });
    await exits.start();
  });

  after(async () => {
    exits.close();
    for (const id of ids) {
      await runtime.delete(id, { force: true }).catch(() => undefined);
      const conmonPid = await readPidFile(join(base, id, 'persist', 'conmon.pid')).catch(() => undefined);
      if (conmonPid !== undefined && isProcessAlive(conmonPid)) process.kill(conmonPid, 'SIGKILL');
      removeCgroupDirs(`${CGROUP_PARENT}/${id}`);
    }
    removeCgroupDirs(CGROUP_PARENT);
    rmSync(base, { recursive: true, force: true });
  });

  function newId(label: string): string {
    const id = `berth-rt-${label}-${randomBytes(4).toString('hex')}`;
    ids.push(id);
    return id;
  }

  function prepare(label: string, spec: MinimalSpecOptions): { id: string; bundle: string; logPath: string; persistDir: string } {
    const id = newId(label);
    const bundle = writeTestBundle(join(base, id, 'bundle'), { cgroupsPath: `/${CGROUP_PARENT}/${id}`, ...spec });
    return { id, bundle, logPath: join(base, id, 'logs', 'container.log'), persistDir: join(base, id, 'persist') };
  }

  async function launch(label: string, spec: MinimalSpecOptions, terminal = false): Promise<Launched> {
    const prepared = prepare(label, spec);
    const monitored = await startMonitoredContainer({
      id: prepared.id,
      bundle: prepared.bundle,
      runtime,
      exitDir,
      persistDir: prepared.persistDir,
      socketDir,
      logPath: prepared.logPath,
      terminal,
    });
    return { ...prepared, monitored };
  }

  it('runs a container under a daemonized conmon, writes a CRI log and records the exit code', { timeout: TEST_TIMEOUT_MS }, async () => {
    const c = await launch('exit3', { args: ['sh', '-c', 'echo out; echo err >&2; exit 3'] });

    assert.ok(c.monitored.pid > 0);
    assert.ok(isProcessAlive(c.monitored.conmonPid), 'conmon is running');
    const conmonParent = await parentPidOf(c.monitored.conmonPid);
    assert.notEqual(conmonParent, undefined);
    assert.notEqual(conmonParent, process.pid, 'conmon must not be a child of the daemon');
    assert.equal(await parentPidOf(c.monitored.pid), c.monitored.conmonPid, 'the container init is reaped by conmon');
    assert.equal(await readPidFile(c.monitored.containerPidFile), c.monitored.pid);

    const created = await runtime.state(c.id);
    assert.equal(created?.status, 'created');
    assert.equal(created?.pid, c.monitored.pid);
    assert.equal(created?.bundle, c.bundle);
    assert.ok((await runtime.list()).some((s) => s.id === c.id), 'list shows the container');
    assert.equal(await readExitFile(exitDir, c.id), undefined, 'no exit file before it ran');

    await runtime.start(c.id);
    const exit = await exits.waitFor(c.id, EXIT_WAIT_MS);
    assert.equal(exit.exitCode, 3);
    assert.ok(exit.finishedAt instanceof Date && !Number.isNaN(exit.finishedAt.getTime()));
    assert.deepEqual(await readExitFile(exitDir, c.id), { exitCode: exit.exitCode, finishedAt: exit.finishedAt });
    await waitUntil(() => !isProcessAlive(c.monitored.conmonPid), 'conmon to exit once its container has exited', { intervalMs: 50 });

    const lines = readFileSync(c.logPath, 'utf8').split('\n').filter((l) => l !== '');
    const parsed = lines.map((line) => {
      const match = /^(\S+) (stdout|stderr) (F|P) (.*)$/.exec(line);
      assert.ok(match, `CRI log line: ${JSON.stringify(line)}`);
      assert.ok(!Number.isNaN(Date.parse(match[1] as string)), `timestamp ${match[1]} parses`);
      assert.match(match[1] as string, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+(Z|[+-]\d\d:\d\d)$/);
      return { stream: match[2], tag: match[3], text: match[4] };
    });
    assert.deepEqual(
      parsed.filter((p) => p.stream === 'stdout'),
      [{ stream: 'stdout', tag: 'F', text: 'out' }],
    );
    assert.deepEqual(
      parsed.filter((p) => p.stream === 'stderr'),
      [{ stream: 'stderr', tag: 'F', text: 'err' }],
    );

    assert.equal((await runtime.state(c.id))?.status, 'stopped');
    await runtime.delete(c.id);
    assert.equal(await runtime.state(c.id), undefined);
    assert.ok(!(await runtime.list()).some((s) => s.id === c.id));
    await runtime.delete(c.id); // idempotent
  });

  it('keeps a container running after the process that launched it exits', { timeout: TEST_TIMEOUT_MS }, async () => {
    const prepared = prepare('outlive', { args: ['sleep', '1000'] });
    const conmonModule = new URL('../../src/core/runtime/conmon.js', import.meta.url).href;
    const runtimeModule = new URL('../../src/core/runtime/oci-runtime.js', import.meta.url).href;
    const script = `
      const { startMonitoredContainer } = await import(${JSON.stringify(conmonModule)});
      const { RuncRuntime } = await import(${JSON.stringify(runtimeModule)});
      const o = JSON.parse(process.argv[1]);
      const runtime = new RuncRuntime({ root: o.root });
      const r = await startMonitoredContainer({ ...o.options, runtime });
      await runtime.start(o.options.id);
      process.stdout.write(JSON.stringify(r));
    `;
    const options = {
      id: prepared.id,
      bundle: prepared.bundle,
      exitDir,
      persistDir: prepared.persistDir,
      socketDir,
      logPath: prepared.logPath,
    };
    const launcher = spawnSync(process.execPath, ['--input-type=module', '-e', script, JSON.stringify({ root: runtime.root, options })], {
      encoding: 'utf8',
      timeout: TEST_TIMEOUT_MS / 2,
    });
    assert.equal(launcher.status, 0, `launcher failed: ${launcher.stderr}`);
    const monitored = JSON.parse(launcher.stdout) as MonitoredContainer;

    const state = await runtime.state(prepared.id);
    assert.equal(state?.status, 'running');
    assert.equal(state?.pid, monitored.pid);
    assert.ok(isProcessAlive(monitored.conmonPid), 'conmon outlived its launcher');
    assert.equal(await readExitFile(exitDir, prepared.id), undefined);

    await runtime.kill(prepared.id, 'SIGKILL');
    const exit = await exits.waitFor(prepared.id, EXIT_WAIT_MS);
    assert.equal(exit.exitCode, 128 + 9);
    await runtime.delete(prepared.id);
  });

  it('records 128+15 when SIGTERM kills the container process', { timeout: TEST_TIMEOUT_MS }, async () => {
    // Without a pid namespace sleep is not an init process, so SIGTERM's default action applies.
    const noPidNs = prepare('sigterm', { args: ['sleep', '1000'], namespaces: ['ipc', 'uts', 'mount', 'network'] });
    const monitored = await startMonitoredContainer({
      id: noPidNs.id,
      bundle: noPidNs.bundle,
      runtime,
      exitDir,
      persistDir: noPidNs.persistDir,
      socketDir,
      logPath: noPidNs.logPath,
    });
    await runtime.start(noPidNs.id);
    assert.equal((await runtime.state(noPidNs.id))?.status, 'running');
    assert.ok(isProcessAlive(monitored.pid));

    await runtime.kill(noPidNs.id, 'SIGTERM');
    const exit = await exits.waitFor(noPidNs.id, EXIT_WAIT_MS);
    assert.equal(exit.exitCode, 143);
    assert.equal((await runtime.state(noPidNs.id))?.status, 'stopped');
    await assert.rejects(runtime.kill(noPidNs.id, 'SIGTERM'), (err: unknown) => err instanceof FailedPreconditionError);
    await runtime.delete(noPidNs.id);
  });

  it('reports the runtime reason when the container cannot be created', { timeout: TEST_TIMEOUT_MS }, async () => {
    await assert.rejects(
      launch('badexec', { args: ['/bin/no-such-program'] }),
      (err: unknown) => {
        assert.ok(err instanceof ContainerCreateError, String(err));
        assert.match(err.message, /no-such-program/);
        assert.match(err.message, /no such file or directory|not found/i);
        return true;
      },
    );
    const id = ids[ids.length - 1] as string;
    assert.equal(await runtime.state(id), undefined, 'runc left no container behind');
    await assert.rejects(runtime.start(id), (err: unknown) => err instanceof NotFoundError);
  });

  it('holds conmon at the start pipe until beforeCreate has run', { timeout: TEST_TIMEOUT_MS }, async () => {
    const prepared = prepare('startpipe', { args: ['true'] });
    const seen: Array<{ pid: number; parent: number | undefined; existed: boolean }> = [];
    const monitored = await startMonitoredContainer({
      id: prepared.id,
      bundle: prepared.bundle,
      runtime,
      exitDir,
      persistDir: prepared.persistDir,
      socketDir,
      logPath: prepared.logPath,
      beforeCreate: async (conmonPid) => {
        seen.push({ pid: conmonPid, parent: await parentPidOf(conmonPid), existed: (await runtime.state(prepared.id)) !== undefined });
      },
    });
    assert.equal(seen.length, 1);
    assert.equal(seen[0]?.parent, process.pid, 'the hook sees the conmon launcher, our direct child');
    assert.equal(seen[0]?.existed, false, 'runc create had not run yet');
    assert.notEqual(monitored.conmonPid, seen[0]?.pid, 'the supervising conmon is the daemonized grandchild');
    await runtime.start(prepared.id);
    assert.equal((await exits.waitFor(prepared.id, EXIT_WAIT_MS)).exitCode, 0);
    await runtime.delete(prepared.id);
  });

  it('creates nothing when beforeCreate fails', { timeout: TEST_TIMEOUT_MS }, async () => {
    const prepared = prepare('hookfail', { args: ['true'] });
    let launcherPid = 0;
    await assert.rejects(
      startMonitoredContainer({
        id: prepared.id,
        bundle: prepared.bundle,
        runtime,
        exitDir,
        persistDir: prepared.persistDir,
        socketDir,
        logPath: prepared.logPath,
        beforeCreate: (pid) => {
          launcherPid = pid;
          throw new Error('cannot move conmon into its cgroup');
        },
      }),
      /cannot move conmon/,
    );
    await waitUntil(() => !isProcessAlive(launcherPid), 'the held conmon launcher to be gone', { intervalMs: 50 });
    assert.equal(await runtime.state(prepared.id), undefined);
    assert.equal(await readPidFile(join(prepared.persistDir, 'conmon.pid')), undefined, 'conmon never forked');
  });

  it('refuses a bundle without config.json before starting conmon', { timeout: TEST_TIMEOUT_MS }, async () => {
    const id = newId('nobundle');
    await assert.rejects(
      startMonitoredContainer({
        id,
        bundle: join(base, id, 'missing-bundle'),
        runtime,
        exitDir,
        persistDir: join(base, id, 'persist'),
        socketDir,
        logPath: join(base, id, 'c.log'),
      }),
      (err: unknown) => err instanceof InvalidArgumentError && /config\.json/.test(err.message),
    );
  });

  it('pauses and resumes a running container', { timeout: TEST_TIMEOUT_MS }, async () => {
    const c = await launch('pause', { args: ['sleep', '1000'] });
    await runtime.start(c.id);
    assert.equal((await runtime.state(c.id))?.status, 'running');
    await runtime.pause(c.id);
    assert.equal((await runtime.state(c.id))?.status, 'paused');
    await assert.rejects(runtime.pause(c.id), (err: unknown) => err instanceof FailedPreconditionError);
    await runtime.resume(c.id);
    assert.equal((await runtime.state(c.id))?.status, 'running');
    await runtime.kill(c.id, 'SIGKILL');
    assert.equal((await exits.waitFor(c.id, EXIT_WAIT_MS)).exitCode, 137);
    await runtime.delete(c.id);
  });

  it('updates cgroup limits of a running container', { timeout: TEST_TIMEOUT_MS }, async () => {
    const c = await launch('update', { args: ['sleep', '1000'], resources: { pids: { limit: 100 } } });
    await runtime.start(c.id);
    const pidsMax = join(cgroupDirOf(c.monitored.pid, 'pids'), 'pids.max');
    const memoryLimit = join(cgroupDirOf(c.monitored.pid, 'memory'), 'memory.limit_in_bytes');
    assert.equal(readFileSync(pidsMax, 'utf8').trim(), '100');

    await runtime.update(c.id, { pids: { limit: 42 }, memory: { limit: 64 * 1024 * 1024 } });
    assert.equal(readFileSync(pidsMax, 'utf8').trim(), '42');
    assert.equal(readFileSync(memoryLimit, 'utf8').trim(), String(64 * 1024 * 1024));

    await runtime.delete(c.id, { force: true });
    assert.equal(await runtime.state(c.id), undefined);
    assert.equal((await exits.waitFor(c.id, EXIT_WAIT_MS)).exitCode, 137);
  });

  it('flags a container killed by the OOM killer', { timeout: TEST_TIMEOUT_MS }, async () => {
    // dd's 256 MiB block buffer cannot fit in a 32 MiB memory cgroup.
    const c = await launch('oom', {
      args: ['dd', 'if=/dev/zero', 'of=/dev/null', 'bs=256M', 'count=1'],
      resources: { memory: { limit: 32 * 1024 * 1024, swap: 32 * 1024 * 1024 } },
    });
    assert.equal(await wasOomKilled(c.persistDir, c.bundle), false);
    await runtime.start(c.id);
    const exit = await exits.waitFor(c.id, EXIT_WAIT_MS);
    assert.equal(exit.exitCode, 137);
    assert.equal(await wasOomKilled(c.persistDir, c.bundle), true);
    await runtime.delete(c.id);
  });

  it('runs a container with a terminal', { timeout: TEST_TIMEOUT_MS }, async () => {
    const c = await launch('tty', { args: ['sh', '-c', 'test -t 1 && echo tty-ok'], terminal: true }, true);
    await runtime.start(c.id);
    assert.equal((await exits.waitFor(c.id, EXIT_WAIT_MS)).exitCode, 0);
    const log = readFileSync(c.logPath, 'utf8');
    assert.match(log, / stdout F tty-ok\r?$/m);
    await runtime.delete(c.id);
  });

  it('maps unknown containers to NotFound or undefined', { timeout: TEST_TIMEOUT_MS }, async () => {
    const id = newId('unknown');
    assert.equal(await runtime.state(id), undefined);
    await assert.rejects(runtime.kill(id, 'SIGTERM'), (err: unknown) => err instanceof NotFoundError);
    await runtime.delete(id, { force: true });
  });
});

/** The host directory of `pid`'s cgroup for a v1 controller, from /proc/<pid>/cgroup and /proc/self/mounts. */
function cgroupDirOf(pid: number, controller: string): string {
  const line = readFileSync(`/proc/${pid}/cgroup`, 'utf8')
    .split('\n')
    .find((l) => l.split(':')[1]?.split(',').includes(controller));
  assert.ok(line, `${controller} controller in /proc/${pid}/cgroup`);
  const path = line.split(':').slice(2).join(':');
  const mount = readFileSync('/proc/self/mounts', 'utf8')
    .split('\n')
    .map((l) => l.split(' '))
    .find((f) => f[2] === 'cgroup' && (f[3] ?? '').split(',').includes(controller));
  assert.ok(mount, `${controller} cgroup mount`);
  return join(mount[1] as string, path);
}

/** rmdir `<relative>` under every cgroup mount (v1 controllers and the v2 tree), ignoring what is absent. */
function removeCgroupDirs(relative: string): void {
  const mounts = readFileSync('/proc/self/mounts', 'utf8')
    .split('\n')
    .map((l) => l.split(' '))
    .filter((f) => f[2] === 'cgroup' || f[2] === 'cgroup2')
    .map((f) => f[1] as string);
  for (const mount of mounts) {
    try {
      rmdirSync(join(mount, relative));
    } catch {
      // absent, or still in use by a container that failed to stop
    }
  }
}
