/**
 * Shapes shared by the CNI modules: network configuration as read from disk,
 * the runtime arguments berth passes to plugins, and results as plugins print them.
 */

/** A JSON object as plugins read and write it. */
export type JsonObject = { [key: string]: unknown };

/** One plugin entry of a network configuration list. */
export interface PluginConfig extends JsonObject {
  type: string;
  capabilities?: { [capability: string]: boolean };
}

/** A network configuration list (`.conflist`, or a `.conf` wrapped into one). */
export interface NetworkConfigList {
  name: string;
  cniVersion: string;
  disableCheck: boolean;
  plugins: PluginConfig[];
  /** The file it was read from. */
  source: string;
}

/** A CRI port mapping as the portmap plugin takes it (capability `portMappings`). */
export interface PortMapping {
  hostPort: number;
  containerPort: number;
  /** tcp, udp or sctp (lowercase on the wire). */
  protocol: string;
  hostIP?: string;
}

/** Capability `bandwidth`: rates in bits per second, bursts in bits. */
export interface BandwidthLimits {
  ingressRate?: number;
  ingressBurst?: number;
  egressRate?: number;
  egressBurst?: number;
}

/** Capability `dns`. */
export interface DnsSettings {
  servers?: string[];
  searches?: string[];
  options?: string[];
}

/**
 * Everything that varies per pod besides the network config. Cached with the
 * ADD result so that DEL after a restart receives exactly the same inputs.
 */
export interface RuntimeArgs {
  containerId: string;
  /** Path of the network namespace; empty when it no longer exists (DEL only). */
  netnsPath: string;
  ifName: string;
  /** CNI_ARGS as ordered key/value pairs. */
  args: Array<[string, string]>;
  /** Values for plugins that declare the capability of the same name. */
  capabilityArgs: { [capability: string]: unknown };
}

/** An interface entry of a CNI result (0.3.0 and later). */
export interface ResultInterface {
  name: string;
  mac?: string;
  sandbox?: string;
}

/** An address entry of a CNI result (0.3.0 and later); `address` is CIDR notation. */
export interface ResultIp {
  address: string;
  gateway?: string;
  interface?: number;
  version?: string;
}

/** A plugin's ADD result as printed (fields we read; the rest is kept verbatim). */
export interface CniResult extends JsonObject {
  cniVersion?: string;
}

/** A pod address with the prefix length removed, as CRI reports it. */
export interface PodIp {
  address: string;
  gateway?: string;
  family: 4 | 6;
}
