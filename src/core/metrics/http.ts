import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { InvalidArgumentError } from '../errors.js';

export interface MetricsServer {
  /** the bound host and port (the real port when 0 was asked) */
  readonly host: string;
  readonly port: number;
  /** e.g. "http://127.0.0.1:10361/metrics" */
  readonly url: string;
  stop(): Promise<void>;
}

/** Splits "127.0.0.1:10361", "[::1]:10361" or "localhost:0" into host and port. */
export function parseListenAddress(address: string): { host: string; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(address.trim());
  const port = match === null ? NaN : Number(match[3]);
  if (match === null || port > 65535) {
    throw new InvalidArgumentError(`metrics address ${JSON.stringify(address)} must be "host:port" (e.g. "127.0.0.1:10361", "[::1]:10361")`);
  }
  return { host: (match[1] ?? match[2])!, port };
}

/**
 * Serves the registry on GET /metrics in the Prometheus text format. Meant
 * for loopback ([metrics] address in berth.toml); use port 0 in tests.
 */
export async function startMetricsServer(registry: Registry, address: string): Promise<MetricsServer> {
  const { host, port } = parseListenAddress(address);
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: metrics are served on /metrics\n');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('method not allowed\n');
      return;
    }
    registry.metrics().then(
      (text) => {
        res.writeHead(200, { 'content-type': registry.contentType });
        res.end(req.method === 'HEAD' ? undefined : text);
      },
      (err: unknown) => {
        res.writeHead(500, { 'content-type': 'text/plain' }).end(`collecting metrics failed: ${err instanceof Error ? err.message : String(err)}\n`);
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  }).catch((err: unknown) => {
    throw new Error(`cannot serve metrics on ${address}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  });
  const bound = server.address() as AddressInfo;
  const urlHost = bound.family === 'IPv6' ? `[${bound.address}]` : bound.address;
  let stopping: Promise<void> | undefined;
  return {
    host: bound.address,
    port: bound.port,
    url: `http://${urlHost}:${bound.port}/metrics`,
    stop(): Promise<void> {
      stopping ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return stopping;
    },
  };
}
