import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CniManager, type PodNetworkRequest } from '../../src/cni/manager.js';
import { createNetns, netnsExists, removeNetns } from '../../src/cni/netns.js';

// Real bridge + host-local + portmap plugins on a private bridge and subnet.
// Only the pods' own addresses and 127.0.0.1 are ever contacted.
const BRIDGE = 'berthcni0';
const SUBNET_PREFIX = '10.233.0.';
const NETWORK = 'berth-cni-test';
const BIN_DIRS = ['/opt/cni/bin', '/usr/lib/cni'];

const root = mkdtempSync(path.join(tmpdir(), 'berth-cni-it-'));
const confDir = path.join(root, 'net.d');
const cacheDir = path.join(root, 'results');
const netnsDir = path.join(root, 'netns');
const dataDir = path.join(root, 'ipam');
mkdirSync(confDir);

const createdNetns = new Set<string>();
const children: ChildProcess[] = [];
const podsToTearDown = new Map<string, string>(); // podId -> netns path

const sh = (cmd: string, args: string[]): string => execFileSync(cmd, args, { encoding: 'utf8', timeout: 30_000 });
const tryRun = (cmd: string, args: string[]): boolean => {
  try {
    execFileSync(cmd, args, { stdio: 'ignore', timeout: 30_000 });
    return true;
  } catch {
    return false;
  }
};

function natChains(): Set<string> {
  const out = tryRun('iptables', ['-t', 'nat', '-S']) ? sh('iptables', ['-t', 'nat', '-S']) : '';
  return new Set(out.split('\n').filter((l) => l.startsWith('-N ')).map((l) => l.slice(3).trim()));
}
const natRules = (): string => sh('iptables-save', ['-t', 'nat']);
const sysctl = (key: string): string => readFileSync(`/proc/sys/${key.replaceAll('.', '/')}`, 'utf8').trim();

const nftTables = (): string[] => (tryRun('nft', ['list', 'tables']) ? sh('nft', ['list', 'tables']).trim().split('\n').filter(Boolean) : []);
const tablesBefore = nftTables();
const chainsBefore = natChains();
const ipForwardBefore = sysctl('net.ipv4.ip_forward');
const bridgeExistedBefore = tryRun('ip', ['link', 'show', BRIDGE]);

function conflist(name: string, extraPlugins: object[] = [], ipamDir = dataDir): object {
  return {
    cniVersion: '1.0.0',
    name,
    plugins: [
      {
        type: 'bridge',
        bridge: BRIDGE,
        isGateway: true,
        ipMasq: false,
        hairpinMode: true,
        ipam: { type: 'host-local', ranges: [[{ subnet: `${SUBNET_PREFIX}0/24` }]], dataDir: ipamDir },
      },
      { type: 'portmap', capabilities: { portMappings: true } },
      ...extraPlugins,
    ],
  };
}

async function newNetns(): Promise<string> {
  const ns = await createNetns(undefined, netnsDir);
  createdNetns.add(ns.path);
  return ns.path;
}

let podCounter = 0;
function podRequest(netnsPath: string, extra: Partial<PodNetworkRequest> = {}): PodNetworkRequest {
  const n = podCounter++;
  const podId = `${'0'.repeat(56)}${n.toString(16).padStart(8, '0')}`;
  podsToTearDown.set(podId, netnsPath);
  return { podId, netnsPath, name: `pod-${n}`, namespace: 'berth-test', uid: `uid-${n}`, ...extra };
}

const ipFiles = (dir = dataDir, network = NETWORK): string[] =>
  existsSync(path.join(dir, network)) ? readdirSync(path.join(dir, network)).filter((f) => /^\d+\.\d+\.\d+\.\d+$/.test(f)) : [];

function pingOnce(address: string): boolean {
  return tryRun('/bin/busybox', ['ping', '-c1', '-W2', address]);
}

function readFromPort(host: string, port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port });
    const chunks: Buffer[] = [];
    socket.setTimeout(10_000, () => socket.destroy(new Error(`no answer from ${host}:${port}`)));
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    socket.on('error', reject);
  });
}

