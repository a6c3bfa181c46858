import type { ListPodSandboxRequest__Output } from '../gen/cri/runtime/v1/ListPodSandboxRequest.js';
import type { ListPodSandboxResponse } from '../gen/cri/runtime/v1/ListPodSandboxResponse.js';
import type { PodSandbox } from '../gen/cri/runtime/v1/PodSandbox.js';
import type { CriContext } from './context.js';
import { liveSandboxState } from './sandbox-state.js';
import { sandboxConfig, toCriSandbox } from './sandbox-view.js';

function matchesLabels(labels: Record<string, string>, selector: Record<string, string>): boolean {
  return Object.entries(selector).every(([k, v]) => labels[k] === v);
}

export async function listPodSandbox(ctx: CriContext, req: ListPodSandboxRequest__Output): Promise<ListPodSandboxResponse> {
  const rt = ctx.runtime;
  const filter = req.filter;
  const out: PodSandbox[] = [];
  for (const sandbox of rt.sandboxes.all()) {
    if (filter?.id && !sandbox.id.startsWith(filter.id)) continue;
    if (filter?.label_selector && !matchesLabels(sandboxConfig(sandbox).labels, filter.label_selector)) continue;
    const state = liveSandboxState(rt, sandbox);
    if (filter?.state && filter.state.state !== state) continue;
    out.push(toCriSandbox(sandbox, state));
  }
  out.sort((a, b) => (BigInt(String(b.created_at)) > BigInt(String(a.created_at)) ? 1 : -1));
  return { items: out };
}
