/** One measured quantity of one runtime, and helpers to make them. */
import { summarize, type LatencySummary } from './stats.js';

export interface Measure {
  /** Stable key shared by both runtimes' rows, e.g. `runpod.seq.p50`. */
  key: string;
  label: string;
  unit: string;
  value: number;
  /** True when a larger value is better (throughput); the ratio reads the other way. */
  higherIsBetter?: boolean;
}

export interface FigureRun {
  measures: Measure[];
  /** Full summaries and any extra detail, kept in the JSON only. */
  detail: Record<string, LatencySummary | number | string>;
}

export function emptyRun(): FigureRun {
  return { measures: [], detail: {} };
}

/** Adds p50 and p99 rows for `samples` under `key`. */
export function addLatency(run: FigureRun, key: string, label: string, samples: readonly number[]): void {
  const s = summarize(samples);
  run.detail[key] = s;
  run.measures.push({ key: `${key}.p50`, label: `${label} p50 (n=${s.n})`, unit: 'ms', value: s.p50 });
  run.measures.push({ key: `${key}.p99`, label: `${label} p99 (n=${s.n})`, unit: 'ms', value: s.p99 });
}

export function addValue(run: FigureRun, key: string, label: string, unit: string, value: number, higherIsBetter = false): void {
  run.measures.push({ key, label, unit, value: Math.round(value * 100) / 100, higherIsBetter });
}

/**
 * One run from several rounds of the same figure: each measure is the median
 * of its rounds' values (the rounds alternate with the other runtime's, so
 * drift of the machine over the run falls on both), and the detail keeps
 * every round.
 */
export function medianOfRounds(rounds: readonly FigureRun[]): FigureRun {
  if (rounds.length === 1) return rounds[0]!;
  const first = rounds[0]!;
  const measures = first.measures.map((m) => {
    const values = rounds.map((r) => r.measures.find((x) => x.key === m.key)?.value).filter((v): v is number => v !== undefined);
    return { ...m, value: median(values) };
  });
  const detail: FigureRun['detail'] = { rounds: rounds.length };
  rounds.forEach((r, i) => {
    for (const [key, value] of Object.entries(r.detail)) detail[`round${i + 1}.${key}`] = value;
  });
  return { measures, detail };
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}
