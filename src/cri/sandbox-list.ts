import type { SandboxRecord } from '../core/metadata/records.js';
import type { ListPodSandboxRequest__Output } from '../gen/cri/runtime/v1/ListPodSandboxRequest.js';
import type { CriContext } from './context.js';
import { EncodedList, EncodingCache, type EncodedResponse } from './encoded-response.js';
import { loadCriProto } from './proto.js';
import { refreshSandbox } from './sandbox-state.js';
import { sandboxConfig, sandboxStateName, toCriSandbox } from './sandbox-view.js';

/** Each sandbox as one element of ListPodSandboxResponse.items (field 1); a response is elements concatenated. */
const listed = new EncodedList(
  new EncodingCache<SandboxRecord>((s) =>
    loadCriProto().runtime.v1.RuntimeService.service.ListPodSandbox.responseSerialize({ items: [toCriSandbox(s, sandboxStateName(s))] }),
  ),
);

function matchesLabels(labels: Record<string, string>, selector: Record<string, string>): boolean {
  return Object.entries(selector).every(([k, v]) => labels[k] === v);
}

export async function listPodSandbox(ctx: CriContext, req: ListPodSandboxRequest__Output): Promise<EncodedResponse> {
  const rt = ctx.runtime;
  const filter = req.filter;
  const out: SandboxRecord[] = [];
  for (const record of rt.sandboxes.all()) {
    if (filter?.id && !record.id.startsWith(filter.id)) continue;
    if (filter?.label_selector && !matchesLabels(sandboxConfig(record).labels, filter.label_selector)) continue;
    const sandbox = refreshSandbox(rt, record);
    if (filter?.state && filter.state.state !== sandboxStateName(sandbox)) continue;
    out.push(sandbox);
  }
  out.sort((a, b) => (b.createdAt > a.createdAt ? 1 : -1));
  return listed.response(out);
}
