/** Readers of /proc for memory and CPU figures. */
import { spawn } from 'node:child_process';
import { readFile, readdir } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { clkTck } from './machine.js';

export interface ProcInfo {
  pid: number;
  ppid: number;
  comm: string;
  cmdline: string[];
}

/** VmRSS of a process in KiB (0 when the process is gone). */
export async function rssKiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
  return match ? Number(match[1]) : 0;
}

/** RSS of a node process started with `nodeArgs` that loads nothing and waits: the runtime's own floor. */
export async function idleNodeRssKiB(nodeArgs: readonly string[]): Promise<number> {
  const child = spawn(process.execPath, [...nodeArgs, '-e', 'setInterval(() => {}, 1 << 30)'], { stdio: 'ignore' });
  const failed = new Promise<never>((_, reject) => child.once('error', reject));
  failed.catch(() => undefined);
  try {
    await Promise.race([sleep(1000), failed]);
    const kib = await rssKiB(child.pid!);
    if (kib === 0 || child.exitCode !== null) throw new Error(`idle node process (${nodeArgs.join(' ')}) exited with ${child.exitCode}`);
    return kib;
  } finally {
    child.kill();
  }
}

/** utime + stime of a process in seconds. */
export async function cpuSeconds(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  // comm may contain spaces and parentheses: fields start after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state); utime is field 14, stime field 15.
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  return (utime + stime) / (await clkTck());
}

export async function listProcesses(): Promise<ProcInfo[]> {
  const entries = await readdir('/proc');
  const out: ProcInfo[] = [];
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    try {
      const [stat, cmdline] = await Promise.all([
        readFile(`/proc/${pid}/stat`, 'utf8'),
        readFile(`/proc/${pid}/cmdline`, 'utf8'),
      ]);
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      out.push({ pid, ppid, comm, cmdline: cmdline.split('\0').filter((s) => s.length > 0) });
    } catch {
      // the process ended while we listed
    }
  }
  return out;
}

export interface MonitorMemory {
  count: number;
  averageKiB: number;
  totalKiB: number;
}

/** RSS of every process matching `match`: count, average and total. */
export async function monitorMemory(match: (p: ProcInfo) => boolean): Promise<MonitorMemory> {
  const procs = (await listProcesses()).filter(match);
  const rss = await Promise.all(procs.map((p) => rssKiB(p.pid)));
  const total = rss.reduce((a, b) => a + b, 0);
  return { count: procs.length, averageKiB: procs.length ? Math.round(total / procs.length) : 0, totalKiB: total };
}
