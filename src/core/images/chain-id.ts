import { createHash } from 'node:crypto';

/**
 * The OCI chain ids of a layer stack: the first is the first diff id, each
 * next one is sha256("<previous chain id> <diff id>"). Committed snapshots are
 * keyed by them, so images sharing base layers share snapshots.
 */
export function chainIds(diffIds: readonly string[]): string[] {
  const out: string[] = [];
  for (const diffId of diffIds) {
    const previous = out[out.length - 1];
    out.push(previous === undefined ? diffId : `sha256:${createHash('sha256').update(`${previous} ${diffId}`).digest('hex')}`);
  }
  return out;
}
