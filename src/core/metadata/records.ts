import type { Db } from './db.js';
import { CachedTable } from './cached-table.js';

export type SandboxState = 'ready' | 'notready';
export type ContainerState = 'created' | 'running' | 'exited' | 'unknown';

/** A pod sandbox as berth persists it; `config` is the CRI PodSandboxConfig. */
export interface SandboxRecord {
  id: string;
  name: string;
  config: unknown;
  runtimeHandler: string;
  state: SandboxState;
  netnsPath: string;
  ips: string[];
  pid: number;
  imageId: string;
  /** Nanoseconds since the epoch. */
  createdAt: bigint;
  extra: Record<string, unknown>;
}

export interface ContainerRecord {
  id: string;
  sandboxId: string;
  name: string;
  config: unknown;
  imageId: string;
  imageRef: string;
  state: ContainerState;
  pid: number;
  createdAt: bigint;
  startedAt: bigint;
  finishedAt: bigint;
  exitCode: number;
  reason: string;
  message: string;
  logPath: string;
  extra: Record<string, unknown>;
}

const str = (v: string | number | undefined): string => String(v ?? '');
const num = (v: string | number | undefined): number => Number(v ?? 0);

export function openSandboxTable(db: Db): CachedTable<SandboxRecord> {
  return new CachedTable<SandboxRecord>(db, {
    table: 'sandboxes',
    columns: ['id', 'name', 'config', 'runtime_handler', 'state', 'netns_path', 'ips', 'pid', 'image_id', 'created_at', 'extra'],
    toRow: (r) => ({
      id: r.id,
      name: r.name,
      config: JSON.stringify(r.config),
      runtime_handler: r.runtimeHandler,
      state: r.state,
      netns_path: r.netnsPath,
      ips: JSON.stringify(r.ips),
      pid: r.pid,
      image_id: r.imageId,
      created_at: r.createdAt.toString(),
      extra: JSON.stringify(r.extra),
    }),
    fromRow: (row) => ({
      id: str(row.id),
      name: str(row.name),
      config: JSON.parse(str(row.config)) as unknown,
      runtimeHandler: str(row.runtime_handler),
      state: str(row.state) as SandboxState,
      netnsPath: str(row.netns_path),
      ips: JSON.parse(str(row.ips)) as string[],
      pid: num(row.pid),
      imageId: str(row.image_id),
      createdAt: BigInt(str(row.created_at)),
      extra: JSON.parse(str(row.extra)) as Record<string, unknown>,
    }),
  });
}

export function openContainerTable(db: Db): CachedTable<ContainerRecord> {
  return new CachedTable<ContainerRecord>(db, {
    table: 'containers',
    columns: [
      'id', 'sandbox_id', 'name', 'config', 'image_id', 'image_ref', 'state', 'pid', 'created_at', 'started_at',
      'finished_at', 'exit_code', 'reason', 'message', 'log_path', 'extra',
    ],
    toRow: (r) => ({
      id: r.id,
      sandbox_id: r.sandboxId,
      name: r.name,
      config: JSON.stringify(r.config),
      image_id: r.imageId,
      image_ref: r.imageRef,
      state: r.state,
      pid: r.pid,
      created_at: r.createdAt.toString(),
      started_at: r.startedAt.toString(),
      finished_at: r.finishedAt.toString(),
      exit_code: r.exitCode,
      reason: r.reason,
      message: r.message,
      log_path: r.logPath,
      extra: JSON.stringify(r.extra),
    }),
    fromRow: (row) => ({
      id: str(row.id),
      sandboxId: str(row.sandbox_id),
      name: str(row.name),
      config: JSON.parse(str(row.config)) as unknown,
      imageId: str(row.image_id),
      imageRef: str(row.image_ref),
      state: str(row.state) as ContainerState,
      pid: num(row.pid),
      createdAt: BigInt(str(row.created_at)),
      startedAt: BigInt(str(row.started_at)),
      finishedAt: BigInt(str(row.finished_at)),
      exitCode: num(row.exit_code),
      reason: str(row.reason),
      message: str(row.message),
      logPath: str(row.log_path),
      extra: JSON.parse(str(row.extra)) as Record<string, unknown>,
    }),
  });
}
