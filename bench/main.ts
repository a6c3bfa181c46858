/**
 * berth versus containerd, side by side: both daemons run on private directories,
 * each with its own CNI bridge, and the same CRI client drives them one after the
 * other through each figure. Results go to bench/results/.
 */
import { join } from 'node:path';
import { publishBigImage, type BigImage } from './big-image.js';
import { BUSYBOX_IMAGE, PAUSE_IMAGE, startEnvironment, type BenchEnvironment } from './environment.js';
import { containerFigure } from './figures/container.js';
import { execFigure } from './figures/exec.js';
import { pullRound, pullRun, type PullSample } from './figures/pull.js';
import { sandboxFigure } from './figures/sandbox.js';
import { depopulate, idleMemory, listFigure, memoryFigure, populate, type PopulatedNode } from './figures/scale.js';
import { machineFacts } from './machine.js';
import { medianOfRounds, type FigureRun } from './measures.js';
import { ensureImage } from './pods.js';
import { writeResults, runMarkdown, type FigureResult, type RunInfo } from './report.js';
import { BERTHD, REPO_ROOT, startBerth, startContainerd, type RuntimeName, type RuntimeUnderTest } from './runtimes.js';
import { nowMs } from './stats.js';
import { FIGURES, parseSettings, type BenchSettings, type FigureName } from './settings.js';

const TITLES: Record<FigureName, string> = {
  sandbox: 'Pod sandboxes',
  container: 'Containers and pod lifecycle',
  exec: 'ExecSync',
  list: 'List and status calls on a populated node',
  memory: 'Memory and idle CPU',
  pull: 'Image pull and remove',
};

function log(message: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
}

function newResult(figure: FigureName): FigureResult {
  return { figure, number: FIGURES.indexOf(figure) + 1, title: TITLES[figure], runs: {}, errors: {} };
}

async function attempt(result: FigureResult, rt: RuntimeUnderTest, body: () => Promise<FigureRun>, label = ''): Promise<void> {
  log(`${result.figure}: ${rt.name}${label}`);
  try {
    const fromUs = Math.round(nowMs() * 1000);
    const run = await body();
    // Monotonic µs, the clock of V8 CPU profiles: `profile-top.js <profile> 25 <from> <to>`.
    run.detail['window_us'] = `${fromUs} ${Math.round(nowMs() * 1000)}`;
    result.runs[rt.name] = run;
  } catch (err) {
    result.errors[rt.name] = (err as Error).message.split('\n')[0] ?? String(err);
    log(`${result.figure}: ${rt.name} failed: ${(err as Error).stack ?? String(err)}`);
  }
}

