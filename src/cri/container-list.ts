import type { ContainerRecord } from '../core/metadata/records.js';
import type { ListContainersRequest__Output } from '../gen/cri/runtime/v1/ListContainersRequest.js';
import { refreshContainer } from './container-state.js';
import { containerConfig, stateName, toCriContainer } from './container-view.js';
import type { CriContext } from './context.js';
import { EncodedList, EncodingCache, type EncodedResponse } from './encoded-response.js';
import { loadCriProto } from './proto.js';

/**
 * Each container as one element of ListContainersResponse.containers (field 1:
 * tag, length, Container). A repeated field is encoded element after element,
 * so a response is the chosen elements concatenated.
 */
const listed = new EncodedList(
  new EncodingCache<ContainerRecord>((c) =>
    loadCriProto().runtime.v1.RuntimeService.service.ListContainers.responseSerialize({ containers: [toCriContainer(c)] }),
  ),
);

export async function listContainers(ctx: CriContext, req: ListContainersRequest__Output): Promise<EncodedResponse> {
  const rt = ctx.runtime;
  const f = req.filter;
  const out: ContainerRecord[] = [];
  for (const record of rt.containers.all()) {
    if (f?.id && !record.id.startsWith(f.id)) continue;
    if (f?.pod_sandbox_id && !record.sandboxId.startsWith(f.pod_sandbox_id)) continue;
    const labels = containerConfig(record).labels;
    if (f?.label_selector && !Object.entries(f.label_selector).every(([k, v]) => labels[k] === v)) continue;
    const c = refreshContainer(rt, record);
    if (f?.state && f.state.state !== stateName(c)) continue;
    out.push(c);
  }
  return listed.response(out);
}
