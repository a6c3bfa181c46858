/**
 * A registry on 127.0.0.1 that lies: each repository name is one way of
 * misbehaving (wrong digests, oversized or endless bodies, redirect and 401
 * loops, a body dripping a byte at a time). `good` serves a valid image.
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { buildImage, buildLayer, type BuiltImage } from './oci-image.js';
import { sha256 } from './tar-pack.js';

const MANIFEST_TYPE = 'application/vnd.oci.image.manifest.v1+json';
const INDEX_TYPE = 'application/vnd.oci.image.index.v1+json';
const DRIP_INTERVAL_MS = 100;

export interface LyingRegistry {
  /** `127.0.0.1:<port>`, usable as an image reference domain (plain HTTP: loopback). */
  host: string;
  image: BuiltImage;
  /** Connections currently open from clients (berthd) to a dripping endpoint. */
  openDrips(): number;
  /** Dripping responses started so far. */
  dripsStarted(): number;
  close(): Promise<void>;
}

type Handler = (req: IncomingMessage, res: ServerResponse, rest: string) => void;

export async function startLyingRegistry(): Promise<LyingRegistry> {
  const image = buildImage([await buildLayer([{ type: 'file', name: 'hello.txt', content: 'hello from a lying registry\n' }])]);
  const layer = image.layers[0]!;
  const blobs = new Map<string, Buffer>([
    [image.config.digest, image.config.data],
    [layer.digest, layer.data],
  ]);
  const drips = new Set<Socket>();
  let dripCount = 0;
  const timers = new Set<NodeJS.Timeout>();
  let origin = '';

  const sendManifest = (res: ServerResponse, body: Buffer, headers: http.OutgoingHttpHeaders = {}): void => {
    res.writeHead(200, { 'content-type': MANIFEST_TYPE, 'content-length': body.length, 'docker-content-digest': sha256(body), ...headers });
    res.end(body);
  };
  const sendIndex = (res: ServerResponse, entryType: string): void => {
    const body = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: INDEX_TYPE,
        manifests: [{ mediaType: entryType, digest: `sha256:${'1'.repeat(64)}`, size: 10, platform: { os: 'linux', architecture: 'amd64' } }],
      }),
    );
    res.writeHead(200, { 'content-type': INDEX_TYPE, 'content-length': body.length }).end(body);
  };
  const sendBlob = (res: ServerResponse, digest: string): void => {
    const data = blobs.get(digest);
    if (!data) {
      res.writeHead(404, { 'content-type': 'application/json' }).end('{"errors":[{"code":"BLOB_UNKNOWN"}]}');
      return;
    }
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': data.length }).end(data);
  };
  /** Writes `chunk` forever as fast as the client reads it. */
  const endless = (res: ServerResponse, chunk: Buffer): void => {
    const pump = (): void => {
      while (!res.destroyed && res.write(chunk));
      if (!res.destroyed) res.once('drain', pump);
    };
    pump();
  };
  /** One byte every DRIP_INTERVAL_MS, never ending; the socket is tracked until the client hangs up. */
  const drip = (req: IncomingMessage, res: ServerResponse, contentType: string): void => {
    const socket = req.socket;
    dripCount++;
    drips.add(socket);
    socket.once('close', () => drips.delete(socket));
    res.writeHead(200, { 'content-type': contentType });
    const timer = setInterval(() => {
      if (res.destroyed) {
        clearInterval(timer);
        timers.delete(timer);
        return;
      }
      res.write(' ');
    }, DRIP_INTERVAL_MS);
    timers.add(timer);
    res.once('close', () => {
      clearInterval(timer);
      timers.delete(timer);
    });
  };
  const challenge = (res: ServerResponse, scope: string): void => {
    res.writeHead(401, {
      'www-authenticate': `Bearer realm="${origin}/token",service="lying",scope="${scope}"`,
      'content-type': 'application/json',
    });
    res.end('{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}');
  };

  const repos: Record<string, { manifest?: Handler; blob?: Handler }> = {
    good: { manifest: (_q, res) => sendManifest(res, image.manifest.data) },
    'wrong-blob': {
      manifest: (_q, res) => sendManifest(res, image.manifest.data),
      blob: (_q, res, digest) => {
        if (digest !== layer.digest) return sendBlob(res, digest);
        const forged = Buffer.from(layer.data);
        forged[forged.length - 1] ^= 0xff;
        res.writeHead(200, { 'content-length': forged.length }).end(forged);
      },
    },
    'wrong-manifest-digest': {
      manifest: (_q, res) => sendManifest(res, image.manifest.data, { 'docker-content-digest': `sha256:${'0'.repeat(64)}` }),
    },
    'wrong-manifest-by-digest': {
      // Asked by digest, answers a different manifest (with an honest header for what it sends).
      manifest: (_q, res) => sendManifest(res, Buffer.from(image.manifest.data.toString().replace('"schemaVersion":2', '"schemaVersion": 2'))),
    },
    'oversized-manifest': {
      manifest: (_q, res) => {
        res.writeHead(200, { 'content-type': MANIFEST_TYPE, 'content-length': 512 * 1024 * 1024 });
        endless(res, Buffer.alloc(64 * 1024, 0x20));
      },
    },
    'endless-manifest': {
      manifest: (_q, res) => {
        res.writeHead(200, { 'content-type': MANIFEST_TYPE });
        endless(res, Buffer.alloc(64 * 1024, 0x20));
      },
    },
    'endless-blob': {
      manifest: (_q, res) => sendManifest(res, image.manifest.data),
      blob: (_q, res, digest) => {
        if (digest !== layer.digest) return sendBlob(res, digest);
        res.writeHead(200, { 'content-type': 'application/octet-stream' });
        endless(res, Buffer.alloc(64 * 1024, 0x41));
      },
    },
    'garbage-manifest': {
      manifest: (_q, res) => sendManifest(res, Buffer.from('{"schemaVersion":2,"config":{"digest":"sha256:../../../../etc/passwd","size":-1},"layers":7}')),
    },
    // An index whose amd64 entry is another index, served for every reference: following it would never end.
    'index-loop': { manifest: (_q, res) => sendIndex(res, INDEX_TYPE) },
    // An index whose amd64 manifest, asked for by digest, is the index again.
    'index-lie': { manifest: (_q, res) => sendIndex(res, MANIFEST_TYPE) },
    'redirect-loop': {
      manifest: (req, res) => res.writeHead(307, { location: req.url ?? '/' }).end(),
    },
    'auth-loop': { manifest: (_q, res) => challenge(res, 'repository:auth-loop:pull') },
    'auth-never-accepted': { manifest: (_q, res) => challenge(res, 'repository:auth-never-accepted:pull') },
    'bad-token': { manifest: (_q, res) => challenge(res, 'repository:bad-token:pull') },
    'slow-manifest': { manifest: (req, res) => drip(req, res, MANIFEST_TYPE) },
    'slow-blob': {
      manifest: (_q, res) => sendManifest(res, image.manifest.data),
      blob: (req, res, digest) => (digest === layer.digest ? drip(req, res, 'application/octet-stream') : sendBlob(res, digest)),
    },
  };

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname === '/token') {
      const scope = url.searchParams.get('scope') ?? '';
      if (scope.includes('auth-never-accepted')) return void res.writeHead(200, { 'content-type': 'application/json' }).end('{"token":"never-good-enough"}');
      if (scope.includes('bad-token')) return void res.writeHead(200, { 'content-type': 'application/json' }).end('{"token":"tok\\r\\nX-Injected: yes"}');
      return void res.writeHead(401, { 'content-type': 'application/json' }).end('{"errors":[{"code":"DENIED","message":"never"}]}');
    }
    const m = /^\/v2\/([^/]+)\/(manifests|blobs)\/([^/]+)$/.exec(url.pathname);
    const repo = m ? repos[m[1]!] : undefined;
    if (!m || !repo) return void res.writeHead(404).end();
    if (m[2] === 'manifests') return (repo.manifest ?? (() => res.writeHead(404).end()))(req, res, m[3]!);
    return (repo.blob ?? ((_q, r, d) => sendBlob(r, d)))(req, res, m[3]!);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  origin = `http://127.0.0.1:${port}`;
  return {
    host: `127.0.0.1:${port}`,
    image,
    openDrips: () => drips.size,
    dripsStarted: () => dripCount,
    close: () =>
      new Promise((resolve) => {
        for (const timer of timers) clearInterval(timer);
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
