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
