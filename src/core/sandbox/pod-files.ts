import { copyFile, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { mount, MS_NODEV, MS_NOEXEC, MS_NOSUID } from '../sys/native.js';
import { unmountAll } from '../snapshots/mount.js';
import type { PodFiles } from '../runtime/spec/index.js';

export interface PodDns {
  servers: string[];
  searches: string[];
  options: string[];
}

export interface PodFilesRequest {
  /** Persistent per-pod directory (under root): hosts, resolv.conf, hostname. */
  dir: string;
  /** Runtime per-pod directory (under state): the shm mount point. */
  runDir: string;
  hostname: string;
  hostNetwork: boolean;
  hostIpc: boolean;
  dns?: PodDns;
}

const SHM_SIZE_BYTES = 64 * 1024 * 1024;

const DEFAULT_HOSTS = `127.0.0.1\tlocalhost
::1\tlocalhost ip6-localhost ip6-loopback
fe00::0\tip6-localnet
ff00::0\tip6-mcastprefix
ff02::1\tip6-allnodes
ff02::2\tip6-allrouters
`;

/** resolv.conf text from the pod's DNSConfig (kubelet has already merged cluster DNS). */
export function resolvConf(dns: PodDns): string {
  const lines: string[] = [];
  if (dns.searches.length > 0) lines.push(`search ${dns.searches.join(' ')}`);
  for (const server of dns.servers) lines.push(`nameserver ${server}`);
  if (dns.options.length > 0) lines.push(`options ${dns.options.join(' ')}`);
  return lines.join('\n') + '\n';
}

/**
 * Writes the files every container of the pod binds (/etc/hosts,
 * /etc/resolv.conf, /etc/hostname) and mounts the pod's /dev/shm tmpfs, as
 * containerd does. Host-network pods get copies of the host's files.
 */
export async function createPodFiles(req: PodFilesRequest): Promise<PodFiles> {
  await mkdir(req.dir, { recursive: true, mode: 0o755 });
  const files: PodFiles = {
    hostsPath: join(req.dir, 'hosts'),
    resolvConfPath: join(req.dir, 'resolv.conf'),
    hostnamePath: join(req.dir, 'hostname'),
  };
  if (req.hostNetwork) await copyFile('/etc/hosts', files.hostsPath!).catch(() => writeFile(files.hostsPath!, DEFAULT_HOSTS));
  else await writeFile(files.hostsPath!, DEFAULT_HOSTS);
  if (req.dns && (req.dns.servers.length > 0 || req.dns.searches.length > 0 || req.dns.options.length > 0)) {
    await writeFile(files.resolvConfPath!, resolvConf(req.dns));
  } else {
    const hostResolv = await readFile('/etc/resolv.conf', 'utf8').catch(() => '');
    await writeFile(files.resolvConfPath!, hostResolv);
  }
  await writeFile(files.hostnamePath!, `${req.hostname}\n`);
  if (req.hostIpc) {
    files.shmPath = '/dev/shm';
  } else {
    const shm = join(req.runDir, 'shm');
    await mkdir(shm, { recursive: true, mode: 0o755 });
    mount('shm', shm, 'tmpfs', MS_NOSUID | MS_NODEV | MS_NOEXEC, `mode=1777,size=${SHM_SIZE_BYTES}`);
    files.shmPath = shm;
  }
  return files;
}

export function podFilesPaths(dir: string, runDir: string, hostIpc: boolean): PodFiles {
  return {
    hostsPath: join(dir, 'hosts'),
    resolvConfPath: join(dir, 'resolv.conf'),
    hostnamePath: join(dir, 'hostname'),
    shmPath: hostIpc ? '/dev/shm' : join(runDir, 'shm'),
  };
}

/** Unmounts the pod's shm (stop); the files stay until the pod is removed. */
export function releasePodShm(runDir: string): void {
  unmountAll(join(runDir, 'shm'));
}

export async function removePodFiles(dir: string, runDir: string): Promise<void> {
  releasePodShm(runDir);
  await rm(runDir, { recursive: true, force: true });
  await rm(dir, { recursive: true, force: true });
}
