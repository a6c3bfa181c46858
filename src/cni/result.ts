/**
 * Reading pod interfaces and addresses out of a CNI result, whatever spec
 * version printed it (0.1/0.2 `ip4`/`ip6`, 0.3 and later `ips`).
 */
import { isIP } from 'node:net';
import type { CniResult, PodIp, ResultInterface } from './types.js';

/**
 * The pod's addresses without prefix length: addresses on the sandbox
 * interface `ifName` only (when the result names interfaces), the first IPv4
 * address first and the rest in result order, as containerd picks the primary IP.
 */
export function podIpsFromResult(result: CniResult, ifName: string): PodIp[] {
  const interfaces = interfacesFromResult(result);
  const found: Array<PodIp & { onPodIf: boolean }> = [];

  const push = (cidr: unknown, gateway: unknown, ifIndex: unknown): void => {
    if (typeof cidr !== 'string') return;
    const address = cidr.split('/')[0] ?? '';
    const family = isIP(address);
    if (family !== 4 && family !== 6) return;
    const iface = typeof ifIndex === 'number' ? interfaces[ifIndex] : undefined;
    // No interface index means the plugin did not say; treat it as the pod's.
    const onPodIf = iface === undefined ? typeof ifIndex !== 'number' : iface.name === ifName && iface.sandbox !== undefined && iface.sandbox !== '';
    found.push({
      address,
      family,
      ...(typeof gateway === 'string' && gateway !== '' ? { gateway } : {}),
      onPodIf,
    });
  };

  if (Array.isArray(result.ips)) {
    for (const ip of result.ips as unknown[]) {
      if (typeof ip !== 'object' || ip === null) continue;
      const entry = ip as { address?: unknown; gateway?: unknown; interface?: unknown };
      push(entry.address, entry.gateway, entry.interface);
    }
  }
  for (const key of ['ip4', 'ip6'] as const) {
    const legacy = result[key];
    if (typeof legacy === 'object' && legacy !== null) {
      const entry = legacy as { ip?: unknown; gateway?: unknown };
      push(entry.ip, entry.gateway, undefined);
    }
  }

  const onPod = found.filter((ip) => ip.onPodIf);
  const chosen = onPod.length > 0 ? onPod : found;
  // containerd moves the first IPv4 address to the front and keeps the rest in order.
  const firstV4 = chosen.findIndex((ip) => ip.family === 4);
  const ordered = firstV4 <= 0 ? chosen : [chosen[firstV4]!, ...chosen.slice(0, firstV4), ...chosen.slice(firstV4 + 1)];
  return ordered.map(({ address, gateway, family }) => (gateway === undefined ? { address, family } : { address, gateway, family }));
}

export function interfacesFromResult(result: CniResult): ResultInterface[] {
  if (!Array.isArray(result.interfaces)) return [];
  const out: ResultInterface[] = [];
  for (const raw of result.interfaces as unknown[]) {
    const entry = (typeof raw === 'object' && raw !== null ? raw : {}) as { name?: unknown; mac?: unknown; sandbox?: unknown };
    out.push({
      name: typeof entry.name === 'string' ? entry.name : '',
      ...(typeof entry.mac === 'string' ? { mac: entry.mac } : {}),
      ...(typeof entry.sandbox === 'string' ? { sandbox: entry.sandbox } : {}),
    });
  }
  return out;
}
