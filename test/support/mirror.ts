import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * Writes containerd-style hosts.toml files sending each upstream registry to
 * the given mirrors (tried in order), as an operator would in certs.d.
 */
export async function writeMirrorConfig(configPath: string, upstreams: string[], mirrors: string[]): Promise<void> {
  for (const upstream of upstreams) {
    const dir = join(configPath, upstream);
    await mkdir(dir, { recursive: true });
    const hosts = mirrors.map((m) => `[host."${m}"]\n  capabilities = ["pull", "resolve"]\n`).join('\n');
    await writeFile(join(dir, 'hosts.toml'), `server = "https://${upstream}"\n\n${hosts}`);
  }
}
