import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { run } from './exec.js';

export interface TestCertificate {
  certFile: string;
  keyFile: string;
  cert: Buffer;
  key: Buffer;
}

/**
 * A self-signed certificate for 127.0.0.1 and localhost, made by openssl in
 * dir (node:crypto cannot issue X.509 certificates). Clients that trust it as
 * their CA verify berth's streaming server for real.
 */
export async function selfSignedCertificate(dir: string, name = 'stream'): Promise<TestCertificate> {
  const certFile = join(dir, `${name}.crt`);
  const keyFile = join(dir, `${name}.key`);
  const res = await run('openssl', [
    'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=berth streaming test',
    '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost',
    '-keyout', keyFile, '-out', certFile,
  ]);
  if (res.code !== 0) throw new Error(`openssl could not make a test certificate: ${res.stderr}`);
  return { certFile, keyFile, cert: await readFile(certFile), key: await readFile(keyFile) };
}
