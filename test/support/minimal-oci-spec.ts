import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildBusyboxRootfs } from './rootfs.js';

export interface MinimalSpecOptions {
  args: string[];
  /** cgroupfs-style path, e.g. /berth-test/<id>. */
  cgroupsPath?: string;
  terminal?: boolean;
  hostname?: string;
  env?: string[];
  /** Namespace types to create (default pid, ipc, uts, mount, network). */
  namespaces?: string[];
  /** OCI linux.resources besides the default deny-all device rule. */
  resources?: Record<string, unknown>;
}

const CAPS = ['CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FOWNER', 'CAP_FSETID', 'CAP_KILL', 'CAP_SETGID', 'CAP_SETUID', 'CAP_SETPCAP', 'CAP_NET_BIND_SERVICE', 'CAP_SYS_CHROOT'];

/**
 * A hand-written OCI config for tests, until the real spec builder exists:
 * new pid, ipc, uts, mount and network namespaces, the usual pseudo-filesystems,
 * a small capability set.
 */
export function minimalSpec(options: MinimalSpecOptions): Record<string, unknown> {
  return {
    ociVersion: '1.0.2',
    process: {
      terminal: options.terminal ?? false,
      user: { uid: 0, gid: 0 },
      args: options.args,
      env: options.env ?? ['PATH=/bin', 'HOME=/root'],
      cwd: '/',
      capabilities: { bounding: CAPS, effective: CAPS, permitted: CAPS },
      noNewPrivileges: true,
    },
    root: { path: 'rootfs', readonly: false },
    hostname: options.hostname ?? 'berth-test',
    mounts: [
      { destination: '/proc', type: 'proc', source: 'proc' },
      { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
      { destination: '/dev/pts', type: 'devpts', source: 'devpts', options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620'] },
      { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'] },
      { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
      { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
    ],
    linux: {
      namespaces: (options.namespaces ?? ['pid', 'ipc', 'uts', 'mount', 'network']).map((type) => ({ type })),
      ...(options.cgroupsPath ? { cgroupsPath: options.cgroupsPath } : {}),
      resources: { devices: [{ allow: false, access: 'rwm' }], ...(options.resources ?? {}) },
      maskedPaths: ['/proc/kcore', '/proc/keys', '/proc/timer_list', '/sys/firmware'],
      readonlyPaths: ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'],
    },
  };
}

/** Writes `<bundle>/config.json` and a busybox `<bundle>/rootfs`; returns the bundle path. */
export function writeTestBundle(bundle: string, options: MinimalSpecOptions): string {
  mkdirSync(bundle, { recursive: true });
  buildBusyboxRootfs(join(bundle, 'rootfs'));
  writeFileSync(join(bundle, 'config.json'), JSON.stringify(minimalSpec(options), null, 2));
  return bundle;
}
