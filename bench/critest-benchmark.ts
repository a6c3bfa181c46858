/**
 * `critest -benchmark` against berth and against Debian's containerd 1.6, one
 * after the other, with the same images, CNI chain, runc and parameters.
 * critest times each CRI call itself and writes one JSON per benchmark; this
 * turns them into a table per benchmark in bench/results/.
 *
 *   node dist/bench/critest-benchmark.js [--quick]      (npm run bench:critest)
 */
import { spawn } from 'node:child_process';
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { selectImages } from '../test/critest/images/catalog.js';
import { publishImages } from '../test/critest/images/publish.js';
import { IMAGE_CACHE } from '../test/support/cluster.js';
import { PAUSE_IMAGE, startEnvironment, type BenchEnvironment } from './environment.js';
import { machineFacts } from './machine.js';
import { REPO_ROOT, startBerth, startContainerd, type RuntimeName, type RuntimeUnderTest } from './runtimes.js';
import { round, summarize } from './stats.js';

const RESULTS_DIR = join(REPO_ROOT, 'bench', 'results');
const BUSYBOX = 'registry.k8s.io/e2e-test-images/busybox:1.29-2';
const STAGING = 'gcr.io/k8s-staging-cri-tools';
/** What ListImages sees and what the image benchmark pulls and removes. */
const LISTED_IMAGES = [`${STAGING}/test-image-1:latest`, `${STAGING}/test-image-2:latest`, `${STAGING}/test-image-3:latest`];

export interface BenchmarkParams {
  containersNumber: number;
  containersNumberParallel: number;
  podsNumber: number;
  podsNumberParallel: number;
  imagesNumber: number;
  imagesNumberParallel: number;
  imagePullingBenchmarkImage: string;
  imageListingBenchmarkImages: string[];
}

export function benchmarkParams(quick: boolean): BenchmarkParams {
  return {
    containersNumber: quick ? 10 : 50,
    containersNumberParallel: 1,
    podsNumber: quick ? 10 : 50,
    podsNumberParallel: 1,
    imagesNumber: quick ? 10 : 30,
    imagesNumberParallel: 1,
    imagePullingBenchmarkImage: LISTED_IMAGES[0]!,
    imageListingBenchmarkImages: LISTED_IMAGES,
  };
}

/** critest's params file is YAML; this subset of it is also valid JSON-in-YAML. */
export function paramsYaml(params: BenchmarkParams): string {
  return Object.entries(params)
    .map(([key, value]) => `${key}: ${JSON.stringify(value)}`)
    .join('\n') + '\n';
}

/** critest's LifecycleBenchmarksResultsSet (pkg/benchmark/util.go). */
export interface LifecycleResults {
  operationsNames: string[];
  numParallel: number;
  datapoints: Array<{ operationsDurationsNs: number[] }>;
}

export interface OperationSummary {
  operation: string;
  n: number;
  p50: number;
  p99: number;
  mean: number;
}

/** Per operation of one benchmark: milliseconds over every datapoint. */
export function summarizeLifecycle(results: LifecycleResults): OperationSummary[] {
  return results.operationsNames.map((operation, i) => {
    const samples = results.datapoints.map((d) => d.operationsDurationsNs[i]).filter((v): v is number => typeof v === 'number').map((ns) => ns / 1e6);
    if (samples.length === 0) return { operation, n: 0, p50: NaN, p99: NaN, mean: NaN };
    const s = summarize(samples);
    return { operation, n: s.n, p50: s.p50, p99: s.p99, mean: s.mean };
  });
}

export type RunSummaries = Partial<Record<RuntimeName, Record<string, OperationSummary[]>>>;

function cell(v: number | undefined): string {
  return v === undefined || Number.isNaN(v) ? '—' : String(v);
}

