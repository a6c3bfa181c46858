import type { TerminalResizeSource, TerminalSize } from './backend.js';

/** A resize stream that never ends a document is a broken or hostile client. */
const MAX_PENDING_CHARS = 4096;

/**
 * Decodes the resize stream: back-to-back JSON documents {"Width":80,"Height":24}
 * (Go's json.Encoder output; field names matched case-insensitively as Go does).
 * Bytes may arrive split anywhere; malformed documents are skipped.
 */
export class TerminalSizeDecoder {
  private pending = '';

  push(chunk: Buffer | string): TerminalSize[] {
    this.pending += typeof chunk === 'string' ? chunk : chunk.toString('utf8');
    const sizes: TerminalSize[] = [];
    let depth = 0;
    let inString = false;
    let escaped = false;
    let start = -1;
    let consumed = 0;
    for (let i = 0; i < this.pending.length; i++) {
      const c = this.pending[i];
      if (inString) {
        if (escaped) escaped = false;
        else if (c === '\\') escaped = true;
        else if (c === '"') inString = false;
        continue;
      }
      if (c === '"') inString = true;
      else if (c === '{') {
        if (depth === 0) start = i;
        depth++;
      } else if (c === '}' && depth > 0) {
        depth--;
        if (depth === 0) {
          const size = parseSize(this.pending.slice(start, i + 1));
          if (size) sizes.push(size);
          consumed = i + 1;
        }
      } else if (depth === 0) consumed = i + 1;
    }
    this.pending = this.pending.slice(consumed);
    if (this.pending.length > MAX_PENDING_CHARS) this.pending = '';
    return sizes;
  }
}

function parseSize(text: string): TerminalSize | undefined {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof doc !== 'object' || doc === null) return undefined;
  let width: number | undefined;
  let height: number | undefined;
  for (const [key, value] of Object.entries(doc as Record<string, unknown>)) {
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 0xffff) continue;
    if (key.toLowerCase() === 'width') width = value;
    else if (key.toLowerCase() === 'height') height = value;
  }
  if (width === undefined || height === undefined) return undefined;
  return { width, height };
}

/**
 * The resize stream as backends see it: keeps the newest size so a backend
 * that subscribes after the client's first message (kubectl sends its window
 * size at once) still starts with it.
 */
export class TerminalResizes implements TerminalResizeSource {
  private latest: TerminalSize | undefined;
  private readonly listeners = new Set<(size: TerminalSize) => void>();

  push(size: TerminalSize): void {
    this.latest = size;
    for (const listener of [...this.listeners]) listener(size);
  }

  subscribe(listener: (size: TerminalSize) => void): () => void {
    this.listeners.add(listener);
    if (this.latest) listener(this.latest);
    return () => {
      this.listeners.delete(listener);
    };
  }
}
