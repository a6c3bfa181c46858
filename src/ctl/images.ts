import { parseArgs } from 'node:util';
import { connectCri, type CriClients } from '../client/cri-client.js';
import { LocalContentStore } from '../core/content/local-store.js';
import type { Credentials } from '../core/distribution/client.js';
import { formatElapsed, formatTable, humanSize, parseUserFlag, shortId } from './format.js';
import { GLOBAL_OPTIONS, mergeGlobals, resolveEnvironment, UsageError, type CtlEnvironment, type GlobalFlags } from './globals.js';
import { findImageName } from './image-names.js';
import { pushImage } from './image-push.js';
import { IngestMeter, startPullIndicator, TransferProgress } from './progress.js';

export const IMAGES_USAGE = `usage: berthctl images COMMAND

  pull REF [--user U:P]                        pull through the daemon (CRI PullImage); prints the image id
  ls                                           REF, ID and SIZE of every image name
  rm REF...                                    remove images (by name, id or id prefix)
  inspect REF                                  ImageStatus (verbose) as JSON
  push REF [TARGET] [--user U:P] [--plain-http] push from berth's content store to a registry
`;

const PULL_TIMEOUT_MS = 30 * 60_000;

/** `berthctl images …`; returns the exit code. */
export async function runImages(args: string[], globals: GlobalFlags): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === '-h' || sub === '--help' || sub === 'help') {
    process.stdout.write(IMAGES_USAGE);
    return 0;
  }
  switch (sub) {
    case 'pull':
      return pull(rest, globals);
    case 'ls':
    case 'list':
      return list(rest, globals);
    case 'rm':
    case 'remove':
      return remove(rest, globals);
    case 'inspect':
      return inspect(rest, globals);
    case 'push':
      return push(rest, globals);
    default:
      throw new UsageError(sub ? `unknown images command "${sub}"\n${IMAGES_USAGE}` : IMAGES_USAGE);
  }
}

interface Parsed {
  env: CtlEnvironment;
  positionals: string[];
  user?: string;
  plainHttp: boolean;
}

async function parse(args: string[], globals: GlobalFlags, extra: { user?: boolean; plainHttp?: boolean } = {}): Promise<Parsed> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { ...GLOBAL_OPTIONS, user: { type: 'string', short: 'u' }, 'plain-http': { type: 'boolean' } },
  });
  if (values.user !== undefined && !extra.user) throw new UsageError('--user only applies to images pull and push');
  if (values['plain-http'] && !extra.plainHttp) throw new UsageError('--plain-http only applies to images push');
  const parsed: Parsed = {
    env: await resolveEnvironment(mergeGlobals(globals, values)),
    positionals,
    plainHttp: values['plain-http'] === true,
  };
  if (values.user !== undefined) parsed.user = values.user;
  return parsed;
}

async function withCri<T>(env: CtlEnvironment, run: (cri: CriClients) => Promise<T>): Promise<T> {
  const cri = connectCri(env.address);
  try {
    return await run(cri);
  } finally {
    cri.close();
  }
}

async function pull(args: string[], globals: GlobalFlags): Promise<number> {
  const { env, positionals, user } = await parse(args, globals, { user: true });
  const [ref, ...extra] = positionals;
  if (!ref || extra.length > 0) throw new UsageError('usage: berthctl images pull REF [--user USER:PASSWORD]');
  const request = { image: { image: ref }, ...(user !== undefined ? { auth: parseUserFlag(user) } : {}) };
  return withCri(env, async (cri) => {
    const indicator = startPullIndicator(`pulling ${ref}`, new IngestMeter(env.contentRoot), process.stderr);
    let imageRef: string;
    try {
      imageRef = (await cri.image.PullImage(request, PULL_TIMEOUT_MS)).image_ref;
    } catch (err) {
      await indicator.stop();
      throw err;
    }
    const { elapsedMs, bytes } = await indicator.stop();
    process.stderr.write(`pulled ${ref} in ${formatElapsed(elapsedMs)} (${humanSize(bytes)} received)\n`);
    process.stdout.write(`${imageRef}\n`);
    return 0;
  });
}

async function list(args: string[], globals: GlobalFlags): Promise<number> {
  const { env, positionals } = await parse(args, globals);
  if (positionals.length > 0) throw new UsageError('usage: berthctl images ls');
  const { images } = await withCri(env, (cri) => cri.image.ListImages({}));
  const rows: string[][] = [];
  for (const image of images) {
    const names = image.repo_tags.length > 0 ? image.repo_tags : image.repo_digests.length > 0 ? image.repo_digests : ['<none>'];
    for (const name of names) rows.push([name, shortId(image.id), humanSize(Number(image.size))]);
  }
  rows.sort((a, b) => (a[0] ?? '').localeCompare(b[0] ?? ''));
  process.stdout.write(formatTable(['REF', 'ID', 'SIZE'], rows));
  return 0;
}

async function remove(args: string[], globals: GlobalFlags): Promise<number> {
  const { env, positionals } = await parse(args, globals);
  if (positionals.length === 0) throw new UsageError('usage: berthctl images rm REF...');
  return withCri(env, async (cri) => {
    let failed = 0;
    for (const ref of positionals) {
      // RemoveImage succeeds for unknown images (CRI makes it idempotent); a person wants to hear about typos.
      const { image } = await cri.image.ImageStatus({ image: { image: ref } });
      if (!image) {
        process.stderr.write(`berthctl: image ${ref} not found\n`);
        failed++;
        continue;
      }
      await cri.image.RemoveImage({ image: { image: ref } });
      process.stdout.write(`${ref}\n`);
    }
    return failed > 0 ? 1 : 0;
  });
}

async function inspect(args: string[], globals: GlobalFlags): Promise<number> {
  const { env, positionals } = await parse(args, globals);
  const [ref, ...extra] = positionals;
  if (!ref || extra.length > 0) throw new UsageError('usage: berthctl images inspect REF');
  const res = await withCri(env, (cri) => cri.image.ImageStatus({ image: { image: ref }, verbose: true }));
  if (!res.image) {
    process.stderr.write(`berthctl: image ${ref} not found\n`);
    return 1;
  }
  const info: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(res.info)) info[key] = parseJsonOr(value);
  process.stdout.write(`${JSON.stringify({ status: res.image, info }, null, 2)}\n`);
  return 0;
}

async function push(args: string[], globals: GlobalFlags): Promise<number> {
  const { env, positionals, user, plainHttp } = await parse(args, globals, { user: true, plainHttp: true });
  const [ref, target, ...extra] = positionals;
  if (!ref || extra.length > 0) throw new UsageError('usage: berthctl images push REF [TARGET] [--user USER:PASSWORD] [--plain-http]');
  const image = findImageName(env.metadataDb, ref);
  const result = await pushImage({
    store: new LocalContentStore(env.contentRoot),
    image,
    target: target ?? image.name,
    registryConfigPath: env.registryConfigPath,
    credentials: credentialsForPush(user, env.registryCredentials),
    plainHttp,
    progress: new TransferProgress(process.stdout),
  });
  process.stdout.write(`pushed ${result.reference} (${result.manifestDigest}): ${result.uploaded} blobs uploaded, ${result.skipped} already present\n`);
  return 0;
}

/** --user wins for every host; without it, each host gets what berth.toml configures for it. */
function credentialsForPush(user: string | undefined, configured: (host: string) => Credentials | undefined): (host: string) => Credentials | undefined {
  if (user === undefined) return configured;
  const credentials: Credentials = parseUserFlag(user);
  return () => credentials;
}

function parseJsonOr(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}
