import type { VersionRequest__Output } from '../gen/cri/runtime/v1/VersionRequest.js';
import type { VersionResponse } from '../gen/cri/runtime/v1/VersionResponse.js';
import type { CriContext } from './context.js';

/** The version of the kubelet-facing API the kubelet negotiates with ("0.1.0" by convention). */
const KUBELET_API_VERSION = '0.1.0';

export async function version(ctx: CriContext, _req: VersionRequest__Output): Promise<VersionResponse> {
  return {
    version: KUBELET_API_VERSION,
    runtime_name: 'berth',
    runtime_version: ctx.berthVersion,
    runtime_api_version: 'v1',
  };
}