/** One table per benchmark file: p50 and p99 of each operation on both runtimes, and the p50 ratio. */
export function comparisonMarkdown(runs: RunSummaries): string {
  const files = [...new Set(Object.values(runs).flatMap((r) => Object.keys(r ?? {})))].sort();
  const out: string[] = [];
  for (const file of files) {
    out.push(`### ${file}`, '', '| operation | n | berth p50 ms | containerd p50 ms | berth/containerd p50 | berth p99 ms | containerd p99 ms |', '| --- | ---: | ---: | ---: | ---: | ---: | ---: |');
    const berth = runs.berth?.[file] ?? [];
    const containerd = runs.containerd?.[file] ?? [];
    for (const op of [...new Set([...berth, ...containerd].map((s) => s.operation))]) {
      const b = berth.find((s) => s.operation === op);
      const c = containerd.find((s) => s.operation === op);
      const ratio = b && c && c.p50 > 0 ? String(round(b.p50 / c.p50)) : '—';
      out.push(`| ${op} | ${b?.n ?? c?.n ?? 0} | ${cell(b?.p50)} | ${cell(c?.p50)} | ${ratio} | ${cell(b?.p99)} | ${cell(c?.p99)} |`);
    }
    out.push('');
  }
  return out.join('\n');
}

function log(message: string): void {
  process.stderr.write(`[critest-bench ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
}

function runCritest(args: string[], logFile: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn('critest', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const chunks: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => chunks.push(d));
    child.stderr.on('data', (d: Buffer) => chunks.push(d));
    child.on('error', reject);
    child.on('close', (code) => {
      void writeFile(logFile, Buffer.concat(chunks)).then(() => resolve(code ?? 1), reject);
    });
  });
}

async function benchmarkOne(rt: RuntimeUnderTest, paramsFile: string, workDir: string): Promise<{ summaries: Record<string, OperationSummary[]>; exitCode: number; command: string; summaryLine: string }> {
  const outDir = join(workDir, `${rt.name}-out`);
  await mkdir(outDir, { recursive: true });
  const args = [
    '-benchmark',
    `-runtime-endpoint=unix://${rt.socket}`,
    `-image-endpoint=unix://${rt.socket}`,
    `-benchmarking-params-file=${paramsFile}`,
    `-benchmarking-output-dir=${outDir}`,
    '--ginkgo.no-color',
    '--ginkgo.timeout=60m',
  ];
  const logFile = join(workDir, `${rt.name}-critest.log`);
  const exitCode = await runCritest(args, logFile);
  const logText = await readFile(logFile, 'utf8');
  // ginkgo's closing lines: "Ran 5 of 127 Specs in 80.1 seconds" and "SUCCESS! -- 5 Passed | 0 Failed | ...".
  const closing = [...logText.matchAll(/^(?:Ran \d+ of \d+ Specs.*|(?:SUCCESS|FAIL)! -- .*)$/gm)].map((m) => m[0]);
  const failures = [...logText.matchAll(/^\s*\[FAIL\] (.*)$/gm)].map((m) => `failed: ${m[1]!.trim()}`);
  const summaryLine = [...closing, ...failures].join('; ');
  const summaries: Record<string, OperationSummary[]> = {};
  for (const name of (await readdir(outDir)).filter((f) => f.endsWith('.json')).sort()) {
    summaries[name.replace(/\.json$/, '')] = summarizeLifecycle(JSON.parse(await readFile(join(outDir, name), 'utf8')) as LifecycleResults);
  }
  return { summaries, exitCode, command: `critest ${args.join(' ')}`, summaryLine };
}

