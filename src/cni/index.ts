/** berth's CNI support: pod network namespaces and the plugin chain that wires them. */
export { CniManager, DEFAULT_BIN_DIRS, DEFAULT_IFNAME, toCniPortMappings } from './manager.js';
export type {
  CniManagerOptions,
  NetworkReadiness,
  PodNetworkRef,
  PodNetworkRequest,
  PodNetworkStatus,
  PodPortMapping,
} from './manager.js';
export { createNetns, removeNetns, netnsExists, DEFAULT_NETNS_DIR } from './netns.js';
export type { Netns } from './netns.js';
export { loadNetworkConfig, parseNetworkConfig, CniConfigError, DEFAULT_CONF_DIR } from './config.js';
export type { LoadResult } from './config.js';
export { CniPluginError, CniPluginNotFoundError } from './errors.js';
export type * from './types.js';
