import type { ContainerRecord } from '../core/metadata/records.js';
import type { ContainerStatusRequest__Output } from '../gen/cri/runtime/v1/ContainerStatusRequest.js';
import type { ContainerStatusResponse } from '../gen/cri/runtime/v1/ContainerStatusResponse.js';
import { refreshContainer } from './container-state.js';
import { containerConfig, toCriContainerStatus } from './container-view.js';
import type { CriContext } from './context.js';
import { EncodedResponse, EncodingCache } from './encoded-response.js';
import { lookupById } from './ids.js';
import { loadCriProto } from './proto.js';

function encode(response: ContainerStatusResponse): Buffer {
  return loadCriProto().runtime.v1.RuntimeService.service.ContainerStatus.responseSerialize(response);
}

/** ContainerStatusResponse.status (field 1) of each container; the verbose info (field 2) follows it when asked for. */
const statuses = new EncodingCache<ContainerRecord>((c) => encode({ status: toCriContainerStatus(c), info: {} }));

export async function containerStatus(ctx: CriContext, req: ContainerStatusRequest__Output): Promise<EncodedResponse> {
  const rt = ctx.runtime;
  const container = refreshContainer(rt, lookupById(rt.containers, req.container_id, 'container'));
  const status = statuses.bytes(container);
  if (!req.verbose) return new EncodedResponse(status);
  const sandbox = rt.sandboxes.get(container.sandboxId);
  const info = {
    info: JSON.stringify({
      sandboxID: container.sandboxId,
      pid: container.state === 'running' ? container.pid : 0,
      removing: false,
      snapshotKey: container.id,
      runtimeType: sandbox?.runtimeHandler ?? ctx.config.default_runtime,
      bundle: rt.tasks.bundleDir(container.id),
      config: containerConfig(container),
    }),
  };
  return new EncodedResponse(Buffer.concat([status, encode({ info })]));
}
