/**
 * Top self-time functions of a V8 .cpuprofile (as written by node --cpu-prof):
 * `node dist/bench/profile-top.js <file.cpuprofile> [count]`.
 */
import { readFile } from 'node:fs/promises';
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

export interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface SelfTime {
  name: string;
  where: string;
  ms: number;
  percent: number;
}

function location(frame: CallFrame, root: string): string {
  if (!frame.url) return '(native)';
  const path = frame.url.startsWith('file://') ? fileURLToPath(frame.url) : frame.url;
  return `${path.startsWith(root) ? relative(root, path) : path}:${frame.lineNumber + 1}`;
}

export interface Window {
  /** Monotonic microseconds (the profile's clock, and process.hrtime's). */
  fromUs: number;
  toUs: number;
}

/** Self time per function (name + location), largest first; only samples inside `window` if given. */
export function selfTimes(profile: CpuProfile, root = process.cwd(), window?: Window): SelfTime[] {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const totals = new Map<string, SelfTime>();
  let all = 0;
  let at = profile.startTime;
  profile.samples.forEach((id, i) => {
    const us = profile.timeDeltas[i] ?? 0;
    at += us;
    if (window && (at < window.fromUs || at > window.toUs)) return;
    all += us;
    const frame = byId.get(id)?.callFrame;
    if (!frame) return;
    const name = frame.functionName || '(anonymous)';
    const where = location(frame, root);
    const key = `${name}@${where}`;
    const entry = totals.get(key) ?? { name, where, ms: 0, percent: 0 };
    entry.ms += us / 1000;
    totals.set(key, entry);
  });
  return [...totals.values()]
    .map((e) => ({ ...e, ms: Math.round(e.ms * 10) / 10, percent: Math.round((e.ms / (all / 1000)) * 1000) / 10 }))
    .sort((a, b) => b.ms - a.ms);
}

async function cli(): Promise<void> {
  const [file, count, from, to] = process.argv.slice(2);
  if (!file) throw new Error('usage: node dist/bench/profile-top.js <file.cpuprofile> [count] [from_us to_us]');
  const profile = JSON.parse(await readFile(file, 'utf8')) as CpuProfile;
  const window = from && to ? { fromUs: Number(from), toUs: Number(to) } : undefined;
  const seconds = window ? (window.toUs - window.fromUs) / 1e6 : (profile.endTime - profile.startTime) / 1e6;
  process.stdout.write(`${file}: ${seconds.toFixed(1)} s profiled\n| self ms | % | function | where |\n| ---: | ---: | --- | --- |\n`);
  for (const e of selfTimes(profile, process.cwd(), window).slice(0, Number(count ?? 25))) {
    process.stdout.write(`| ${e.ms} | ${e.percent} | ${e.name} | ${e.where} |\n`);
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  cli().catch((err: Error) => {
    process.stderr.write(`${err.message}\n`);
    process.exitCode = 1;
  });
}
