import type { Container } from '../gen/cri/runtime/v1/Container.js';
import type { ListContainersRequest__Output } from '../gen/cri/runtime/v1/ListContainersRequest.js';
import type { ListContainersResponse } from '../gen/cri/runtime/v1/ListContainersResponse.js';
import { refreshContainer } from './container-state.js';
import { containerConfig, stateName, toCriContainer } from './container-view.js';
import type { CriContext } from './context.js';

export async function listContainers(ctx: CriContext, req: ListContainersRequest__Output): Promise<ListContainersResponse> {
  const rt = ctx.runtime;
  const f = req.filter;
  const out: Container[] = [];
  for (const record of rt.containers.all()) {
    if (f?.id && !record.id.startsWith(f.id)) continue;
    if (f?.pod_sandbox_id && !record.sandboxId.startsWith(f.pod_sandbox_id)) continue;
    const labels = containerConfig(record).labels;
    if (f?.label_selector && !Object.entries(f.label_selector).every(([k, v]) => labels[k] === v)) continue;
    const c = refreshContainer(rt, record);
    if (f?.state && f.state.state !== stateName(c)) continue;
    out.push(toCriContainer(c));
  }
  return { containers: out };
}
