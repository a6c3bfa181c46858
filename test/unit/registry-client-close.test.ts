import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { RegistryClient } from '../../src/core/distribution/client.js';
import type { RegistryHost } from '../../src/core/distribution/hosts.js';

// A pull's blob download is shared with other pulls of the same digest, but runs on the
// client of the pull that started it: closing that client (its pull was cancelled or
// failed) must not cut a download another pull is still reading.
describe('RegistryClient.close', () => {
  it('lets a response already being read finish, then closes its connections', async () => {
    const first = Buffer.from('first half of the blob;');
    const second = Buffer.from(' second half');
    const data = Buffer.concat([first, second]);
    const digest = `sha256:${createHash('sha256').update(data).digest('hex')}`;
    let release: (() => void) | undefined;
    const server = http.createServer((req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': data.length });
      res.write(first);
      release = () => res.end(second);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const sockets = new Set<import('node:net').Socket>();
    server.on('connection', (s) => {
      sockets.add(s);
      s.once('close', () => sockets.delete(s));
    });
    try {
      const port = (server.address() as AddressInfo).port;
      const host: RegistryHost = { url: new URL(`http://127.0.0.1:${port}/v2`), capabilities: new Set(['pull']), skipVerify: false, caPaths: [], headers: {} };
      const client = new RegistryClient({ timeoutMs: 10_000 });
      const stream = await client.fetchBlob(host, 'library/shared', { digest, size: data.length, mediaType: 'application/octet-stream' });
      const chunks: Buffer[] = [];
      const ended = new Promise<void>((resolve, reject) => {
        stream.on('data', (c: Buffer) => chunks.push(c));
        stream.on('end', resolve);
        stream.on('error', reject);
        stream.on('close', () => resolve());
      });
      await new Promise((r) => stream.once('data', r));
      client.close();
      release!();
      await ended;
      assert.equal(Buffer.concat(chunks).toString(), data.toString(), 'the download in progress was cut by close()');
      // Once idle, the closed client keeps no connection open.
      await new Promise<void>((resolve) => (sockets.size === 0 ? resolve() : [...sockets][0]!.once('close', () => resolve())));
      assert.equal(sockets.size, 0);
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    }
  });
});
