/** Errors raised while running CNI plugins. */

/** A plugin exited non-zero (or printed garbage); carries the CNI error fields when present. */
export class CniPluginError extends Error {
  constructor(
    readonly plugin: string,
    readonly command: string,
    readonly network: string,
    readonly cniCode: number | undefined,
    readonly cniMessage: string,
    readonly details: string | undefined,
  ) {
    const what = details ? `${cniMessage}: ${details}` : cniMessage;
    const code = cniCode === undefined ? '' : ` (CNI error code ${cniCode})`;
    super(`CNI plugin "${plugin}" failed ${command} on network "${network}": ${what}${code}`);
    this.name = 'CniPluginError';
  }
}

/** A plugin binary named by the network config is not in any bin dir. */
export class CniPluginNotFoundError extends Error {
  constructor(readonly plugin: string, readonly binDirs: readonly string[]) {
    super(`CNI plugin "${plugin}" not found in ${binDirs.join(', ') || '(no bin dirs configured)'}`);
    this.name = 'CniPluginNotFoundError';
  }
}