export async function main(argv: readonly string[]): Promise<number> {
  const quick = argv.includes('--quick');
  const params = benchmarkParams(quick);
  const date = new Date().toISOString();
  const stamp = date.replace(/:/g, '-').replace(/\.\d+Z$/, '');
  const runtimes: RuntimeUnderTest[] = [];
  let env: BenchEnvironment | undefined;
  const runs: RunSummaries = {};
  const notes: string[] = [];
  let failed = false;
  try {
    env = await startEnvironment();
    await publishImages(selectImages(['busybox', 'test-image-1', 'test-image-2', 'test-image-3']), { registry: env.registry.host, cacheDir: IMAGE_CACHE });
    log(`registry on ${env.registry.host}`);
    const paramsFile = join(env.base, 'benchmark-params.yaml');
    await writeFile(paramsFile, paramsYaml(params));
    runtimes.push(await startBerth({ env }));
    runtimes.push(await startContainerd({ env }));
    for (const rt of runtimes) {
      // Sandbox and default container images in place before timing (the image benchmark times pulls itself).
      for (const image of [PAUSE_IMAGE, BUSYBOX]) await rt.cri.image.PullImage({ image: { image } });
    }
    for (const rt of runtimes) {
      log(`${rt.name}: critest -benchmark`);
      const result = await benchmarkOne(rt, paramsFile, env.base);
      runs[rt.name] = result.summaries;
      if (result.exitCode !== 0) {
        // Keep the evidence: the work dir goes away with the environment.
        const kept = join(RESULTS_DIR, `${stamp}-critest-benchmark-${rt.name}.log`);
        await mkdir(RESULTS_DIR, { recursive: true });
        await writeFile(kept, await readFile(join(env.base, `${rt.name}-critest.log`)));
        notes.push(`- ${rt.name}: critest's log is kept in ${kept.slice(REPO_ROOT.length + 1)}`);
      }
      notes.push(`- **${rt.name}** (${rt.version}): \`${rt.command}\`; \`${result.command}\` exited ${result.exitCode}${result.summaryLine ? ` (${result.summaryLine})` : ''}`);
      if (result.exitCode !== 0) failed = true;
    }
  } catch (err) {
    failed = true;
    notes.push(`- run aborted: ${(err as Error).message.split('\n')[0]}`);
    log(`aborted: ${(err as Error).stack ?? String(err)}`);
  } finally {
    for (const rt of runtimes.reverse()) await rt.stop().catch((err: Error) => log(`stopping ${rt.name}: ${err.message}`));
    await env?.stop().catch((err: Error) => log(`stopping the registry: ${err.message}`));
  }
  const machine = await machineFacts();
  const markdown = [
    `# critest -benchmark: berth vs containerd — ${date}${quick ? ' (quick)' : ''}`,
    '',
    `Command: \`npm run bench:critest${quick ? ' -- --quick' : ''}\``,
    '',
    `Machine: ${machine.nproc} CPUs (${machine.cpuModel}), kernel ${machine.kernel}, cgroups ${machine.cgroups}, ${machine.runc.split('\n')[0]}, ${machine.conmon.split('\n')[0]}.`,
    '',
    ...notes,
    '',
    `Parameters (critest \`-benchmarking-params-file\`): \`${JSON.stringify(params)}\`. Both daemons run with runc, the bench's CNI chain and mirrors (see bench/README.md); the pause and busybox images are pulled before timing. Durations are critest's own, per CRI call; ratio below 1: berth faster. berth runs \`runc create\` (under conmon) in CreateContainer, containerd in StartContainer: compare their sums. The machine is shared, so p99s are noisy.`,
    '',
    comparisonMarkdown(runs),
  ].join('\n');
  await mkdir(RESULTS_DIR, { recursive: true });
  await writeFile(join(RESULTS_DIR, `${stamp}-critest-benchmark.md`), markdown + '\n');
  await writeFile(join(RESULTS_DIR, `${stamp}-critest-benchmark.json`), JSON.stringify({ date, quick, params, machine, notes, runs }, null, 2) + '\n');
  process.stdout.write(markdown + '\n');
  return failed ? 1 : 0;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  if (process.getuid?.() !== 0) {
    process.stderr.write('critest -benchmark starts runc containers and network namespaces: run it as root\n');
    process.exit(2);
  }
  main(process.argv.slice(2)).then((code) => process.exit(code), (err: unknown) => {
    process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
    process.exit(2);
  });
}
