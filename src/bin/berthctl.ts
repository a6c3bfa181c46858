#!/usr/bin/env node
import { DEFAULT_CONFIG_PATH } from '../config/load.js';
import { defaultConfig } from '../config/schema.js';
import { runContent } from '../ctl/content.js';
import { splitCommandLine, UsageError, type GlobalFlags } from '../ctl/globals.js';
import { runImages } from '../ctl/images.js';
import { runInfo, runVersion } from '../ctl/runtime-info.js';

const USAGE = `usage: berthctl [--address SOCKET] [--root DIR] [--config FILE] COMMAND

commands:
  version          versions of berthctl and of the daemon behind the socket
  info             runtime conditions (RuntimeReady, NetworkReady), cgroup driver and configuration
  images pull|ls|rm|inspect|push
                   images through the daemon (push reads berth's content store)
  content ls|verify
                   blobs in berth's content store (read directly from --root)

--address and --root default to $BERTH_ADDRESS / $BERTH_ROOT, else to the keys of
${DEFAULT_CONFIG_PATH} (or --config), else to ${defaultConfig().address} and ${defaultConfig().root}.
`;

const COMMANDS: Record<string, (args: string[], globals: GlobalFlags) => Promise<number>> = {
  version: runVersion,
  info: runInfo,
  images: runImages,
  image: runImages,
  content: runContent,
};

async function main(argv: string[]): Promise<number> {
  const { globals, help, command, rest } = splitCommandLine(argv);
  if (help || !command) {
    process.stdout.write(USAGE);
    return help ? 0 : 2;
  }
  const run = COMMANDS[command];
  if (!run) throw new UsageError(`unknown command "${command}"\n${USAGE}`);
  return run(rest, globals);
}

/** Our own usage errors and node:util parseArgs's (unknown flag, stray argument). */
function isUsageError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return err instanceof UsageError || (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS_'));
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`berthctl: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = isUsageError(err) ? 2 : 1;
  },
);
