import { parseArgs } from 'node:util';
import { connectCri, type CriClients } from '../client/cri-client.js';
import { GLOBAL_OPTIONS, mergeGlobals, resolveEnvironment, UsageError, type GlobalFlags } from './globals.js';

async function withCri(name: string, args: string[], globals: GlobalFlags, run: (cri: CriClients) => Promise<void>): Promise<number> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: GLOBAL_OPTIONS });
  if (positionals.length > 0) throw new UsageError(`usage: berthctl ${name}`);
  const env = await resolveEnvironment(mergeGlobals(globals, values));
  const cri = connectCri(env.address);
  try {
    await run(cri);
    return 0;
  } finally {
    cri.close();
  }
}

/** `berthctl version`: versions of berthctl and of the daemon behind the socket. */
export function runVersion(args: string[], globals: GlobalFlags): Promise<number> {
  return withCri('version', args, globals, async (cri) => {
    const res = await cri.runtime.Version({ version: '0.1.0' }, 10_000);
    process.stdout.write(
      `Runtime:     ${res.runtime_name}\nVersion:     ${res.runtime_version}\nCRI API:     ${res.runtime_api_version}\n`,
    );
  });
}

/** `berthctl info`: runtime conditions, cgroup driver, handlers and the daemon's configuration. */
export function runInfo(args: string[], globals: GlobalFlags): Promise<number> {
  return withCri('info', args, globals, async (cri) => {
    const [statusRes, configRes] = await Promise.all([
      cri.runtime.Status({ verbose: true }, 10_000),
      cri.runtime.RuntimeConfig({}, 10_000),
    ]);
    const conditions = statusRes.status?.conditions ?? [];
    for (const c of conditions) {
      const detail = c.status ? '' : `  (${c.reason}: ${c.message})`;
      process.stdout.write(`${c.type.padEnd(14)} ${String(c.status)}${detail}\n`);
    }
    process.stdout.write(`Cgroup driver  ${configRes.linux?.cgroup_driver ?? 'unknown'}\n`);
    process.stdout.write(`Handlers       ${statusRes.runtime_handlers.map((h) => h.name || '(default)').join(', ')}\n`);
    if (statusRes.info.config) {
      process.stdout.write(`Config\n${JSON.stringify(JSON.parse(statusRes.info.config), null, 2)}\n`);
    }
  });
}
