/**
 * A throwaway Docker distribution registry (Debian's /usr/bin/docker-registry) on
 * 127.0.0.1:<free port>, storing into a temp dir. `stop()` kills it and removes the dir.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitUntil } from './wait.js';

export const REGISTRY_BINARY = '/usr/bin/docker-registry';

export interface TestRegistry {
  port: number;
  /** `http://127.0.0.1:<port>` */
  url: string;
  /** `127.0.0.1:<port>`, usable as an image reference domain. */
  host: string;
  stop: () => Promise<void>;
}

export interface StartRegistryOptions {
  /** Answer with relative Location headers (the registry's `http.relativeurls`). */
  relativeUrls?: boolean;
  /** How long to wait for `/v2/` to answer (default 15 s). */
  startTimeoutMs?: number;
  /** Require bearer tokens (distribution's `auth: token`): JWTs from `realm`, signed by a key of `rootCertBundle`. */
  tokenAuth?: { realm: string; service: string; issuer: string; rootCertBundle: string };
}

export async function startRegistry(options: StartRegistryOptions = {}): Promise<TestRegistry> {
  const dir = await mkdtemp(join(tmpdir(), 'berth-registry-'));
  let child: ChildProcess | undefined;
  const stop = async (): Promise<void> => {
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((resolve) => child?.once('exit', () => resolve()));
      child.kill('SIGKILL');
      await exited;
    }
    await rm(dir, { recursive: true, force: true });
  };

  try {
    const port = await freePort();
    const config = [
      'version: 0.1',
      'log:',
      '  level: error',
      '  accesslog:',
      '    disabled: true',
      'storage:',
      '  filesystem:',
      `    rootdirectory: ${join(dir, 'data')}`,
      '  delete:',
      '    enabled: true',
      'http:',
      `  addr: 127.0.0.1:${port}`,
      ...(options.relativeUrls ? ['  relativeurls: true'] : []),
      ...(options.tokenAuth
        ? [
            'auth:',
            '  token:',
            `    realm: ${options.tokenAuth.realm}`,
            `    service: ${options.tokenAuth.service}`,
            `    issuer: ${options.tokenAuth.issuer}`,
            `    rootcertbundle: ${options.tokenAuth.rootCertBundle}`,
          ]
        : []),
      '',
    ].join('\n');
    const configFile = join(dir, 'config.yml');
    await writeFile(configFile, config);

    let stderr = '';
    child = spawn(REGISTRY_BINARY, ['serve', configFile], { stdio: ['ignore', 'ignore', 'pipe'] });
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString()).slice(-4000);
    });
    const exited = new Promise<never>((_, reject) => {
      child?.once('error', (err) => reject(new Error(`cannot start ${REGISTRY_BINARY}: ${err.message}`)));
      child?.once('exit', (code, signal) =>
        reject(new Error(`${REGISTRY_BINARY} exited (${code ?? signal}) before answering: ${stderr.trim()}`)),
      );
    });
    exited.catch(() => {}); // observed below; avoid an unhandled rejection after a normal stop
    // With token auth, /v2/ answers 401 once the registry is up.
    const upStatus = options.tokenAuth ? 401 : 200;
    await Promise.race([waitForV2(port, options.startTimeoutMs ?? 15_000, upStatus), exited]);
    const host = `127.0.0.1:${port}`;
    return { port, url: `http://${host}`, host, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** The status of GET /v2/ on a local port; 0 when nothing answers. */
function v2Status(port: number): Promise<number> {
  return new Promise<number>((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/v2/', timeout: 1000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(0));
  });
}

function waitForV2(port: number, timeoutMs: number, upStatus: number): Promise<void> {
  return waitUntil(async () => (await v2Status(port)) === upStatus, `the registry on 127.0.0.1:${port} to answer /v2/`, { timeoutMs });
}
