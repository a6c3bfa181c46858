/**
 * The sub-protocol names Kubernetes clients offer, and which one we pick.
 * SPDY carries them in X-Stream-Protocol-Version headers, WebSocket in
 * Sec-WebSocket-Protocol.
 */

export const STREAM_PROTOCOL_HEADER = 'x-stream-protocol-version';
export const ACCEPTED_PROTOCOLS_HEADER = 'x-accepted-stream-protocol-versions';

/** remotecommand over SPDY, most preferred first (kubelet's list). */
export const SPDY_REMOTECOMMAND_PROTOCOLS = ['v4.channel.k8s.io', 'v3.channel.k8s.io', 'v2.channel.k8s.io', 'channel.k8s.io'] as const;
export const SPDY_PORTFORWARD_PROTOCOLS = ['portforward.k8s.io'] as const;

/** remotecommand over WebSocket; base64 variants carry text frames. */
export const WS_REMOTECOMMAND_PROTOCOLS = [
  'v5.channel.k8s.io',
  'v4.channel.k8s.io',
  'v4.base64.channel.k8s.io',
  'v3.channel.k8s.io',
  'v3.base64.channel.k8s.io',
  'v2.channel.k8s.io',
  'v2.base64.channel.k8s.io',
  'channel.k8s.io',
  'base64.channel.k8s.io',
] as const;
export const WS_PORTFORWARD_PROTOCOLS = ['v4.channel.k8s.io', 'v4.base64.channel.k8s.io', 'portforward.k8s.io'] as const;
/** client-go tunnels SPDY port forwarding through a WebSocket under this sub-protocol. */
export const WS_SPDY_TUNNEL_PROTOCOL = 'SPDY/3.1+portforward.k8s.io';

/** 1 … 5: what the remotecommand version changes (resize from 3, JSON status from 4, close frames from 5). */
export type RemoteCommandVersion = 1 | 2 | 3 | 4 | 5;

export function remoteCommandVersion(protocol: string): RemoteCommandVersion {
  const match = /^v(\d)\./.exec(protocol);
  if (!match) return 1;
  const version = Number(match[1]);
  return (version >= 1 && version <= 5 ? version : 1) as RemoteCommandVersion;
}

export function isBase64Protocol(protocol: string): boolean {
  return protocol.includes('base64.channel.k8s.io');
}

/** The first protocol the client offers that the server supports (client preference wins, as in kubelet). */
export function negotiate(clientProtocols: readonly string[], serverProtocols: readonly string[]): string | undefined {
  return clientProtocols.find((p) => serverProtocols.includes(p));
}

/** Splits header values a client may have sent as repeated headers or comma lists. */
export function splitHeaderList(values: readonly string[] | string | undefined): string[] {
  if (values === undefined) return [];
  const list = typeof values === 'string' ? [values] : values;
  return list.flatMap((v) => v.split(',')).map((v) => v.trim()).filter((v) => v.length > 0);
}
