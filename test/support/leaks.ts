/**
 * What a berthd can leave behind on the host, read from the kernel and the
 * daemon's own files: mounts under its root and state directories, pinned
 * network namespaces, veth devices on the test bridge, host-local IP
 * allocations, cgroups of its pods, live conmon processes, database rows and
 * containers' directories (their image volumes).
 * Tests take a snapshot when the node is quiet, do their work, remove what
 * they created and check that the next snapshot holds nothing new.
 */
import { existsSync, readdirSync, readFileSync, rmdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { run } from './exec.js';
import { readMetadata } from './metadata-db.js';
import { parseMountInfo } from '../../src/core/sys/mountinfo.js';

export const NETNS_DIR = '/var/run/netns';
const CGROUP_ROOT = '/sys/fs/cgroup';

/** Where one daemon (and the pods it runs) keeps things. */
export interface LeakScope {
  root: string;
  state: string;
  /** The CNI bridge of the test network. */
  bridge: string;
  /** The pod subnet, `10.234.N.0/24`. */
  subnet: string;
  /** host-local's directory for the network: `<dataDir>/<network name>`. */
  ipamDir: string;
  /** The `linux.cgroup_parent` every pod of the test uses (cgroupfs path). */
  cgroupParent: string;
  /** Network namespaces present before the test (others' pods, older leftovers). */
  netnsBaseline: ReadonlySet<string>;
}

export interface LeakSnapshot {
  mounts: string[];
  netns: string[];
  veths: string[];
  ips: string[];
  cgroups: string[];
  conmons: string[];
  dbRows: string[];
  containerDirs: string[];
}

export type LeakKind = keyof LeakSnapshot;
export const LEAK_KINDS: readonly LeakKind[] = ['mounts', 'netns', 'veths', 'ips', 'cgroups', 'conmons', 'dbRows', 'containerDirs'];

/** The network namespaces pinned now, for `LeakScope.netnsBaseline`. */
export function netnsNames(): Set<string> {
  return existsSync(NETNS_DIR) ? new Set(readdirSync(NETNS_DIR)) : new Set();
}

function mountsUnder(dirs: readonly string[]): string[] {
  return parseMountInfo(readFileSync('/proc/self/mountinfo', 'utf8'))
    .map((m) => m.mountPoint)
    .filter((mountPoint) => dirs.some((d) => mountPoint === d || mountPoint.startsWith(`${d}/`)))
    .sort();
}

function inSubnet(address: string, subnet: string): boolean {
  const prefix = subnet.replace(/\.0\/24$/, '.');
  return address.startsWith(prefix);
}

/**
 * New namespaces that are ours: one with an address in our subnet, or one
 * with no address at all (never networked, or torn down but not removed).
 * A namespace with another network's address belongs to someone else's test.
 */
async function ourNewNetns(scope: LeakScope): Promise<string[]> {
  const out: string[] = [];
  for (const name of netnsNames()) {
    if (scope.netnsBaseline.has(name)) continue;
    const addrs = await run('ip', ['-n', name, '-o', '-4', 'addr', 'show', 'scope', 'global'], { timeoutMs: 10_000 });
    if (addrs.code !== 0) {
      // Removed since we listed the directory: whoever made it cleaned up.
      if (existsSync(join(NETNS_DIR, name))) out.push(`${name} (not a namespace: ${addrs.stderr.trim()})`);
      continue;
    }
    const found = [...addrs.stdout.matchAll(/inet (\d+\.\d+\.\d+\.\d+)\//g)].map((m) => m[1]!);
    if (found.length === 0 || found.some((a) => inSubnet(a, scope.subnet))) out.push(`${name} ${found.join(',')}`.trim());
  }
  return out.sort();
}

async function bridgePorts(bridge: string): Promise<string[]> {
  const res = await run('ip', ['-o', 'link', 'show', 'master', bridge], { timeoutMs: 10_000 });
  if (res.code !== 0) return [];
  return res.stdout
    .split('\n')
    .map((line) => /^\d+:\s+([^:@]+)/.exec(line)?.[1])
    .filter((n): n is string => n !== undefined)
    .sort();
}

function ipAllocations(ipamDir: string): string[] {
  if (!existsSync(ipamDir)) return [];
  return readdirSync(ipamDir)
    .filter((name) => /^\d+\.\d+\.\d+\.\d+$/.test(name))
    .map((ip) => `${ip} ${readFileSync(join(ipamDir, ip), 'utf8').split('\n')[0]!.slice(0, 12)}`)
    .sort();
}

/** Child cgroups of the pods' parent in every hierarchy (v1 controllers and the v2 one). */
function podCgroups(parent: string): string[] {
  const out: string[] = [];
  if (!existsSync(CGROUP_ROOT)) return out;
  for (const hierarchy of readdirSync(CGROUP_ROOT)) {
    const dir = join(CGROUP_ROOT, hierarchy, parent);
    let entries: string[];
    try {
      entries = readdirSync(dir);
    } catch {
      continue;
    }
    for (const name of entries) {
      const path = join(dir, name);
      try {
        if (statSync(path).isDirectory()) out.push(`${hierarchy}${parent}/${name}`);
      } catch {
        // removed while we looked
      }
    }
  }
  return out.sort();
}

/** `pid args` of live (non-zombie) conmon processes started for this state directory. */
export function conmonProcesses(stateDir: string): string[] {
  const out: string[] = [];
  for (const pid of readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
    try {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      if (!cmdline[0]?.endsWith('conmon') || !cmdline.some((arg) => arg.startsWith(stateDir))) continue;
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      if (stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')) continue;
      const cid = cmdline[cmdline.indexOf('--cid') + 1] ?? '?';
      out.push(`${pid} conmon --cid ${cid.slice(0, 12)}`);
    } catch {
      // exited while we looked
    }
  }
  return out.sort();
}

/**
 * Rows that describe something running or in progress: sandboxes, containers,
 * leases, and snapshots that are not committed image layers. Read through a
 * read-only connection, so the daemon may be running or dead.
 */
export function databaseRows(root: string): string[] {
  const path = join(root, 'metadata.db');
  if (!existsSync(path)) return [];
  return readMetadata(root, (db) => {
    const rows = (sql: string) => db.prepare(sql).all() as Array<{ what: string }>;
    return [
      ...rows("SELECT 'sandbox ' || id || ' ' || state AS what FROM sandboxes"),
      ...rows("SELECT 'container ' || id || ' ' || state AS what FROM containers"),
      ...rows("SELECT 'lease ' || id AS what FROM leases"),
      ...rows("SELECT 'snapshot ' || kind || ' ' || key AS what FROM snapshots WHERE kind != 'committed'"),
    ]
      .map((r) => r.what)
      .sort();
  });
}

/** `<id> (<n> volumes)` of each per-container directory under the root. */
function containerDirs(root: string): string[] {
  const dir = join(root, 'containers');
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .map((id) => {
      const volumes = join(dir, id, 'volumes');
      return `${id} (${existsSync(volumes) ? readdirSync(volumes).length : 0} volumes)`;
    })
    .sort();
}

export async function takeLeakSnapshot(scope: LeakScope): Promise<LeakSnapshot> {
  return {
    mounts: mountsUnder([scope.root, scope.state]),
    netns: await ourNewNetns(scope),
    veths: await bridgePorts(scope.bridge),
    ips: ipAllocations(scope.ipamDir),
    cgroups: podCgroups(scope.cgroupParent),
    conmons: conmonProcesses(scope.state),
    dbRows: databaseRows(scope.root),
    containerDirs: containerDirs(scope.root),
  };
}

/** What `after` holds that `before` did not, per kind (pids and ids make entries unique). */
export function leaksBetween(before: LeakSnapshot, after: LeakSnapshot): LeakSnapshot {
  const out = {} as LeakSnapshot;
  for (const kind of LEAK_KINDS) {
    const seen = new Set(before[kind]);
    out[kind] = after[kind].filter((item) => !seen.has(item));
  }
  return out;
}

/** What `earlier` holds that `later` still holds. */
function stillThere(earlier: LeakSnapshot, later: LeakSnapshot): LeakSnapshot {
  const out = {} as LeakSnapshot;
  for (const kind of LEAK_KINDS) {
    const now = new Set(later[kind]);
    out[kind] = earlier[kind].filter((item) => now.has(item));
  }
  return out;
}

export function leakCount(snapshot: LeakSnapshot): number {
  return LEAK_KINDS.reduce((n, kind) => n + snapshot[kind].length, 0);
}

export function formatLeaks(snapshot: LeakSnapshot): string {
  return LEAK_KINDS.filter((k) => snapshot[k].length > 0)
    .map((k) => `${k}: ${snapshot[k].join('; ')}`)
    .join('\n');
}

export const EMPTY_SNAPSHOT: LeakSnapshot = { mounts: [], netns: [], veths: [], ips: [], cgroups: [], conmons: [], dbRows: [], containerDirs: [] };

/**
 * The leaks since `baseline`: what stays through `settleMs` of repeated looks.
 * Pod teardown finishes in the kernel a moment after the call returns (a veth
 * goes with its namespace), and other tests on the machine make namespaces of
 * their own that are empty for a moment; neither lasts.
 */
export async function findLeaks(scope: LeakScope, baseline: LeakSnapshot = EMPTY_SNAPSHOT, settleMs = 5_000): Promise<LeakSnapshot> {
  let leaks = leaksBetween(baseline, await takeLeakSnapshot(scope));
  const deadline = Date.now() + settleMs;
  while (leakCount(leaks) > 0 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 500));
    const now = leaksBetween(baseline, await takeLeakSnapshot(scope));
    leaks = stillThere(leaks, now);
  }
  return leaks;
}

/** Removes the pods' parent cgroups the runtime created (runc leaves parents in place). */
export function removeCgroupParent(parent: string): void {
  if (!existsSync(CGROUP_ROOT)) return;
  for (const hierarchy of readdirSync(CGROUP_ROOT)) {
    const dir = join(CGROUP_ROOT, hierarchy, parent);
    try {
      // rmdir(2): a cgroup directory goes whole, its control files cannot be unlinked one by one.
      if (existsSync(dir)) rmdirSync(dir);
    } catch {
      // still has children: the leak check reports them
    }
  }
}

/**
 * Last resort after a failed test, so one failure does not pollute the host
 * for the next: kills what still runs in the pods' cgroups and the conmons of
 * the state directory, unmounts what is left under root and state, and
 * unpins the namespaces holding an address of our subnet. Returns what it found.
 */
export async function sweepLeaks(scope: LeakScope): Promise<LeakSnapshot> {
  const found = await takeLeakSnapshot(scope);
  for (const cgroup of found.cgroups) {
    try {
      for (const pid of readFileSync(join(CGROUP_ROOT, cgroup, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean)) {
        process.kill(Number(pid), 'SIGKILL');
      }
    } catch {
      // gone already
    }
  }
  for (const entry of found.conmons) {
    try {
      process.kill(Number(entry.split(' ')[0]), 'SIGKILL');
    } catch {
      // gone already
    }
  }
  for (const mountPoint of [...found.mounts].reverse()) await run('umount', ['-l', mountPoint]);
  // Only namespaces with an address of our subnet: an empty one may be another test's pod being set up.
  for (const entry of found.netns.filter((e) => inSubnet(e.split(' ')[1] ?? '', scope.subnet))) {
    const path = join(NETNS_DIR, entry.split(' ')[0]!);
    await run('umount', ['-l', path]);
    await run('rm', ['-f', path]);
  }
  await new Promise((r) => setTimeout(r, 200));
  for (const cgroup of [...found.cgroups].reverse()) {
    try {
      rmdirSync(join(CGROUP_ROOT, cgroup));
    } catch {
      // busy or gone
    }
  }
  return found;
}