export async function main(argv: readonly string[]): Promise<number> {
  let settings: BenchSettings;
  try {
    settings = parseSettings(argv);
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`);
    return 2;
  }
  const info: RunInfo = {
    date: new Date().toISOString(),
    mode: settings.quick ? 'quick' : 'full',
    command: ['npm run bench', ...(argv.length ? ['--', ...argv] : [])].join(' '),
    machine: await machineFacts(),
    runtimes: {},
    notes: [
      `Both daemons use runc, the same CNI chain (bridge + host-local + loopback, berth on 10.238.0.0/22, containerd on 10.237.0.0/22), overlayfs, and the same local registry mirror; images ${PAUSE_IMAGE} and ${BUSYBOX_IMAGE} are pulled before timing.`,
      'Latencies are measured by the client around each CRI call over the unix socket (grpc-js), sequentially unless stated.',
      `Figures 1-3 run in ${settings.figureRounds} round(s) per runtime, alternating (who goes first swaps each round); each row is the median of its rounds.`,
      'StopContainer uses timeout 0 (busybox sleep as PID 1 ignores SIGTERM, so a grace period would only time the wait).',
      'containerd runs one shim per pod; berth one conmon per container (including the pause container).',
    ],
  };
  const results: FigureResult[] = [];
  const runtimes: RuntimeUnderTest[] = [];
  let env: BenchEnvironment | undefined;
  let interrupted = false;
  const onSignal = (): void => {
    interrupted = true;
    log('interrupted: cleaning up');
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const check = (): void => {
    if (interrupted) throw new Error('interrupted');
  };
  try {
    log(`mode ${info.mode}, figures: ${[...settings.only].join(', ')}; berthd ${BERTHD}`);
    env = await startEnvironment();
    log(`registry on ${env.registry.host}`);
    // Built before any timing: building blocks this process's event loop for seconds.
    const bigImage: BigImage | undefined = settings.only.has('pull')
      ? await publishBigImage(env.registry.host, settings.layerCount, settings.layerMiB)
      : undefined;
    runtimes.push(await startBerth({ env, ...(settings.cpuProfDir ? { cpuProfDir: settings.cpuProfDir } : {}) }));
    runtimes.push(await startContainerd({ env }));
    for (const rt of runtimes) {
      info.runtimes[rt.name] = { version: rt.version, command: rt.command };
      await ensureImage(rt, PAUSE_IMAGE);
      await ensureImage(rt, BUSYBOX_IMAGE);
      log(`${rt.name} ready: ${rt.version}`);
    }
    await new Promise((r) => setTimeout(r, 2000));
    const idle = new Map<RuntimeName, number>();
    for (const rt of runtimes) idle.set(rt.name, await idleMemory(rt));

    const simple: [FigureName, (rt: RuntimeUnderTest, s: BenchSettings) => Promise<FigureRun>][] = [
      ['sandbox', sandboxFigure],
      ['container', containerFigure],
      ['exec', execFigure],
    ];
    for (const [figure, body] of simple) {
      if (!settings.only.has(figure)) continue;
      const result = newResult(figure);
      const rounds = new Map<RuntimeName, FigureRun[]>();
      for (let round = 0; round < settings.figureRounds; round++) {
        // Each round swaps who goes first, so neither runtime always follows the other's load.
        for (const rt of round % 2 === 0 ? runtimes : [...runtimes].reverse()) {
          check();
          if (result.errors[rt.name]) continue;
          const roundResult = newResult(figure);
          await attempt(roundResult, rt, () => body(rt, settings), settings.figureRounds > 1 ? ` round ${round + 1}` : '');
          const run = roundResult.runs[rt.name];
          if (run) rounds.set(rt.name, [...(rounds.get(rt.name) ?? []), run]);
          else result.errors[rt.name] = `round ${round + 1}: ${roundResult.errors[rt.name]}`;
        }
      }
      for (const rt of runtimes) {
        const taken = rounds.get(rt.name);
        if (!result.errors[rt.name] && taken) result.runs[rt.name] = medianOfRounds(taken);
      }
      results.push(result);
    }

    if (settings.only.has('list') || settings.only.has('memory')) {
      const list = newResult('list');
      const memory = newResult('memory');
      for (const rt of runtimes) {
        check();
        let node: PopulatedNode | undefined;
        try {
          log(`populating ${rt.name} with ${settings.scalePods} pods`);
          node = await populate(rt, settings.scalePods);
          const populated = node;
          if (settings.only.has('list')) await attempt(list, rt, () => listFigure(rt, settings, populated));
          check();
          if (settings.only.has('memory')) await attempt(memory, rt, () => memoryFigure(rt, settings, populated, idle.get(rt.name)));
        } catch (err) {
          const message = `populating ${settings.scalePods} pods failed: ${(err as Error).message.split('\n')[0]}`;
          list.errors[rt.name] = message;
          memory.errors[rt.name] = message;
          log(`${rt.name}: ${message}`);
        } finally {
          log(`removing ${rt.name}'s pods`);
          if (node) await depopulate(rt, node).catch((err: Error) => log(`depopulate ${rt.name}: ${err.message}`));
        }
      }
      if (settings.only.has('list')) results.push(list);
      if (settings.only.has('memory')) results.push(memory);
    }

    if (bigImage) {
      const result = newResult('pull');
      const image = bigImage;
      log(`big image ${image.reference}: ${(image.compressedBytes / 1e6).toFixed(0)} MB, ${settings.pullRounds} rounds`);
      const samples = new Map<RuntimeName, PullSample[]>();
      const refs = new Map<RuntimeName, string>();
      const fromUs = new Map<RuntimeName, number>();
      for (let round = 0; round < settings.pullRounds; round++) {
        for (const rt of runtimes) {
          check();
          if (result.errors[rt.name]) continue;
          log(`pull: ${rt.name} round ${round + 1}`);
          try {
            if (!fromUs.has(rt.name)) fromUs.set(rt.name, Math.round(nowMs() * 1000));
            const { imageRef, ...sample } = await pullRound(rt, image);
            refs.set(rt.name, imageRef);
            samples.set(rt.name, [...(samples.get(rt.name) ?? []), sample]);
          } catch (err) {
            result.errors[rt.name] = (err as Error).message.split('\n')[0] ?? String(err);
            log(`pull: ${rt.name} failed: ${(err as Error).stack ?? String(err)}`);
          }
        }
      }
      for (const rt of runtimes) {
        const taken = samples.get(rt.name);
        if (result.errors[rt.name] || !taken) continue;
        const run = pullRun(taken, image, refs.get(rt.name) ?? '');
        // The rounds interleave, so this window also holds the other runtime's pulls.
        run.detail['window_us'] = `${fromUs.get(rt.name)} ${Math.round(nowMs() * 1000)}`;
        result.runs[rt.name] = run;
      }
      results.push(result);
    }
  } catch (err) {
    log(`bench aborted: ${(err as Error).stack ?? String(err)}`);
    info.notes.push(`Run aborted: ${(err as Error).message.split('\n')[0]}`);
  } finally {
    for (const rt of runtimes.reverse()) {
      log(`stopping ${rt.name}`);
      await rt.stop().catch((err: Error) => log(`stopping ${rt.name}: ${err.message}`));
    }
    await env?.stop().catch((err: Error) => log(`stopping the registry: ${err.message}`));
  }
  const dir = join(REPO_ROOT, 'bench', 'results');
  const files = await writeResults(dir, info, results);
  process.stdout.write(runMarkdown(info, results) + '\n');
  log(`wrote ${files.join(', ')}`);
  const failed = results.some((r) => Object.keys(r.errors).length > 0) || interrupted;
  return failed ? 1 : 0;
}
