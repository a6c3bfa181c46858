import type { ContainerRecord } from '../core/metadata/records.js';
import type { RuntimeServices } from './runtime-services.js';

/**
 * Brings a running container's record up to date with conmon's exit file
 * (written even while berthd was down): exit code, finish time, reason.
 */
export async function refreshContainer(rt: RuntimeServices, c: ContainerRecord): Promise<ContainerRecord> {
  if (c.state !== 'running' && c.state !== 'created') return c;
  const exit = await rt.tasks.exitInfo(c.id);
  if (!exit) return c;
  const oom = await rt.tasks.oomKilled(c.id).catch(() => false);
  const reason = oom ? 'OOMKilled' : exit.exitCode === 0 ? 'Completed' : 'Error';
  const exitedAt = BigInt(exit.finishedAt.getTime()) * 1_000_000n;
  return rt.containers.update(c.id, (r) => ({
    ...r,
    state: 'exited',
    exitCode: exit.exitCode,
    // The exit file's mtime has coarser precision than our own clock: never before the start.
    finishedAt: exitedAt > r.startedAt ? exitedAt : r.startedAt,
    startedAt: r.startedAt === 0n ? exitedAt : r.startedAt,
    reason,
  }));
}
