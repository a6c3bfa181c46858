/**
 * The conformance harness: local registry with the test images, berthd with
 * mirrors and a CNI bridge of its own, upstream critest (SPDY, then the
 * streaming specs again over WebSocket), a JUnit report, the ratchet check.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BERTHD_NODE_FLAGS } from '../../src/daemon/node-flags.js';
import { selectImages } from './images/catalog.js';
import { publishImages } from './images/publish.js';
import { parseJUnit, type SpecResult } from './junit.js';
import { loadExpectedFail, loadMustPass } from './ratchet.js';

const REGISTRY = '127.0.0.1:5000';
const MIRRORED = ['docker.io', 'registry.k8s.io', 'gcr.io', 'k8s.gcr.io'];
const SUBNET = '10.235.0.0/16';
const BRIDGE = 'berthct0';

const here = dirname(fileURLToPath(import.meta.url));
const repo = (() => {
  let dir = here;
  while (!existsSync(join(dir, 'package.json'))) dir = dirname(dir);
  return dir;
})();
const listDir = join(repo, 'test', 'critest');

interface Options {
  focus?: string;
  skip?: string;
  websocket: boolean;
  keep: boolean;
  reportDir: string;
}

function parseArgs(argv: string[]): Options {
  const opts: Options = { websocket: true, keep: false, reportDir: join(repo, 'test', 'critest', 'reports') };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--focus') opts.focus = argv[++i];
    else if (a === '--skip') opts.skip = argv[++i];
    else if (a === '--no-websocket') opts.websocket = false;
    else if (a === '--keep') opts.keep = true;
    else if (a === '--report-dir') opts.reportDir = argv[++i]!;
    else throw new Error(`unknown argument ${a}`);
  }
  return opts;
}

function runToEnd(cmd: string, args: string[], logFile?: string, env?: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...(env ? { env } : {}) });
    const chunks: Buffer[] = [];
    const echo = (d: Buffer) => {
      chunks.push(d);
      process.stdout.write(d);
    };
    child.stdout.on('data', echo);
    child.stderr.on('data', echo);
    child.on('error', reject);
    child.on('close', async (code) => {
      if (logFile) await writeFile(logFile, Buffer.concat(chunks));
      resolve(code ?? 1);
    });
  });
}

async function waitHttp(url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const res = await fetch(url);
      if (res.status < 500) return;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) throw new Error(`${url} did not answer`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function main(): Promise<number> {
  const opts = parseArgs(process.argv.slice(2));
  const work = await mkdtemp(join(tmpdir(), 'berth-critest-'));
  const children: ChildProcess[] = [];
  const stopAll = async () => {
    for (const child of children.reverse()) {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await Promise.race([exited, new Promise((r) => setTimeout(r, 15_000))]);
        if (child.exitCode === null) child.kill('SIGKILL');
      }
    }
  };
  try {
    await mkdir(opts.reportDir, { recursive: true });
    // 1. registry with the test images
    const registryConfig = join(work, 'registry.yml');
    await writeFile(
      registryConfig,
      `version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: ${join(work, 'registry')}\n  delete:\n    enabled: true\nhttp:\n  addr: ${REGISTRY}\n`,
    );
    const registry = spawn('docker-registry', ['serve', registryConfig], { stdio: 'ignore' });
    children.push(registry);
    await waitHttp(`http://${REGISTRY}/v2/`, 20_000);
    const pushed = await publishImages(selectImages([]), {
      registry: REGISTRY,
      cacheDir: process.env.BERTH_IMAGE_CACHE ?? join(tmpdir(), 'berth-test-image-cache'),
    });
    console.log(`critest harness: ${pushed.length} image references in ${REGISTRY}`);

    // 2. berthd with mirrors and a bridge network of the harness's own
    const certs = join(work, 'certs.d');
    for (const host of MIRRORED) {
      await mkdir(join(certs, host), { recursive: true });
      await writeFile(
        join(certs, host, 'hosts.toml'),
        `server = "https://${host}"\n\n[host."http://${REGISTRY}"]\n  capabilities = ["pull", "resolve"]\n`,
      );
    }
    const netd = join(work, 'net.d');
    await mkdir(netd, { recursive: true });
    await writeFile(
      join(netd, '10-berth-critest.conflist'),
      JSON.stringify({
        cniVersion: '1.0.0',
        name: 'berth-critest',
        plugins: [
          { type: 'bridge', bridge: BRIDGE, isGateway: true, ipMasq: false, hairpinMode: true, ipam: { type: 'host-local', ranges: [[{ subnet: SUBNET }]], dataDir: join(work, 'ipam') } },
          { type: 'portmap', capabilities: { portMappings: true } },
          { type: 'loopback' },
        ],
      }),
    );
    const socket = join(work, 'state', 'berth.sock');
    await writeFile(join(work, 'berth.toml'), `[registry]\nconfig_path = "${certs}"\n[cni]\nconf_dir = "${netd}"\n`);
    const berthd = spawn(
      process.execPath,
      [...BERTHD_NODE_FLAGS, join(repo, 'dist', 'src', 'bin', 'berthd.js'), '--config', join(work, 'berth.toml'), '--root', join(work, 'root'), '--state', join(work, 'state'), '--address', socket, '--log-level', 'info'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    children.push(berthd);
    const daemonLog: Buffer[] = [];
    berthd.stdout!.on('data', (d: Buffer) => daemonLog.push(d));
    berthd.stderr!.on('data', (d: Buffer) => daemonLog.push(d));
    const deadline = Date.now() + 30_000;
    while (!existsSync(socket)) {
      if (Date.now() > deadline || berthd.exitCode !== null) throw new Error(`berthd did not start: ${Buffer.concat(daemonLog).toString()}`);
      await new Promise((r) => setTimeout(r, 100));
    }

    // 3. critest: everything over SPDY, then the streaming specs over WebSocket
    // critest makes its host paths, log dirs and seccomp profiles under $TMPDIR; a failed spec
    // may leave them (mounted) behind: keep them in the work dir, which is cleaned below.
    const critestTmp = join(work, 'tmp');
    await mkdir(critestTmp, { recursive: true });
    const critestEnv = { ...process.env, TMPDIR: critestTmp };
    const common = [`-runtime-endpoint=unix://${socket}`, `-image-endpoint=unix://${socket}`, '--ginkgo.no-color', '--ginkgo.timeout=45m'];
    const focus = opts.focus ? [`--ginkgo.focus=${opts.focus}`] : [];
    const skip = opts.skip ? [`--ginkgo.skip=${opts.skip}`] : [];
    await runToEnd('critest', [...common, ...focus, ...skip, `--ginkgo.junit-report=${join(opts.reportDir, 'junit-spdy.xml')}`], join(opts.reportDir, 'critest-spdy.log'), critestEnv);
    const results: SpecResult[] = parseJUnit(await readFile(join(opts.reportDir, 'junit-spdy.xml'), 'utf8'));
    if (opts.websocket) {
      await runToEnd(
        'critest',
        [...common, '-websocket-exec', '-websocket-attach', '-websocket-portforward', `--ginkgo.focus=${opts.focus ?? 'Streaming'}`, ...skip, `--ginkgo.junit-report=${join(opts.reportDir, 'junit-websocket.xml')}`],
        join(opts.reportDir, 'critest-websocket.log'),
        critestEnv,
      );
      for (const r of parseJUnit(await readFile(join(opts.reportDir, 'junit-websocket.xml'), 'utf8'))) {
        if (r.state !== 'skipped') results.push({ ...r, name: `[websocket] ${r.name}` });
      }
    }
    await writeFile(join(opts.reportDir, 'berthd.log'), Buffer.concat(daemonLog));

    // 4. the ratchet
    const mustPass = await loadMustPass(join(listDir, 'must-pass.txt'));
    const expectedFail = await loadExpectedFail(join(listDir, 'expected-fail.txt'));
    const byName = new Map(results.map((r) => [r.name, r]));
    // A focused or skipping run judges only the specs it ran (the JUnit report lists the others as skipped).
    const partial = opts.focus !== undefined || opts.skip !== undefined;
    const ran = (name: string) => !partial || (byName.has(name) && byName.get(name)!.state !== 'skipped');
    const regressions = [...mustPass].filter((name) => byName.get(name)?.state !== 'passed' && ran(name));
    const newlyPassing = results.filter((r) => r.state === 'passed' && !mustPass.has(r.name)).map((r) => r.name);
    const unexpected = results.filter((r) => r.state === 'failed' && !expectedFail.has(r.name) && !mustPass.has(r.name)).map((r) => r.name);
    const passed = results.filter((r) => r.state === 'passed').length;
    const failed = results.filter((r) => r.state === 'failed').length;
    const skipped = results.filter((r) => r.state === 'skipped').length;
    await writeFile(join(opts.reportDir, 'newly-passing.txt'), newlyPassing.map((n) => `${n}\n`).join(''));
    for (const name of newlyPassing) console.log(`critest ratchet: passes now, add to must-pass.txt: ${name}`);
    for (const name of unexpected) console.log(`critest: failed (not yet in must-pass): ${name}`);
    for (const name of regressions) console.log(`critest REGRESSION (in must-pass.txt): ${name}`);
    console.log(`critest: ${passed} passed, ${failed} failed, ${skipped} skipped`);
    return regressions.length > 0 ? 1 : 0;
  } finally {
    await stopAll();
    // Pods critest left behind (a failed spec may skip its cleanup) were stopped with berthd;
    // remove what is still mounted or pinned under the work dir.
    await runToEnd('sh', ['-c', `grep -o "${work}[^ ]*" /proc/self/mountinfo | sort -r | xargs -r -n1 umount -l; ip link del ${BRIDGE} 2>/dev/null; true`]);
    // Never recurse into a mount that is still there (critest binds /etc in the propagation specs).
    const stillMounted = (await readFile('/proc/self/mountinfo', 'utf8')).includes(` ${work}`);
    if (stillMounted) console.error(`critest harness: mounts remain under ${work}; left in place`);
    else if (!opts.keep) await rm(work, { recursive: true, force: true });
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`critest harness: ${(err as Error).stack ?? String(err)}`);
    process.exit(2);
  },
);
