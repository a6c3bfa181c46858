/**
 * The busybox base every critest image but pause builds on: Debian's dynamic busybox
 * (its shell runs external programs, unlike the static build) with the libraries it
 * links, its applets as hard links in /bin, a /proc-based pgrep, util-linux's ipcs,
 * passwd/group with root, www-data and nobody, and the usual directories.
 */
import { mkdir, readdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { runCommand } from './command.js';
import type { LayerEntry } from './layer.js';

export const IPCS_PATH = '/usr/bin/ipcs';

export const BASE_PASSWD = [
  'root:x:0:0:root:/root:/bin/sh',
  'daemon:x:1:1:daemon:/usr/sbin:/bin/false',
  'bin:x:2:2:bin:/bin:/bin/false',
  'sys:x:3:3:sys:/dev:/bin/false',
  'www-data:x:33:33:www-data:/var/www:/bin/false',
  'nobody:x:65534:65534:nobody:/home:/bin/false',
];

export const BASE_GROUP = [
  'root:x:0:',
  'daemon:x:1:',
  'bin:x:2:',
  'sys:x:3:',
  'www-data:x:33:',
  'nobody:x:65534:',
];

/**
 * pgrep over /proc: Debian's busybox has none. Matches the process name (or, with
 * -f, the whole command line) against an extended regex and prints the pids.
 */
export const PGREP_SCRIPT = `#!/bin/sh
# pgrep [-f] PATTERN: print the pids whose name (with -f: command line) matches PATTERN.
full=0
if [ "$1" = "-f" ]; then full=1; shift; fi
if [ $# -ne 1 ]; then echo "usage: pgrep [-f] PATTERN" >&2; exit 2; fi
status=1
for dir in /proc/[0-9]*; do
  pid=\${dir#/proc/}
  [ "$pid" = "$$" ] && continue
  if [ $full = 1 ]; then
    name=$(tr '\\0' ' ' < "$dir/cmdline" 2>/dev/null) || continue
  else
    read -r name < "$dir/comm" 2>/dev/null || continue
  fi
  [ -n "$name" ] || continue
  if printf '%s\\n' "$name" | grep -Eq -- "$1"; then echo "$pid"; status=0; fi
done
exit $status
`;

export interface BusyboxPackage {
  /** The unpacked package root (holds bin/busybox). */
  root: string;
  /** Applet names from `busybox --list`. */
  applets: string[];
}

/**
 * Debian's busybox package, downloaded once with `apt-get download` into
 * `<cacheDir>/debs` and unpacked with `dpkg-deb -x`; later calls reuse both.
 */
export async function fetchBusybox(cacheDir: string): Promise<BusyboxPackage> {
  const debDir = join(cacheDir, 'debs');
  await mkdir(debDir, { recursive: true });
  let deb = await findDeb(debDir);
  if (!deb) {
    try {
      await runCommand('apt-get', ['download', 'busybox'], { cwd: debDir });
    } catch {
      // The package lists may be missing or stale: refresh once and retry.
      await runCommand('apt-get', ['update'], { timeoutMs: 300_000 });
      await runCommand('apt-get', ['download', 'busybox'], { cwd: debDir });
    }
    deb = await findDeb(debDir);
    if (!deb) throw new Error(`apt-get download busybox left no busybox_*.deb in ${debDir}`);
  }

  const root = join(cacheDir, 'unpacked', deb.replace(/\.deb$/, ''));
  const busybox = join(root, 'bin', 'busybox');
  if (!(await listDir(join(root, 'bin'))).includes('busybox')) {
    const partial = `${root}.tmp-${process.pid}`;
    await rm(partial, { recursive: true, force: true });
    await mkdir(partial, { recursive: true });
    await runCommand('dpkg-deb', ['-x', join(debDir, deb), partial]);
    await rm(root, { recursive: true, force: true });
    await rename(partial, root);
  }
  const listed = await runCommand(busybox, ['--list']);
  const applets = listed
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && l !== 'busybox' && !l.includes('/'));
  return { root, applets };
}

/** The shared libraries `binary` loads, as ldd reports their paths (the dynamic loader included). */
export async function sharedLibraries(binary: string): Promise<string[]> {
  const out = await runCommand('ldd', [binary]);
  const libs: string[] = [];
  for (const line of out.split('\n')) {
    if (/not found/.test(line)) throw new Error(`${binary} needs a library the host lacks: ${line.trim()}`);
    const path = /=>\s*(\/\S+)/.exec(line)?.[1] ?? /^\s*(\/\S+)\s+\(/.exec(line)?.[1];
    if (path) libs.push(path);
  }
  return libs;
}

/** The layer entries of the busybox base. */
export async function busyboxBaseEntries(cacheDir: string): Promise<LayerEntry[]> {
  const pkg = await fetchBusybox(cacheDir);
  const busybox = join(pkg.root, 'bin', 'busybox');
  const entries: LayerEntry[] = [{ type: 'hostfile', path: 'bin/busybox', source: busybox, mode: 0o755 }];
  const own = new Set(['busybox', 'pgrep', 'ipcs']);
  for (const applet of pkg.applets) {
    if (!own.has(applet)) entries.push({ type: 'hardlink', path: `bin/${applet}`, target: 'bin/busybox' });
  }
  entries.push({ type: 'file', path: 'bin/pgrep', content: PGREP_SCRIPT, mode: 0o755 });
  entries.push({ type: 'hostfile', path: IPCS_PATH, source: IPCS_PATH, mode: 0o755 });

  const libs = new Set([...(await sharedLibraries(busybox)), ...(await sharedLibraries(IPCS_PATH))]);
  for (const lib of [...libs].sort()) entries.push({ type: 'hostfile', path: lib, source: lib });

  entries.push(
    { type: 'file', path: 'etc/passwd', content: lines(BASE_PASSWD) },
    { type: 'file', path: 'etc/group', content: lines(BASE_GROUP) },
    { type: 'dir', path: 'tmp', mode: 0o1777 },
    { type: 'dir', path: 'root', mode: 0o700 },
    { type: 'dir', path: 'home' },
    { type: 'dir', path: 'var/run' },
    { type: 'dir', path: 'var/www' },
    { type: 'dir', path: 'usr/sbin' },
    { type: 'dir', path: 'usr/local/bin' },
    { type: 'dir', path: 'sbin' },
  );
  return entries;
}

export function lines(list: readonly string[]): string {
  return list.join('\n') + '\n';
}

async function findDeb(dir: string): Promise<string | undefined> {
  return (await listDir(dir)).filter((n) => /^busybox_.*\.deb$/.test(n)).sort().pop();
}

async function listDir(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}
