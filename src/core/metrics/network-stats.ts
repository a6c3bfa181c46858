import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { NotFoundError } from '../errors.js';

/** Counters of one interface, from /proc/<pid>/net/dev. */
export interface InterfaceStats {
  name: string;
  rxBytes: number;
  rxPackets: number;
  rxErrors: number;
  rxDropped: number;
  txBytes: number;
  txPackets: number;
  txErrors: number;
  txDropped: number;
}

export class NetDevParseError extends Error {
  constructor(detail: string) {
    super(`cannot parse /proc/net/dev: ${detail}`);
    this.name = 'NetDevParseError';
  }
}

/**
 * Parses the text of /proc/<pid>/net/dev: two header lines, then
 * "iface: 8 receive counters 8 transmit counters" per interface.
 */
export function parseNetDev(text: string): InterfaceStats[] {
  const result: InterfaceStats[] = [];
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':');
    if (colon < 0 || line.includes('|')) continue;
    const name = line.slice(0, colon).trim();
    const fields = line.slice(colon + 1).trim().split(/\s+/);
    if (fields.length < 16) throw new NetDevParseError(`interface ${name} has ${fields.length} counters, expected 16`);
    const n = fields.map((f) => {
      if (!/^\d+$/.test(f)) throw new NetDevParseError(`interface ${name} has a non-numeric counter ${JSON.stringify(f)}`);
      return Number(f);
    });
    result.push({
      name,
      rxBytes: n[0]!,
      rxPackets: n[1]!,
      rxErrors: n[2]!,
      rxDropped: n[3]!,
      txBytes: n[8]!,
      txPackets: n[9]!,
      txErrors: n[10]!,
      txDropped: n[11]!,
    });
  }
  return result;
}

export interface ReadNetworkStatsOptions {
  /** keep "lo"; default false (the kubelet reports pod interfaces only) */
  includeLoopback?: boolean;
  procRoot?: string;
}

/**
 * Interface counters of the network namespace a process is in: pass the
 * pid of any process of the pod (the sandbox's pause process).
 */
export async function readNetworkStats(pid: number, options: ReadNetworkStatsOptions = {}): Promise<InterfaceStats[]> {
  const path = join(options.procRoot ?? '/proc', String(pid), 'net', 'dev');
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ESRCH') throw new NotFoundError(`process ${pid} does not exist, cannot read its network stats (did the sandbox stop?)`, { cause: err });
    throw err;
  }
  const all = parseNetDev(text);
  return options.includeLoopback === true ? all : all.filter((i) => i.name !== 'lo');
}

/** The pod's default interface ("eth0" as CNI plugins name it), else the first one. */
export function defaultInterface(stats: readonly InterfaceStats[], name = 'eth0'): InterfaceStats | undefined {
  return stats.find((i) => i.name === name) ?? stats.find((i) => i.name !== 'lo');
}
