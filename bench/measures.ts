/** One measured quantity of one runtime, and helpers to make them. */
import { median, round, summarize, type LatencySummary } from './stats.js';

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
 * of its rounds' values, taken measure by measure (the rounds alternate with
 * the other runtime's, so drift of the machine over the run falls on both),
 * and the detail keeps every round under `roundN.`.
 */
export function medianOfRounds(rounds: readonly FigureRun[]): FigureRun {
  if (rounds.length === 1) return rounds[0]!;
  const byKey = new Map<string, { measure: Measure; values: number[] }>();
  for (const round of rounds) {
    for (const m of round.measures) {
      const entry = byKey.get(m.key) ?? { measure: m, values: [] };
      entry.values.push(m.value);
      byKey.set(m.key, entry);
    }
  }
  const measures = [...byKey.values()].map(({ measure, values }) => ({ ...measure, value: round(median(values)) }));
  const detail: FigureRun['detail'] = { rounds: rounds.length };
  rounds.forEach((r, i) => {
    for (const [key, value] of Object.entries(r.detail)) detail[`round${i + 1}.${key}`] = value;
  });
  return { measures, detail };
}