/** Starts a TCP server inside the netns that greets each client and reports when it listens. */
function startListenerInNetns(netnsPath: string, port: number, greeting: string): Promise<void> {
  const script = `require('net').createServer((s) => s.end(${JSON.stringify(greeting)})).listen(${port}, '0.0.0.0', () => console.log('listening'))`;
  const child = spawn('nsenter', [`--net=${netnsPath}`, process.execPath, '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('listener in netns did not start')), 15_000);
    child.stdout!.on('data', (d: Buffer) => {
      if (d.toString().includes('listening')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`listener exited early with ${code}`));
    });
  });
}

after(async () => {
  for (const child of children) child.kill('SIGKILL');
  const cleaner = new CniManager({ confDir, binDirs: BIN_DIRS, cacheDir, netnsDir });
  for (const [podId, netnsPath] of podsToTearDown) {
    await cleaner.tearDownPod({ podId, netnsPath }).catch(() => undefined);
  }
  for (const p of createdNetns) await removeNetns(p).catch(() => undefined);
  if (!bridgeExistedBefore) tryRun('ip', ['link', 'del', BRIDGE]);
  // Remove the nat chains portmap created here: first the jumps into them, then the chains.
  const created = [...natChains()].filter((c) => !chainsBefore.has(c) && /^CNI-(HOSTPORT-|DN-)/.test(c));
  if (created.length > 0) {
    for (const line of sh('iptables', ['-t', 'nat', '-S']).split('\n')) {
      const jump = /^-A (\S+) .*-j (\S+)/.exec(line);
      if (jump && created.includes(jump[2]!) && !created.includes(jump[1]!)) {
        tryRun('sh', ['-c', `iptables -t nat ${line.replace(/^-A /, '-D ')}`]);
      }
    }
    for (const c of created) tryRun('iptables', ['-t', 'nat', '-F', c]);
    for (const c of created) tryRun('iptables', ['-t', 'nat', '-X', c]);
  }
  // The nat tables themselves appear when portmap first touches them; drop them again if we made them and they are empty.
  for (const [family, save] of [['ip', 'iptables-save'], ['ip6', 'ip6tables-save']] as const) {
    if (tablesBefore.includes(`table ${family} nat`) || !nftTables().includes(`table ${family} nat`)) continue;
    const dump = sh(save, ['-t', 'nat']).split('\n');
    const isEmpty = !dump.some((l) => l.startsWith('-A ') || (l.startsWith(':') && !/^:(PREROUTING|INPUT|OUTPUT|POSTROUTING) /.test(l)));
    if (isEmpty) tryRun('nft', ['delete', 'table', family, 'nat']);
  }
  if (sysctl('net.ipv4.ip_forward') !== ipForwardBefore) writeFileSync('/proc/sys/net/ipv4/ip_forward', ipForwardBefore);
  rmSync(root, { recursive: true, force: true });
});

describe('netns', () => {
  test('create, detect, remove, remove again', async () => {
    const ns = await createNetns(undefined, netnsDir);
    createdNetns.add(ns.path);
    assert.match(ns.name, /^cni-[0-9a-f-]{36}$/);
    assert.equal(ns.path, path.join(netnsDir, ns.name));
    assert.equal(netnsExists(ns.path), true);
    // It is a fresh namespace: only a loopback device.
    const links = sh('nsenter', [`--net=${ns.path}`, 'ip', '-o', 'link']);
    assert.deepEqual(links.trim().split('\n').map((l) => l.split(':')[1]!.trim()), ['lo']);
    await assert.rejects(createNetns(ns.name, netnsDir), /already exists/);
    await removeNetns(ns.path);
    assert.equal(netnsExists(ns.path), false);
    assert.equal(existsSync(ns.path), false);
    await removeNetns(ns.path);
  });

  test('a plain file is not a netns', () => {
    const file = path.join(root, 'plain');
    writeFileSync(file, '');
    assert.equal(netnsExists(file), false);
    assert.equal(netnsExists(''), false);
  });
});

