import type { CriClients } from '../../src/client/cri-client.js';
import type { ContainerStatus__Output } from '../../src/gen/cri/runtime/v1/ContainerStatus.js';

export interface PollOptions {
  /** How long to keep trying before failing (default 30 s). */
  timeoutMs?: number;
  /** The pause between two tries (default 100 ms). */
  intervalMs?: number;
}

/** What the timeout message names; a function when it must say how things stood at the end (a log so far). */
export type Description = string | (() => string);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const describe = (what: Description) => (typeof what === 'string' ? what : what());

/** Polls `probe` until it returns a value other than undefined and resolves to it; fails after a bound so nothing hangs a suite. */
export async function waitFor<T>(probe: () => T | undefined | Promise<T | undefined>, what: Description, options: PollOptions = {}): Promise<T> {
  const { timeoutMs = 30_000, intervalMs = 100 } = options;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${describe(what)}`);
    await sleep(intervalMs);
  }
}

/** Polls `check` until it holds. */
export async function waitUntil(check: () => boolean | Promise<boolean>, what: Description, options: PollOptions = {}): Promise<void> {
  await waitFor(async () => ((await check()) ? true : undefined), what, options);
}

/** Retries `check` until it stops throwing (an assertion that passes a moment later); the timeout carries its last error. */
export async function eventually(check: () => void | Promise<void>, what: string, options: PollOptions = {}): Promise<void> {
  const { timeoutMs = 30_000, intervalMs = 100 } = options;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await check();
      return;
    } catch (err) {
      if (Date.now() > deadline) throw new Error(`${what}: ${(err as Error).message}`, { cause: err });
      await sleep(intervalMs);
    }
  }
}

/** Waits for a container to reach CONTAINER_EXITED and resolves to its status (exit code, reason). */
export function waitForContainerExit(runtime: CriClients['runtime'], containerId: string, what = `container ${containerId} to exit`, options: PollOptions = {}): Promise<ContainerStatus__Output> {
  return waitFor(async () => {
    const { status } = await runtime.ContainerStatus({ container_id: containerId });
    return status?.state === 'CONTAINER_EXITED' ? status : undefined;
  }, what, options);
}
