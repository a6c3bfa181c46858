#!/usr/bin/env -S node --max-semi-space-size=2 --initial-heap-size=64
import { parseArgs } from 'node:util';
import { loadConfig } from '../config/load.js';
import { DEFAULT_CONFIG_TOML } from '../config/schema.js';
import { startDaemon } from '../daemon/daemon.js';
import { createLogger } from '../daemon/logger.js';
import { BERTH_VERSION } from '../daemon/version.js';

const USAGE = `usage: berthd [flags]            run the CRI daemon
       berthd config default     print the default configuration file

flags:
  --config PATH      configuration file (default /etc/berth/berth.toml; absent means defaults)
  --root DIR         persistent state directory (overrides root)
  --state DIR        runtime state directory (overrides state)
  --address PATH     CRI unix socket (overrides address)
  --log-level LEVEL  error | warn | info | debug (overrides log_level)
  --version          print the version
`;

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      config: { type: 'string' },
      root: { type: 'string' },
      state: { type: 'string' },
      address: { type: 'string' },
      'log-level': { type: 'string' },
      version: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (values.version) {
    process.stdout.write(`berthd ${BERTH_VERSION}\n`);
    return 0;
  }
  if (positionals.length > 0) {
    if (positionals[0] === 'config' && positionals[1] === 'default' && positionals.length === 2) {
      process.stdout.write(DEFAULT_CONFIG_TOML);
      return 0;
    }
    process.stderr.write(`berthd: unknown command "${positionals.join(' ')}"\n${USAGE}`);
    return 2;
  }
  const config = await loadConfig(values.config, {
    root: values.root,
    state: values.state,
    address: values.address,
    log_level: values['log-level'],
  });
  const logger = createLogger(config.log_level, config.log_format);
  const daemon = await startDaemon(config, logger);
  await new Promise<void>((resolve) => {
    const onSignal = (signal: NodeJS.Signals) => {
      logger.info(`received ${signal}, shutting down`);
      resolve();
    };
    process.once('SIGTERM', onSignal);
    process.once('SIGINT', onSignal);
  });
  await daemon.stop();
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`berthd: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
