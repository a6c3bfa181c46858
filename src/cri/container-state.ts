import { FailedPreconditionError } from '../core/errors.js';
import type { ContainerRecord } from '../core/metadata/records.js';
import type { ObservedExit } from '../core/runtime/exit-monitor.js';
import { lookupById } from './ids.js';
import type { RuntimeServices } from './runtime-services.js';

/**
 * Records an observed exit on a created or running container: exit code,
 * finish time, reason. Returns the record and whether this call made the
 * transition (so exactly one caller announces it).
 */
export function recordContainerExit(rt: RuntimeServices, id: string, exit: ObservedExit): { record: ContainerRecord; transitioned: boolean } | undefined {
  const current = rt.containers.get(id);
  if (!current) return undefined;
  if (current.state !== 'running' && current.state !== 'created') return { record: current, transitioned: false };
  const reason = exit.oomKilled ? 'OOMKilled' : exit.exitCode === 0 ? 'Completed' : 'Error';
  const exitedAt = BigInt(exit.finishedAt.getTime()) * 1_000_000n;
  const record = rt.containers.update(id, (r) => ({
    ...r,
    state: 'exited',
    exitCode: exit.exitCode,
    // The exit file's mtime has coarser precision than our own clock: never before the start.
    finishedAt: exitedAt > r.startedAt ? exitedAt : r.startedAt,
    startedAt: r.startedAt === 0n ? exitedAt : r.startedAt,
    reason,
  }));
  return { record, transitioned: true };
}

/**
 * The container's record brought up to date with its exit, if the exit
 * monitor has seen one the exit reconciler has not yet applied. A map
 * lookup: List and Status calls never touch the disk.
 */
export function refreshContainer(rt: RuntimeServices, c: ContainerRecord): ContainerRecord {
  if (c.state !== 'running' && c.state !== 'created') return c;
  const exit = rt.tasks.exitInfo(c.id);
  if (!exit) return c;
  return recordContainerExit(rt, c.id, exit)?.record ?? c;
}

/** The container `id` (or a unique prefix) names, up to date; FailedPrecondition unless it is running. */
export function runningContainer(rt: RuntimeServices, id: string): ContainerRecord {
  const container = refreshContainer(rt, lookupById(rt.containers, id, 'container'));
  if (container.state !== 'running') throw new FailedPreconditionError(`container ${container.id} is not running`);
  return container;
}
