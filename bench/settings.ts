/** Command-line flags and the sample counts they select. */

export const FIGURES = ['sandbox', 'container', 'exec', 'list', 'memory', 'pull'] as const;
export type FigureName = (typeof FIGURES)[number];

export interface BenchSettings {
  quick: boolean;
  only: Set<FigureName>;
  sequentialPods: number;
  parallelPods: number;
  createStartSamples: number;
  lifecycleSamples: number;
  execCalls: number;
  scalePods: number;
  listCalls: number;
  cpuWindowSeconds: number;
  layerCount: number;
  layerMiB: number;
  /** Pull+remove rounds per runtime (alternating between them). */
  pullRounds: number;
  /** Rounds of figures 1-3 per runtime, alternating between them; each row reports the median of its values over the rounds. */
  figureRounds: number;
  /** Directory for berthd's CPU profile (BERTH_CPU_PROF), if set. */
  cpuProfDir?: string;
}

export const USAGE = `usage: npm run bench -- [--quick] [--only <figure>[,<figure>...]]
figures: ${FIGURES.map((f, i) => `${i + 1}=${f}`).join(' ')}
env: BERTH_CPU_PROF=<dir> runs berthd under node --cpu-prof, writing the profile there`;

function parseFigure(word: string): FigureName {
  const byNumber = /^\d+$/.test(word) ? FIGURES[Number(word) - 1] : undefined;
  const name = byNumber ?? FIGURES.find((f) => f === word);
  if (!name) throw new Error(`unknown figure "${word}"\n${USAGE}`);
  return name;
}

export function parseSettings(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): BenchSettings {
  let quick = false;
  const only = new Set<FigureName>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--quick') quick = true;
    else if (arg === '--only' || arg.startsWith('--only=')) {
      const value = arg === '--only' ? argv[++i] : arg.slice('--only='.length);
      if (!value) throw new Error(`--only needs a figure\n${USAGE}`);
      for (const word of value.split(',')) only.add(parseFigure(word.trim()));
    } else if (arg === '--help' || arg === '-h') throw new Error(USAGE);
    else throw new Error(`unknown argument "${arg}"\n${USAGE}`);
  }
  const selected = only.size ? only : new Set<FigureName>(FIGURES);
  const counts = quick
    ? { sequentialPods: 20, parallelPods: 20, createStartSamples: 15, lifecycleSamples: 10, execCalls: 50, scalePods: 20, listCalls: 100, cpuWindowSeconds: 20, layerCount: 5, layerMiB: 40, pullRounds: 3, figureRounds: 1 }
    : { sequentialPods: 50, parallelPods: 20, createStartSamples: 30, lifecycleSamples: 20, execCalls: 100, scalePods: 100, listCalls: 200, cpuWindowSeconds: 60, layerCount: 5, layerMiB: 40, pullRounds: 5, figureRounds: 3 };
  const settings: BenchSettings = { quick, only: selected, ...counts };
  if (env['BERTH_CPU_PROF']) settings.cpuProfDir = env['BERTH_CPU_PROF'];
  return settings;
}
