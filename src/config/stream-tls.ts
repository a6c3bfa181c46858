import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { errorMessage } from '../core/errors.js';
import type { BerthConfig } from './schema.js';
import { ConfigError } from './config-error.js';
import { requireBothOrNeither } from './validate.js';

/** The streaming server's certificate (chain) and private key, PEM. */
export interface StreamTls {
  cert: Buffer;
  key: Buffer;
}

const CERT_KEY = 'stream.tls_cert_file';
const KEY_KEY = 'stream.tls_key_file';

async function readConfiguredFile(path: string, key: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (err) {
    throw new ConfigError(key, `cannot read ${path}: ${errorMessage(err)}`);
  }
}

/**
 * Reads [stream] tls_cert_file and tls_key_file (containerd's
 * x509_key_pair_streaming) at startup, so a missing, unreadable, malformed or
 * mismatched file stops berthd with the key named instead of failing on the
 * first exec. Undefined when neither is set: the server speaks plain http/ws.
 */
export async function loadStreamTls(stream: BerthConfig['stream']): Promise<StreamTls | undefined> {
  if (!stream.tls_cert_file && !stream.tls_key_file) return undefined;
  requireBothOrNeither(stream.tls_cert_file, CERT_KEY, stream.tls_key_file, KEY_KEY);
  const cert = await readConfiguredFile(stream.tls_cert_file, CERT_KEY);
  const key = await readConfiguredFile(stream.tls_key_file, KEY_KEY);
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(cert);
  } catch (err) {
    throw new ConfigError(CERT_KEY, `${stream.tls_cert_file} holds no PEM certificate: ${errorMessage(err)}`);
  }
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(key);
  } catch (err) {
    throw new ConfigError(KEY_KEY, `${stream.tls_key_file} holds no usable PEM private key: ${errorMessage(err)}`);
  }
  if (!certificate.checkPrivateKey(privateKey)) {
    throw new ConfigError(KEY_KEY, `${stream.tls_key_file} is not the private key of the certificate in ${stream.tls_cert_file}`);
  }
  return { cert, key };
}
