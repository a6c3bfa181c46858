import { copyFileSync, chmodSync, linkSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Where the static busybox lives on Debian (package busybox-static). */
export const BUSYBOX_PATH = '/bin/busybox';

/** Applets every test rootfs provides as hard links to /bin/busybox. */
export const DEFAULT_APPLETS = [
  'sh', 'sleep', 'echo', 'cat', 'ls', 'true', 'false', 'id', 'hostname', 'env', 'kill', 'ps', 'mkdir', 'rm', 'dd',
] as const;

export interface BusyboxRootfsOptions {
  /** Extra applet names to link besides DEFAULT_APPLETS. */
  applets?: readonly string[];
}

/**
 * Builds a tiny rootfs in `dir` (created if missing): a static busybox, hard
 * links for its applets in /bin, a root-only /etc/passwd and /etc/group, and the
 * empty mount points an OCI runtime expects. Returns `dir`.
 */
export function buildBusyboxRootfs(dir: string, options: BusyboxRootfsOptions = {}): string {
  for (const sub of ['bin', 'etc', 'proc', 'sys', 'dev', 'tmp', 'root', 'run']) {
    mkdirSync(join(dir, sub), { recursive: true });
  }
  chmodSync(join(dir, 'tmp'), 0o1777);
  const busybox = join(dir, 'bin', 'busybox');
  copyFileSync(BUSYBOX_PATH, busybox);
  chmodSync(busybox, 0o755);
  const applets = new Set<string>([...DEFAULT_APPLETS, ...(options.applets ?? [])]);
  for (const applet of applets) {
    linkSync(busybox, join(dir, 'bin', applet));
  }
  writeFileSync(join(dir, 'etc', 'passwd'), 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n');
  writeFileSync(join(dir, 'etc', 'group'), 'root:x:0:\nnogroup:x:65534:\n');
  writeFileSync(join(dir, 'etc', 'hosts'), '127.0.0.1 localhost\n');
  return dir;
}
