/**
 * The on-disk record of what was passed to ADD (and what it returned), like
 * libcni's results/<network>-<containerid>-<ifname>. DEL and CHECK after a
 * daemon restart read it so plugins see exactly the inputs of the ADD.
 */
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { CniResult, NetworkConfigList, RuntimeArgs } from './types.js';

export interface CacheEntry {
  kind: 'berthCniCacheV1';
  config: NetworkConfigList;
  runtime: RuntimeArgs;
  /** Absent while ADD is in flight (or if it failed): DEL still needs config and args. */
  result?: CniResult;
}

export class ResultCache {
  constructor(readonly dir: string) {}

  fileFor(network: string, containerId: string, ifName: string): string {
    return path.join(this.dir, `${network}-${containerId}-${ifName}`);
  }

  async write(entry: CacheEntry): Promise<void> {
    const file = this.fileFor(entry.config.name, entry.runtime.containerId, entry.runtime.ifName);
    await fs.mkdir(this.dir, { recursive: true, mode: 0o700 });
    const tmp = `${file}.tmp-${randomBytes(6).toString('hex')}`;
    const handle = await fs.open(tmp, 'w', 0o600);
    try {
      await handle.writeFile(JSON.stringify(entry));
      await handle.sync();
    } finally {
      await handle.close();
    }
    try {
      await fs.rename(tmp, file);
    } catch (err) {
      await fs.rm(tmp, { force: true });
      throw err;
    }
  }

  /** Every entry recorded for this container and interface, whatever the network is now called. */
  async findForContainer(containerId: string, ifName: string): Promise<CacheEntry[]> {
    let names: string[];
    try {
      names = await fs.readdir(this.dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    const suffix = `-${containerId}-${ifName}`;
    const entries: CacheEntry[] = [];
    for (const name of names.filter((n) => n.endsWith(suffix)).sort()) {
      const entry = await this.readFile(path.join(this.dir, name));
      if (entry && entry.runtime.containerId === containerId && entry.runtime.ifName === ifName) {
        entries.push(entry);
      }
    }
    return entries;
  }

  async remove(network: string, containerId: string, ifName: string): Promise<void> {
    await fs.rm(this.fileFor(network, containerId, ifName), { force: true });
  }

  private async readFile(file: string): Promise<CacheEntry | undefined> {
    let text: string;
    try {
      text = await fs.readFile(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      throw new Error(`CNI result cache file ${file} is corrupt (not JSON); remove it to proceed`);
    }
    if (!isEntry(value)) {
      throw new Error(`CNI result cache file ${file} is not a berth cache entry; remove it to proceed`);
    }
    return value;
  }
}

function isEntry(value: unknown): value is CacheEntry {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Partial<CacheEntry>;
  return (
    v.kind === 'berthCniCacheV1' &&
    typeof v.config === 'object' &&
    v.config !== null &&
    Array.isArray(v.config.plugins) &&
    typeof v.runtime === 'object' &&
    v.runtime !== null &&
    typeof v.runtime.containerId === 'string'
  );
}
