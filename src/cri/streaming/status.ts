/**
 * The metav1.Status documents kubelet writes on the error stream of the v4+
 * remotecommand protocol. Key order follows Go's struct order so the bytes
 * match what kubelet sends.
 */

export interface StatusCause {
  reason?: string;
  message?: string;
}

export interface KubeStatus {
  metadata: Record<string, never>;
  status: 'Success' | 'Failure';
  message?: string;
  reason?: string;
  details?: { causes: StatusCause[] };
  code?: number;
}

export function successStatus(): KubeStatus {
  return { metadata: {}, status: 'Success' };
}

/** How containerd words a non-zero exit ("error executing command [sh -c exit 3], exit code 3"). */
export function exitErrorText(cmd: readonly string[], exitCode: number): string {
  return `error executing command [${cmd.join(' ')}], exit code ${exitCode}`;
}

export function nonZeroExitStatus(exitCode: number, errorText: string): KubeStatus {
  return {
    metadata: {},
    status: 'Failure',
    message: `command terminated with non-zero exit code: ${errorText}`,
    reason: 'NonZeroExitCode',
    details: { causes: [{ reason: 'ExitCode', message: String(exitCode) }] },
  };
}

export function internalErrorStatus(message: string): KubeStatus {
  return {
    metadata: {},
    status: 'Failure',
    message: `Internal error occurred: ${message}`,
    reason: 'InternalError',
    details: { causes: [{ message }] },
    code: 500,
  };
}

export function encodeStatus(status: KubeStatus): Buffer {
  return Buffer.from(JSON.stringify(status), 'utf8');
}
