/**
 * Capability sets as containerd's CRI plugin computes them: its default set,
 * then "ALL" add/drop, then the individual adds and drops.
 */
import { InvalidArgumentError } from '../../errors.js';
import type { Capabilities } from './oci-types.js';

/** containerd's default capability set (the same as Docker's). */
export const DEFAULT_CAPABILITIES: readonly string[] = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FSETID', 'CAP_FOWNER', 'CAP_MKNOD', 'CAP_NET_RAW', 'CAP_SETGID',
  'CAP_SETUID', 'CAP_SETFCAP', 'CAP_SETPCAP', 'CAP_NET_BIND_SERVICE', 'CAP_SYS_CHROOT', 'CAP_KILL', 'CAP_AUDIT_WRITE',
];

/** Every capability Linux defines up to CAP_CHECKPOINT_RESTORE (40), in number order. */
export const ALL_CAPABILITIES: readonly string[] = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_DAC_READ_SEARCH', 'CAP_FOWNER', 'CAP_FSETID', 'CAP_KILL', 'CAP_SETGID',
  'CAP_SETUID', 'CAP_SETPCAP', 'CAP_LINUX_IMMUTABLE', 'CAP_NET_BIND_SERVICE', 'CAP_NET_BROADCAST', 'CAP_NET_ADMIN',
  'CAP_NET_RAW', 'CAP_IPC_LOCK', 'CAP_IPC_OWNER', 'CAP_SYS_MODULE', 'CAP_SYS_RAWIO', 'CAP_SYS_CHROOT',
  'CAP_SYS_PTRACE', 'CAP_SYS_PACCT', 'CAP_SYS_ADMIN', 'CAP_SYS_BOOT', 'CAP_SYS_NICE', 'CAP_SYS_RESOURCE',
  'CAP_SYS_TIME', 'CAP_SYS_TTY_CONFIG', 'CAP_MKNOD', 'CAP_LEASE', 'CAP_AUDIT_WRITE', 'CAP_AUDIT_CONTROL',
  'CAP_SETFCAP', 'CAP_MAC_OVERRIDE', 'CAP_MAC_ADMIN', 'CAP_SYSLOG', 'CAP_WAKE_ALARM', 'CAP_BLOCK_SUSPEND',
  'CAP_AUDIT_READ', 'CAP_PERFMON', 'CAP_BPF', 'CAP_CHECKPOINT_RESTORE',
];

const KNOWN = new Set(ALL_CAPABILITIES);

export interface CapabilityRequest {
  add: readonly string[];
  drop: readonly string[];
  addAmbient: readonly string[];
}

/** "net_admin", "NET_ADMIN" and "CAP_NET_ADMIN" all name CAP_NET_ADMIN. */
export function normalizeCapability(name: string): string {
  const upper = name.trim().toUpperCase();
  const full = upper.startsWith('CAP_') ? upper : `CAP_${upper}`;
  if (!KNOWN.has(full)) throw new InvalidArgumentError(`unknown capability "${name}"`);
  return full;
}

function isAll(name: string): boolean {
  return name.trim().toUpperCase() === 'ALL';
}

/**
 * The capability sets for a container. `allCapabilities` is what "ALL" means
 * (the caps this kernel supports). Ambient caps are also put in the other sets,
 * since the kernel only keeps an ambient cap that is permitted and inheritable.
 */
export function computeCapabilities(
  request: CapabilityRequest | undefined,
  allCapabilities: readonly string[] = ALL_CAPABILITIES,
): Capabilities {
  let set = [...DEFAULT_CAPABILITIES];
  const ambient: string[] = [];
  if (request) {
    if (request.add.some(isAll)) set = [...allCapabilities];
    if (request.drop.some(isAll)) set = [];
    for (const name of request.add) {
      if (isAll(name)) continue;
      const cap = normalizeCapability(name);
      if (!set.includes(cap)) set.push(cap);
    }
    const dropped = new Set(request.drop.filter((n) => !isAll(n)).map(normalizeCapability));
    set = set.filter((cap) => !dropped.has(cap));
    for (const name of request.addAmbient) {
      const cap = normalizeCapability(name);
      if (!ambient.includes(cap)) ambient.push(cap);
      if (!set.includes(cap)) set.push(cap);
    }
  }
  return { bounding: [...set], effective: [...set], permitted: [...set], inheritable: [...ambient], ambient };
}

/**
 * The capabilities the `CapEff:` hex mask of a /proc/<pid>/status text names,
 * in number order: what "ALL" can mean for containers this process starts (as
 * containerd's cap.Current()). A host may withhold some (this one CAP_SYS_RESOURCE), and
 * runc refuses to grant a capability its parent lacks.
 */
export function capabilitiesFromStatus(status: string): string[] | undefined {
  const match = /^CapEff:\s*([0-9a-fA-F]+)\s*$/m.exec(status);
  if (!match) return undefined;
  const mask = BigInt(`0x${match[1]}`);
  return ALL_CAPABILITIES.filter((_, bit) => ((mask >> BigInt(bit)) & 1n) === 1n);
}

/** Privileged containers get every capability in every set but ambient. */
export function allCapabilitySets(allCapabilities: readonly string[] = ALL_CAPABILITIES): Capabilities {
  const set = [...allCapabilities];
  return { bounding: [...set], effective: [...set], permitted: [...set], inheritable: [], ambient: [] };
}
