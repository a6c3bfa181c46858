/**
 * Running a network configuration list: ADD through the plugins in order
 * (each sees the previous result), DEL in reverse, CHECK in order.
 */
import { compareVersions } from './config.js';
import { execPlugin, findPlugin, type CniCommand } from './exec.js';
import type { CniResult, JsonObject, NetworkConfigList, PluginConfig, RuntimeArgs } from './types.js';

export interface ChainOptions {
  binDirs: readonly string[];
  timeoutMs: number;
}

/** The stdin of one plugin: its config plus name, cniVersion, prevResult and its runtimeConfig. */
export function buildPluginStdin(
  list: NetworkConfigList,
  plugin: PluginConfig,
  runtime: RuntimeArgs,
  prevResult: CniResult | undefined,
): JsonObject {
  const stdin: JsonObject = { ...plugin, name: list.name, cniVersion: list.cniVersion };
  delete stdin.prevResult;
  delete stdin.runtimeConfig;
  if (prevResult !== undefined) stdin.prevResult = prevResult;

  // Only the capabilities the plugin declares, and only those berth has a value for.
  const runtimeConfig: JsonObject = {};
  for (const [capability, enabled] of Object.entries(plugin.capabilities ?? {})) {
    if (enabled && runtime.capabilityArgs[capability] !== undefined) {
      runtimeConfig[capability] = runtime.capabilityArgs[capability];
    }
  }
  if (Object.keys(runtimeConfig).length > 0) stdin.runtimeConfig = runtimeConfig;
  return stdin;
}

export async function addNetworkList(
  list: NetworkConfigList,
  runtime: RuntimeArgs,
  opts: ChainOptions,
): Promise<CniResult> {
  let prevResult: CniResult | undefined;
  for (const plugin of list.plugins) {
    const output = await runOne('ADD', list, plugin, runtime, prevResult, opts);
    // A plugin that prints nothing passes the previous result through unchanged.
    if (output !== undefined) prevResult = output;
  }
  return prevResult ?? { cniVersion: list.cniVersion };
}

/**
 * DEL in reverse order. Every plugin gets its chance even when one fails, so a
 * single broken plugin does not leak the others' resources; the first error is thrown.
 */
export async function delNetworkList(
  list: NetworkConfigList,
  runtime: RuntimeArgs,
  cachedResult: CniResult | undefined,
  opts: ChainOptions,
): Promise<void> {
  // prevResult on DEL exists from spec 0.4.0 on.
  const prevResult = supportsCheckAndPrevResultOnDel(list.cniVersion) ? cachedResult : undefined;
  let firstError: unknown;
  for (const plugin of [...list.plugins].reverse()) {
    try {
      await runOne('DEL', list, plugin, runtime, prevResult, opts);
    } catch (err) {
      firstError ??= err;
    }
  }
  if (firstError !== undefined) throw firstError;
}

export async function checkNetworkList(
  list: NetworkConfigList,
  runtime: RuntimeArgs,
  cachedResult: CniResult,
  opts: ChainOptions,
): Promise<void> {
  for (const plugin of list.plugins) {
    await runOne('CHECK', list, plugin, runtime, cachedResult, opts);
  }
}

export function supportsCheckAndPrevResultOnDel(cniVersion: string): boolean {
  return compareVersions(cniVersion, '0.4.0') >= 0;
}

async function runOne(
  command: CniCommand,
  list: NetworkConfigList,
  plugin: PluginConfig,
  runtime: RuntimeArgs,
  prevResult: CniResult | undefined,
  opts: ChainOptions,
): Promise<CniResult | undefined> {
  const pluginPath = findPlugin(plugin.type, opts.binDirs);
  return execPlugin({
    type: plugin.type,
    pluginPath,
    command,
    network: list.name,
    runtime,
    binDirs: opts.binDirs,
    stdin: buildPluginStdin(list, plugin, runtime, prevResult),
    timeoutMs: opts.timeoutMs,
  });
}
