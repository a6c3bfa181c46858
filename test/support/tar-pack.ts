/**
 * The byte-level core the test image builders share: a tar written from
 * headers exactly as given (tar-stream keeps names verbatim), and sha256
 * digests in OCI form.
 */
import { createHash } from 'node:crypto';
import { pack, type Header } from 'tar-stream';

export type TarHeader = Partial<Header> & Pick<Header, 'name'>;

export interface TarMember {
  header: TarHeader;
  /** A file's bytes; none for directories, links and devices. */
  content?: Buffer | string;
}

/** The tar of `members`, in the order given. */
export async function packTar(members: Iterable<TarMember>): Promise<Buffer> {
  const tar = pack();
  const chunks: Buffer[] = [];
  const done = new Promise<Buffer>((resolve, reject) => {
    tar.on('data', (chunk: unknown) => chunks.push(chunk as Buffer));
    tar.on('end', () => resolve(Buffer.concat(chunks)));
    tar.on('error', reject);
  });
  for (const { header, content } of members) {
    await new Promise<void>((resolve, reject) => {
      const callback = (err?: Error | null): void => (err ? reject(err) : resolve());
      if (content === undefined) tar.entry(header, callback);
      else tar.entry(header, content, callback);
    });
  }
  tar.finalize();
  return done;
}

export function sha256(data: Buffer | string): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}
