#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { connectCri, type CriClients } from '../client/cri-client.js';
import { DEFAULT_CONFIG_PATH } from '../config/load.js';
import { defaultConfig } from '../config/schema.js';

const USAGE = `usage: berthctl [--address SOCKET] COMMAND

commands:
  version   versions of berthctl and of the daemon behind the socket
  info      runtime conditions (RuntimeReady, NetworkReady), cgroup driver and configuration

--address defaults to $BERTH_ADDRESS or ${defaultConfig().address} (see ${DEFAULT_CONFIG_PATH}).
`;

async function version(cri: CriClients): Promise<void> {
  const res = await cri.runtime.Version({ version: '0.1.0' }, 10_000);
  process.stdout.write(
    `Runtime:     ${res.runtime_name}\nVersion:     ${res.runtime_version}\nCRI API:     ${res.runtime_api_version}\n`,
  );
}

async function info(cri: CriClients): Promise<void> {
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
}

const COMMANDS: Record<string, (cri: CriClients, args: string[]) => Promise<void>> = { version, info };

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: false,
    options: { address: { type: 'string', short: 'a' }, help: { type: 'boolean', short: 'h' } },
  });
  const [command, ...rest] = positionals;
  if (values.help || !command) {
    process.stdout.write(USAGE);
    return values.help ? 0 : 2;
  }
  const run = COMMANDS[command];
  if (!run) {
    process.stderr.write(`berthctl: unknown command "${command}"\n${USAGE}`);
    return 2;
  }
  const address = typeof values.address === 'string' ? values.address : process.env.BERTH_ADDRESS ?? defaultConfig().address;
  const cri = connectCri(address);
  try {
    await run(cri, rest);
    return 0;
  } finally {
    cri.close();
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`berthctl: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
