import { chmod, mkdir, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { CriContext } from './context.js';
import { imageMountViewsByOwner, releaseImageMounts } from './image-mounts.js';
import { nowNanos } from './ids.js';

export interface RecoveryReport {
  /** Containers and pods whose conmon had died: ended, with an unknown exit status. */
  unmonitored: number;
  /** Created containers whose pid or start berthd had not recorded. */
  reconciled: number;
}

/**
 * Brings records up to date with the OCI runtime after an unclean stop, before
 * berthd serves. A kill -9 in the middle of creating a container can kill its
 * conmon too (it reports to berthd over a pipe), leaving a container nobody
 * monitors: it is ended and recorded as exited. A kill between `runc create`
 * and the record update leaves a container without its pid; one between
 * `runc start` and the record update leaves a running container recorded as
 * created.
 */
export async function recoverAfterUncleanStop(ctx: CriContext): Promise<RecoveryReport> {
  const rt = ctx.runtime;
  const report: RecoveryReport = { unmonitored: 0, reconciled: 0 };
  const tasks = [
    ...rt.sandboxes.all().map((s) => ({ id: s.id, handler: s.runtimeHandler, created: false })),
    ...rt.containers
      .all()
      .filter((c) => c.state === 'created' || c.state === 'running')
      .map((c) => ({
        id: c.id,
        handler: rt.sandboxes.get(c.sandboxId)?.runtimeHandler ?? ctx.config.default_runtime,
        created: c.state === 'created',
      })),
  ];
  for (const task of tasks) {
    try {
      if (rt.tasks.exitInfo(task.id)) continue;
      if (!(await rt.tasks.monitorAlive(task.id))) {
        await rt.tasks.settleUnmonitored(task.id, task.handler);
        report.unmonitored++;
        continue;
      }
      if (task.created && (await reconcileCreated(ctx, task.id, task.handler))) report.reconciled++;
    } catch (err) {
      ctx.logger.warn('cannot recover a container at start', { id: task.id, error: (err as Error).message });
    }
  }
  return report;
}

async function reconcileCreated(ctx: CriContext, id: string, handler: string): Promise<boolean> {
  const rt = ctx.runtime;
  const state = await rt.tasks.runtime(handler).state(id);
  const record = rt.containers.get(id);
  if (!state || !record) return false;
  const started = state.status === 'running' || state.status === 'paused';
  const pid = state.pid > 0 ? state.pid : record.pid;
  if (!started && pid === record.pid) return false;
  rt.containers.update(id, (r) => (started ? { ...r, pid, state: 'running', startedAt: nowNanos() } : { ...r, pid }));
  return true;
}

/**
 * Makes the per-container directory root (`dir`) private, and removes what no
 * container record owns: directories (a CreateContainer whose cleanup failed
 * to remove one logs and goes on to drop the record) and image mounts with
 * their view snapshots. Returns how many containers' leftovers were removed.
 */
export async function tidyContainerDirs(ctx: CriContext, dir: string): Promise<number> {
  const rt = ctx.runtime;
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await chmod(dir, 0o700);
  const views = imageMountViewsByOwner(rt);
  const owners = new Set([...(await readdir(dir)), ...views.keys()]);
  const orphans = [...owners].filter((id) => !rt.containers.get(id));
  let removed = 0;
  for (const id of orphans) {
    try {
      await releaseImageMounts(rt, id, views.get(id) ?? []);
      await rm(join(dir, id), { recursive: true, force: true });
      removed++;
    } catch (err) {
      ctx.logger.warn('cannot remove what a removed container left', { id, error: (err as Error).message });
    }
  }
  return removed;
}
