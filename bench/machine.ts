/** Facts about the machine and the runtimes under test, recorded with every result. */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import os from 'node:os';

export interface MachineFacts {
  hostname: string;
  nproc: number;
  cpuModel: string;
  memoryGiB: number;
  kernel: string;
  node: string;
  cgroups: string;
  runc: string;
  conmon: string;
}

export function output(command: string, args: string[]): Promise<string> {
  return new Promise((resolve) => {
    execFile(command, args, { timeout: 10_000 }, (err, stdout, stderr) => resolve(err ? `unavailable (${err.message.split('\n')[0]})` : (stdout || stderr).trim()));
  });
}

let tck: Promise<number> | undefined;
/** Clock ticks per second (USER_HZ) for /proc/<pid>/stat times. */
export function clkTck(): Promise<number> {
  tck ??= output('getconf', ['CLK_TCK']).then((s) => Number(s) || 100);
  return tck;
}

async function cgroupLayout(): Promise<string> {
  const mounts = await readFile('/proc/self/mounts', 'utf8');
  const v1 = /\scgroup\s/.test(mounts);
  const v2 = /\scgroup2\s/.test(mounts);
  return v1 && v2 ? 'hybrid (v1 + v2 unified)' : v2 ? 'v2' : v1 ? 'v1' : 'none';
}

export async function machineFacts(): Promise<MachineFacts> {
  return {
    hostname: os.hostname(),
    nproc: os.availableParallelism(),
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    kernel: os.release(),
    node: process.version,
    cgroups: await cgroupLayout(),
    runc: (await output('runc', ['--version'])).split('\n')[0] ?? '',
    conmon: (await output('conmon', ['--version'])).split('\n')[0] ?? '',
  };
}
