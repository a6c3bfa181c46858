/** /proc/<pid>/mountinfo (proc(5)), as berth reads it. */
import { readFile } from 'node:fs/promises';

export interface MountInfo {
  mountPoint: string;
  /** The optional fields: `shared:N`, `master:N`, `propagate_from:N`, `unbindable`. */
  optional: string[];
}

/** mountinfo escapes space, tab, newline and backslash as octal (`\040`). */
function unescapeOctal(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(Number.parseInt(oct, 8)));
}

/** Parses mountinfo text; malformed lines are skipped. */
export function parseMountInfo(text: string): MountInfo[] {
  const out: MountInfo[] = [];
  for (const line of text.split('\n')) {
    const fields = line.split(' ');
    const sep = fields.indexOf('-', 6);
    if (fields.length < 7 || sep < 0) continue;
    out.push({ mountPoint: unescapeOctal(fields[4]!), optional: fields.slice(6, sep) });
  }
  return out;
}

/** This process's mount table. */
export async function readMountInfo(): Promise<MountInfo[]> {
  return parseMountInfo(await readFile('/proc/self/mountinfo', 'utf8'));
}
