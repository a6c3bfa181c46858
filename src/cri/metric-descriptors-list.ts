import { listMetricDescriptors as descriptors } from '../core/metrics/descriptors.js';
import type { ListMetricDescriptorsRequest__Output } from '../gen/cri/runtime/v1/ListMetricDescriptorsRequest.js';
import type { ListMetricDescriptorsResponse } from '../gen/cri/runtime/v1/ListMetricDescriptorsResponse.js';
import type { CriContext } from './context.js';

/** ListMetricDescriptors: the cAdvisor-style metrics ListPodSandboxMetrics reports. */
export async function listMetricDescriptors(_ctx: CriContext, _req: ListMetricDescriptorsRequest__Output): Promise<ListMetricDescriptorsResponse> {
  return { descriptors: descriptors() };
}