describe('CniManager with bridge + host-local + portmap', () => {
  let manager: CniManager;
  before(() => {
    manager = new CniManager({ confDir, binDirs: BIN_DIRS, cacheDir, netnsDir });
  });

  test('not ready without a config, ready with one', () => {
    const notReady = manager.status();
    assert.equal(notReady.ready, false);
    assert.equal(notReady.reason, 'NetworkPluginNotReady');
    assert.match(notReady.message, /^cni config uninitialized/);
    writeFileSync(path.join(confDir, '10-berth.conflist'), JSON.stringify(conflist(NETWORK)));
    assert.deepEqual(manager.status(), { ready: true, reason: '', message: '' });
  });

  test('a pod gets a pingable address and a working host port; DEL after a restart releases everything', async () => {
    const netnsPath = await newNetns();
    const req = podRequest(netnsPath, {
      portMappings: [{ hostPort: 18080, containerPort: 8080, protocol: 'TCP', hostIP: '127.0.0.1' }],
    });
    const status = await manager.setUpPod(req);
    assert.equal(status.network, NETWORK);
    assert.equal(status.ips.length, 1);
    const ip = status.ips[0]!;
    assert.equal(ip.family, 4);
    assert.ok(ip.address.startsWith(SUBNET_PREFIX), `pod ip ${ip.address} outside the test subnet`);
    assert.equal(ip.gateway, `${SUBNET_PREFIX}1`);
    assert.deepEqual(ipFiles(), [ip.address]);
    const podIf = status.interfaces.find((i) => i.name === 'eth0');
    assert.equal(podIf?.sandbox, netnsPath);
    const hostVeth = status.interfaces.find((i) => i.name !== BRIDGE && i.name !== 'eth0' && !i.sandbox)?.name;
    assert.ok(hostVeth, 'the result names the host side veth');
    assert.ok(tryRun('ip', ['link', 'show', hostVeth]));

    // The address inside the namespace is the one reported.
    assert.match(sh('nsenter', [`--net=${netnsPath}`, 'ip', '-4', '-o', 'addr', 'show', 'eth0']), new RegExp(`inet ${ip.address.replaceAll('.', '\\.')}/24`));
    assert.ok(pingOnce(ip.address), `ping ${ip.address} failed`);

    await startListenerInNetns(netnsPath, 8080, 'hello from the pod\n');
    assert.equal(await readFromPort(ip.address, 8080), 'hello from the pod\n');
    assert.equal(await readFromPort('127.0.0.1', 18080), 'hello from the pod\n');

    // (No checkPod here: Debian's portmap 1.1.1 fails CHECK for IPv4-only pods,
    // containernetworking/plugins#819; CHECK is covered on a bridge-only network below.)
    await assert.rejects(manager.setUpPod(req), (err: unknown) => (err as { code?: string }).code === 'ALREADY_EXISTS');
    assert.match(natRules(), new RegExp(req.podId));

    // A new manager (as after a daemon restart) tears down from the cache alone.
    const restarted = new CniManager({ confDir, binDirs: BIN_DIRS, cacheDir, netnsDir });
    await restarted.tearDownPod({ podId: req.podId, netnsPath });
    assert.equal(tryRun('ip', ['link', 'show', hostVeth]), false, 'host veth still present');
    assert.deepEqual(ipFiles(), []);
    assert.doesNotMatch(natRules(), new RegExp(req.podId));
    assert.equal(natRules().includes('18080'), false);
    assert.deepEqual(readdirSync(cacheDir), []);
    assert.equal(pingOnce(ip.address), false);

    // Twice is fine.
    await restarted.tearDownPod({ podId: req.podId, netnsPath });
    await removeNetns(netnsPath);
    podsToTearDown.delete(req.podId);
  });

  test('tearDown after the netns is gone still frees the address', async () => {
    const netnsPath = await newNetns();
    const req = podRequest(netnsPath);
    const status = await manager.setUpPod(req);
    assert.deepEqual(ipFiles(), [status.ips[0]!.address]);
    await removeNetns(netnsPath);
    assert.equal(netnsExists(netnsPath), false);
    await manager.tearDownPod({ podId: req.podId, netnsPath });
    assert.deepEqual(ipFiles(), []);
    assert.deepEqual(readdirSync(cacheDir), []);
    await manager.tearDownPod({ podId: req.podId, netnsPath });
    podsToTearDown.delete(req.podId);
  });

  test('checkPod passes on a healthy pod and reports one whose interface vanished', async () => {
    const checkDir = path.join(root, 'net.d-check');
    const checkIpam = path.join(root, 'ipam-check');
    mkdirSync(checkDir);
    const bridgeOnly = { ...conflist('berth-cni-check', [], checkIpam), plugins: [(conflist('x', [], checkIpam) as { plugins: object[] }).plugins[0]] };
    writeFileSync(path.join(checkDir, '10-check.conflist'), JSON.stringify(bridgeOnly));
    const checker = new CniManager({ confDir: checkDir, binDirs: BIN_DIRS, cacheDir, netnsDir });
    const netnsPath = await newNetns();
    const req = podRequest(netnsPath);
    await assert.rejects(checker.checkPod({ podId: req.podId, netnsPath }), /has no network set up/);
    await checker.setUpPod(req);
    await checker.checkPod({ podId: req.podId, netnsPath });
    execFileSync('nsenter', [`--net=${netnsPath}`, 'ip', 'link', 'del', 'eth0']);
    await assert.rejects(checker.checkPod({ podId: req.podId, netnsPath }), /CNI plugin "bridge" failed CHECK on network "berth-cni-check"/);
    await checker.tearDownPod({ podId: req.podId, netnsPath });
    assert.deepEqual(ipFiles(checkIpam, 'berth-cni-check'), []);
    assert.deepEqual(readdirSync(cacheDir), []);
    await removeNetns(netnsPath);
    podsToTearDown.delete(req.podId);
  });

  test('20 pods set up in parallel get distinct addresses and all tear down', async () => {
    const netnsPaths = await Promise.all(Array.from({ length: 20 }, () => newNetns()));
    const reqs = netnsPaths.map((p) => podRequest(p));
    const statuses = await Promise.all(reqs.map((r) => manager.setUpPod(r)));
    const addresses = statuses.map((s) => s.ips[0]!.address);
    assert.equal(new Set(addresses).size, 20);
    for (const a of addresses) assert.ok(a.startsWith(SUBNET_PREFIX));
    assert.deepEqual(ipFiles().sort(), [...addresses].sort());
    assert.ok(pingOnce(addresses[7]!));

    await Promise.all(reqs.map((r) => manager.tearDownPod({ podId: r.podId, netnsPath: r.netnsPath })));
    assert.deepEqual(ipFiles(), []);
    assert.deepEqual(readdirSync(cacheDir), []);
    assert.equal(sh('ip', ['-o', 'link', 'show', 'master', BRIDGE]).trim(), '');
    for (const p of netnsPaths) await removeNetns(p);
    for (const r of reqs) podsToTearDown.delete(r.podId);
  });

  test('a failing ADD is rolled back: no address held, nothing cached', async () => {
    const failDir = path.join(root, 'net.d-fail');
    const failIpam = path.join(root, 'ipam-fail');
    mkdirSync(failDir);
    // tuning refuses a sysctl that does not exist, after bridge has allocated an address.
    writeFileSync(
      path.join(failDir, '10-fail.conflist'),
      JSON.stringify(conflist('berth-cni-fail', [{ type: 'tuning', sysctl: { 'net.ipv4.conf.eth0.no_such_knob': '1' } }], failIpam)),
    );
    const failing = new CniManager({ confDir: failDir, binDirs: BIN_DIRS, cacheDir, netnsDir });
    const netnsPath = await newNetns();
    const req = podRequest(netnsPath);
    await assert.rejects(failing.setUpPod(req), /CNI plugin "tuning" failed ADD on network "berth-cni-fail"/);
    assert.deepEqual(ipFiles(failIpam, 'berth-cni-fail'), []);
    assert.deepEqual(readdirSync(cacheDir), []);
    assert.equal(sh('nsenter', [`--net=${netnsPath}`, 'ip', '-o', 'link']).includes('eth0'), false);
    await removeNetns(netnsPath);
  });

  test('setUpPod on a missing netns is a failed precondition', async () => {
    const req = podRequest(path.join(netnsDir, 'never-created'));
    await assert.rejects(manager.setUpPod(req), (err: unknown) => (err as { code?: string }).code === 'FAILED_PRECONDITION');
    podsToTearDown.delete(req.podId);
  });
});
