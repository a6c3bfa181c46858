import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { LocalContentStore } from '../core/content/local-store.js';
import { INGEST_DATA, readIngestRecord } from '../core/content/writer.js';
import { formatElapsed, humanSize, shortId } from './format.js';

/** A terminal-ish output: what process.stdout and process.stderr both are. */
export interface ProgressOutput {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

const CLEAR_LINE = '\x1b[2K';

/**
 * Bytes that arrived in a content store's ingests since the meter started:
 * the sum over ingest/<id>/data of the largest size seen. When an ingest
 * vanishes because its blob was committed, the blob's full size counts (the
 * last bytes may have arrived between two samples).
 */
export class IngestMeter {
  private readonly ingests = new Map<string, { initial: number; max: number; digest?: string; committed: boolean }>();
  private started = false;
  private readonly store: LocalContentStore;

  constructor(private readonly contentRoot: string) {
    this.store = new LocalContentStore(contentRoot);
  }

  /** Reads the current sizes; unreadable or vanished entries are skipped. */
  async sample(): Promise<number> {
    const ingestDir = join(this.contentRoot, 'ingest');
    let names: string[];
    try {
      names = await readdir(ingestDir);
    } catch {
      names = [];
    }
    const present = new Set(names);
    await Promise.all(names.map((name) => this.observe(name, join(ingestDir, name))));
    await Promise.all(
      [...this.ingests.values()].map(async (ingest) => {
        if (ingest.committed || ingest.digest === undefined) return;
        const info = await this.store.info(ingest.digest).catch(() => undefined);
        if (info !== undefined) {
          ingest.max = Math.max(ingest.max, info.size);
          ingest.committed = true;
        }
      }),
    );
    for (const [name, ingest] of this.ingests) if (!present.has(name) && !ingest.committed) ingest.committed = true;
    this.started = true;
    let total = 0;
    for (const ingest of this.ingests.values()) total += ingest.max - ingest.initial;
    return total;
  }

  private async observe(name: string, dir: string): Promise<void> {
    let size: number;
    try {
      size = (await stat(join(dir, INGEST_DATA))).size;
    } catch {
      return;
    }
    let ingest = this.ingests.get(name);
    if (ingest === undefined) {
      // Partial data left over from an earlier pull is not "arriving" now.
      ingest = { initial: this.started ? 0 : size, max: size, committed: false };
      const record = await readIngestRecord(dir).catch(() => undefined);
      if (record?.expected !== undefined) ingest.digest = record.expected.digest;
      this.ingests.set(name, ingest);
    }
    ingest.max = Math.max(ingest.max, size);
  }
}

/** One line rewritten in place on a TTY ("pulling x  2.1s  3.4 MiB"); silent otherwise. */
export class LiveLine {
  private drawn = false;

  constructor(private readonly out: ProgressOutput) {}

  update(text: string): void {
    if (!this.out.isTTY) return;
    this.out.write(`\r${CLEAR_LINE}${text}`);
    this.drawn = true;
  }

  /** Clears the live line (the caller prints the final result). */
  finish(): void {
    if (this.drawn) this.out.write(`\r${CLEAR_LINE}`);
    this.drawn = false;
  }
}

/** Polls an IngestMeter every `intervalMs` and shows elapsed time and bytes received. */
export function startPullIndicator(
  label: string,
  meter: IngestMeter,
  out: ProgressOutput,
  intervalMs = 200,
): { stop(): Promise<{ elapsedMs: number; bytes: number }> } {
  const line = new LiveLine(out);
  const startedAt = Date.now();
  let bytes = 0;
  let pending: Promise<void> = Promise.resolve();
  const tick = (): void => {
    pending = meter.sample().then((n) => {
      bytes = n;
      line.update(`${label}  ${formatElapsed(Date.now() - startedAt)}  ${humanSize(bytes)} received`);
    });
  };
  tick();
  const timer = setInterval(tick, intervalMs);
  return {
    async stop() {
      clearInterval(timer);
      await pending;
      line.finish();
      return { elapsedMs: Date.now() - startedAt, bytes };
    },
  };
}

export type BlobState = 'waiting' | 'uploading' | 'exists' | 'done' | 'failed';

interface BlobLine {
  digest: string;
  total: number;
  sent: number;
  state: BlobState;
}

const BAR_WIDTH = 30;

/**
 * One line per blob (bytes sent / total and a bar), redrawn in place on a TTY.
 * Elsewhere each blob gets one plain line when it finishes, so logs stay readable.
 */
export class TransferProgress {
  private readonly lines: BlobLine[] = [];
  private drawnLines = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly out: ProgressOutput,
    private readonly redrawMs = 100,
  ) {}

  add(digest: string, total: number): void {
    this.lines.push({ digest, total, sent: 0, state: 'waiting' });
    if (this.out.isTTY && this.timer === undefined) {
      this.timer = setInterval(() => this.redraw(), this.redrawMs);
    }
  }

  /** Sets the bytes sent so far (a retried upload starts again from 0). */
  setSent(digest: string, sent: number): void {
    const line = this.find(digest);
    line.sent = sent;
    if (line.state === 'waiting') line.state = 'uploading';
  }

  setState(digest: string, state: BlobState): void {
    const line = this.find(digest);
    line.state = state;
    if (state === 'exists' || state === 'done') line.sent = line.total;
    if (!this.out.isTTY && state !== 'uploading' && state !== 'waiting') this.out.write(`${plainLine(line)}\n`);
  }

  /** Draws the final state and stops redrawing. */
  finish(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    if (this.out.isTTY) this.redraw();
  }

  private redraw(): void {
    let text = this.drawnLines > 0 ? `\x1b[${this.drawnLines}A` : '';
    for (const line of this.lines) text += `\r${CLEAR_LINE}${barLine(line)}\n`;
    this.out.write(text);
    this.drawnLines = this.lines.length;
  }

  private find(digest: string): BlobLine {
    const line = this.lines.find((l) => l.digest === digest);
    if (!line) throw new Error(`progress: blob ${digest} was never added`);
    return line;
  }
}

export function barLine(line: { digest: string; total: number; sent: number; state: BlobState }): string {
  const fraction = line.total > 0 ? Math.min(1, line.sent / line.total) : line.state === 'done' || line.state === 'exists' ? 1 : 0;
  const filled = Math.round(fraction * BAR_WIDTH);
  const bar = '='.repeat(filled) + (filled < BAR_WIDTH ? '>' : '') + ' '.repeat(Math.max(0, BAR_WIDTH - filled - 1));
  const amounts = `${humanSize(line.sent)} / ${humanSize(line.total)}`;
  return `${shortId(line.digest)}  [${bar}]  ${amounts.padEnd(23)}  ${line.state}`;
}

function plainLine(line: BlobLine): string {
  const what =
    line.state === 'exists' ? 'already present' : line.state === 'done' ? `pushed ${line.total} bytes` : 'failed';
  return `${line.digest}  ${what}`;
}
