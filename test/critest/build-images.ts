/**
 * Build the images critest pulls and push them to a local registry:
 *   node dist/test/critest/build-images.js --registry 127.0.0.1:5000 --cache /var/cache/berth-critest [name...]
 * Names select catalog entries (default: all). Prints one line per pushed reference.
 */
import { homedir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { CRITEST_IMAGES, selectImages } from './images/catalog.js';
import { publishImages } from './images/publish.js';

const USAGE = `usage: build-images [--registry HOST:PORT] [--cache DIR] [--list] [image-name...]`;

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    options: {
      registry: { type: 'string', default: '127.0.0.1:5000' },
      cache: { type: 'string', default: join(homedir(), '.cache', 'berth-critest-images') },
      list: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    allowPositionals: true,
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  if (values.list) {
    for (const image of CRITEST_IMAGES) console.log(`${image.name}\t${image.references.join(' ')}`);
    return;
  }
  const images = selectImages(positionals);
  await publishImages(images, {
    registry: values.registry,
    cacheDir: values.cache,
    onPushed: (r) => console.log(`${r.reference} -> ${r.location} ${r.digest} (${r.uploaded} blobs uploaded)`),
  });
}

main().catch((err: unknown) => {
  console.error(`build-images: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
});
