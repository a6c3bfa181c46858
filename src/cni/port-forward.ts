import net from 'node:net';
import type { Duplex } from 'node:stream';
import { spawnChild } from '../core/sys/spawn.js';

/**
 * Connects one port-forward stream to 127.0.0.1:port inside a network
 * namespace. Node cannot enter a namespace itself, so a small relay runs
 * there (`nsenter --net` + busybox nc), as containerd once did with socat.
 * Host-network pods (no netns path) are reached directly.
 */
export async function forwardIntoNetns(netnsPath: string, port: number, stream: Duplex, signal: AbortSignal): Promise<void> {
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`invalid port ${port}`);
  if (!netnsPath) {
    const socket = net.connect({ host: '127.0.0.1', port });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    // A reset after the connection is the peer's business, not a reason to take berthd down.
    socket.on('error', () => socket.destroy());
    stream.pipe(socket);
    socket.pipe(stream);
    await new Promise<void>((resolve) => {
      socket.once('close', () => resolve());
      signal.addEventListener('abort', () => socket.destroy(), { once: true });
    });
    return;
  }
  const relay = spawnChild('nsenter', [`--net=${netnsPath}`, 'busybox', 'nc', '127.0.0.1', String(port)], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  relay.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  // The relay exits at once when nothing listens: what the client still sends then meets a closed pipe (EPIPE).
  relay.stdin.on('error', () => undefined);
  relay.stdout.on('error', () => undefined);
  stream.pipe(relay.stdin);
  relay.stdout.pipe(stream, { end: false });
  signal.addEventListener('abort', () => relay.kill('SIGKILL'), { once: true });
  const code = await new Promise<number | null>((resolve, reject) => {
    relay.once('error', (err) => reject(new Error(`port ${port}: cannot run the relay into the pod's network namespace: ${err.message}`)));
    relay.once('close', (c) => resolve(c));
  }).finally(() => stream.unpipe(relay.stdin));
  if (code !== 0 && stderr) throw new Error(`port ${port}: ${stderr.trim()}`);
}
