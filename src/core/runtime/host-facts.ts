import { existsSync, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { detectCgroupLayout, type CgroupDriver } from '../cgroups/detect.js';
import { capabilitiesFromStatus, type HostFacts } from './spec/index.js';

function readTrimmed(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return undefined;
  }
}

/** What the spec builder needs to know about this host, read once at start. */
export function detectHostFacts(cgroupDriver: CgroupDriver): HostFacts {
  const layout = detectCgroupLayout();
  const status = readTrimmed('/proc/self/status') ?? '';
  const allCapabilities = capabilitiesFromStatus(status);
  const floor = Number.parseInt(readTrimmed('/proc/self/oom_score_adj') ?? '0', 10);
  return {
    cgroupDriver,
    cgroupV2: layout === 'v2',
    oomScoreAdjFloor: Number.isFinite(floor) ? floor : 0,
    seccompAvailable: /^Seccomp:\s+\d/m.test(status),
    apparmorAvailable: readTrimmed('/sys/module/apparmor/parameters/enabled') === 'Y' && existsSync('/sbin/apparmor_parser'),
    apparmorDefaultProfile: 'berth-default',
    swapLimitSupported:
      layout === 'v2' ? true : existsSync('/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes'),
    nodeHostname: hostname(),
    ...(allCapabilities ? { allCapabilities } : {}),
  };
}
