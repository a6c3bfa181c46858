import { copyFile, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { mount, MS_NODEV, MS_NOEXEC, MS_NOSUID } from '../sys/native.js';
import { unmountAll } from '../snapshots/mount.js';
import type { PodFiles } from '../runtime/spec/index.js';
import { allSettledOrThrow } from '../util/concurrency.js';

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
 * containerd does. Host-network pods get copies of the host's files. The
 * steps are independent and run at once; all have finished when this
 * settles, so a failure leaves nothing in flight for the caller's cleanup.
 */
export async function createPodFiles(req: PodFilesRequest): Promise<PodFiles> {
  const files: PodFiles = {
    hostsPath: join(req.dir, 'hosts'),
    resolvConfPath: join(req.dir, 'resolv.conf'),
    hostnamePath: join(req.dir, 'hostname'),
    shmPath: req.hostIpc ? '/dev/shm' : join(req.runDir, 'shm'),
  };
  const dns = req.dns;
  const writeFiles = mkdir(req.dir, { recursive: true, mode: 0o755 }).then(() =>
    allSettledOrThrow([
      req.hostNetwork
        ? copyFile('/etc/hosts', files.hostsPath!).catch(() => writeFile(files.hostsPath!, DEFAULT_HOSTS))
        : writeFile(files.hostsPath!, DEFAULT_HOSTS),
      dns && (dns.servers.length > 0 || dns.searches.length > 0 || dns.options.length > 0)
        ? writeFile(files.resolvConfPath!, resolvConf(dns))
        : readFile('/etc/resolv.conf', 'utf8')
            .catch(() => '')
            .then((hostResolv) => writeFile(files.resolvConfPath!, hostResolv)),
      writeFile(files.hostnamePath!, `${req.hostname}\n`),
    ]),
  );
  const mountShm = req.hostIpc
    ? Promise.resolve()
    : mkdir(files.shmPath!, { recursive: true, mode: 0o755 }).then(() => {
        mount('shm', files.shmPath!, 'tmpfs', MS_NOSUID | MS_NODEV | MS_NOEXEC, `mode=1777,size=${SHM_SIZE_BYTES}`);
      });
  await allSettledOrThrow([writeFiles, mountShm]);
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
