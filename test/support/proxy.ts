import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ProxyRequestLog {
  method: string;
  url: string;
}

export interface TestProxy {
  url: string;
  host: string;
  requests: ProxyRequestLog[];
  close(): Promise<void>;
}

/**
 * An HTTP proxy in front of a test registry. `intercept` may answer a request
 * itself (return true) — to corrupt a blob, demand credentials, or stall.
 */
export async function startProxy(
  upstream: string,
  intercept?: (req: http.IncomingMessage, res: http.ServerResponse, forward: () => void) => boolean | void,
): Promise<TestProxy> {
  const requests: ProxyRequestLog[] = [];
  const target = new URL(upstream);
  const server = http.createServer((req, res) => {
    requests.push({ method: req.method ?? 'GET', url: req.url ?? '/' });
    const forward = () => {
      const out = http.request(
        { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: { ...req.headers, host: target.host } },
        (up) => {
          res.writeHead(up.statusCode ?? 502, up.headers);
          up.pipe(res);
        },
      );
      out.on('error', () => res.destroy());
      req.pipe(out);
    };
    if (intercept?.(req, res, forward) === true) return;
    forward();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    host: `127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
