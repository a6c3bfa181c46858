/** Markdown and JSON output of a bench run. */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { MachineFacts } from './machine.js';
import type { FigureRun, Measure } from './measures.js';
import type { RuntimeName } from './runtimes.js';
import type { FigureName } from './settings.js';

export interface FigureResult {
  figure: FigureName;
  number: number;
  title: string;
  runs: Partial<Record<RuntimeName, FigureRun>>;
  errors: Partial<Record<RuntimeName, string>>;
}

export interface RunInfo {
  date: string;
  mode: 'quick' | 'full';
  command: string;
  machine: MachineFacts;
  runtimes: Partial<Record<RuntimeName, { version: string; command: string }>>;
  notes: string[];
}

export interface Row {
  key: string;
  label: string;
  unit: string;
  berth?: number;
  containerd?: number;
  /** berth / containerd. */
  ratio?: number;
  better?: RuntimeName | 'tie';
}

export function rows(result: FigureResult): Row[] {
  const byKey = new Map<string, { berth?: Measure; containerd?: Measure }>();
  for (const name of ['berth', 'containerd'] as const) {
    for (const m of result.runs[name]?.measures ?? []) {
      const entry = byKey.get(m.key) ?? {};
      entry[name] = m;
      byKey.set(m.key, entry);
    }
  }
  return [...byKey.entries()].map(([key, { berth, containerd }]) => {
    const first = (berth ?? containerd)!;
    const row: Row = { key, label: first.label, unit: first.unit };
    if (berth) row.berth = berth.value;
    if (containerd) row.containerd = containerd.value;
    if (berth && containerd && containerd.value !== 0) {
      row.ratio = Math.round((berth.value / containerd.value) * 100) / 100;
      const berthAhead = first.higherIsBetter ? row.ratio > 1 : row.ratio < 1;
      row.better = Math.abs(row.ratio - 1) < 0.05 ? 'tie' : berthAhead ? 'berth' : 'containerd';
    }
    return row;
  });
}

const fmt = (v: number | undefined): string => (v === undefined ? '—' : v >= 100 ? v.toFixed(0) : v.toFixed(2));

export function figureMarkdown(result: FigureResult): string {
  const lines = [`### ${result.number}. ${result.title}`, '', '| measure | unit | berth | containerd | berth/containerd | better |', '| --- | --- | ---: | ---: | ---: | --- |'];
  for (const r of rows(result)) {
    lines.push(`| ${r.label} | ${r.unit} | ${fmt(r.berth)} | ${fmt(r.containerd)} | ${r.ratio === undefined ? '—' : r.ratio.toFixed(2)} | ${r.better ?? '—'} |`);
  }
  for (const [name, error] of Object.entries(result.errors)) lines.push('', `**${name} failed:** ${error}`);
  return lines.join('\n');
}

export function runMarkdown(info: RunInfo, results: readonly FigureResult[]): string {
  const m = info.machine;
  const out = [
    `# berth vs containerd — ${info.date} (${info.mode})`,
    '',
    `Command: \`${info.command}\``,
    '',
    `Machine: ${m.nproc} CPUs (${m.cpuModel}), ${m.memoryGiB} GiB, kernel ${m.kernel}, cgroups ${m.cgroups}, node ${m.node}, ${m.runc}, ${m.conmon}.`,
    '',
    ...Object.entries(info.runtimes).flatMap(([name, r]) => [`- **${name}**: ${r.version}`, `  - \`${r.command}\``]),
    '',
    'Ratios are berth/containerd: below 1 berth is faster or smaller, except for throughputs (above 1 berth is faster). "tie" is within 5 %.',
    ...info.notes.map((n) => `- ${n}`),
    '',
    ...results.flatMap((r) => [figureMarkdown(r), '']),
  ];
  return out.join('\n');
}

export async function writeResults(dir: string, info: RunInfo, results: readonly FigureResult[]): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const written: string[] = [];
  const stamp = info.date.replace(/[:]/g, '-').replace(/\..*$/, '');
  for (const result of results) {
    const file = join(dir, `${stamp}-${result.figure}.json`);
    await writeFile(file, JSON.stringify({ ...info, figure: result.figure, title: result.title, rows: rows(result), runs: result.runs, errors: result.errors }, null, 2) + '\n');
    written.push(file);
  }
  const md = join(dir, 'latest.md');
  await writeFile(md, runMarkdown(info, results));
  written.push(md);
  return written;
}
