/**
 * Security defaults: who may reach the CRI socket, where the streaming server
 * listens and how long its URLs live, and what a default container may do —
 * containerd's capability set and RuntimeDefault seccomp, masked and
 * read-only kernel paths, no writes outside its own rootfs and mounts.
 */
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { BUSYBOX } from '../support/cluster.js';
import { run } from '../support/exec.js';
import { findLeaks, formatLeaks, leakCount } from '../support/leaks.js';
import { printSummary, startReliabilityNode, type ReliabilityNode } from '../support/reliability.js';
import { wsSession } from '../support/streaming-clients.js';

/**
 * containerd's default capability set, as `defaultUnixCaps()` in
 * containerd/containerd oci/spec.go lists it (read through the search tool at
 * commit 099d2e7c764536dff39243af2a5e281e8dec38c9), with each capability's
 * number from linux/capability.h.
 */
const CONTAINERD_DEFAULT_CAPS: Record<string, number> = {
  CAP_CHOWN: 0,
  CAP_DAC_OVERRIDE: 1,
  CAP_FSETID: 4,
  CAP_FOWNER: 3,
  CAP_MKNOD: 27,
  CAP_NET_RAW: 13,
  CAP_SETGID: 6,
  CAP_SETUID: 7,
  CAP_SETFCAP: 31,
  CAP_SETPCAP: 8,
  CAP_NET_BIND_SERVICE: 10,
  CAP_SYS_CHROOT: 18,
  CAP_KILL: 5,
  CAP_AUDIT_WRITE: 29,
};

/** containerd's default masked and read-only paths (the same oci/spec.go). */
const CONTAINERD_MASKED_PATHS = [
  '/proc/acpi', '/proc/asound', '/proc/kcore', '/proc/keys', '/proc/latency_stats', '/proc/timer_list',
  '/proc/timer_stats', '/proc/sched_debug', '/sys/firmware', '/proc/scsi',
];
const CONTAINERD_READONLY_PATHS = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'];

/**
 * Syscalls containerd's default seccomp profile (contrib/seccomp/seccomp_default.go)
 * allows a container with the default capabilities only through a capability
 * it does not hold; RuntimeDefault must not allow any of them outright.
 */
const CAPABILITY_GATED_SYSCALLS = [
  'bpf', 'fanotify_init', 'lookup_dcookie', 'mount', 'perf_event_open', 'setdomainname', 'sethostname', 'setns',
  'umount', 'umount2', 'unshare', 'reboot', 'delete_module', 'init_module', 'finit_module', 'query_module', 'acct',
  'kcmp', 'process_vm_readv', 'process_vm_writev', 'ptrace', 'iopl', 'ioperm', 'settimeofday', 'stime', 'vhangup',
  'open_by_handle_at',
];
/** A sample of what that profile allows every container; RuntimeDefault must allow them too. */
const ALWAYS_ALLOWED_SAMPLE = [
  'read', 'write', 'openat', 'close', 'execve', 'clone', 'mmap', 'futex', 'epoll_wait', 'socket', 'connect', 'accept4',
  'wait4', 'kill', 'chroot', 'arch_prctl', 'getrandom', 'statx', 'rt_sigreturn', 'exit_group',
];

interface SeccompRule {
  names: string[];
  action: string;
  args?: unknown[];
}

describe('security defaults', () => {
  let r: ReliabilityNode;
  let podId: string;
  let containerId: string;
  let bundle: string;
  let roDir: string;
  let checks = 0;
  let leaksFound = 0;

  const rt = () => r.node.daemon.cri.runtime;

  async function inContainer(script: string): Promise<{ code: number; out: string }> {
    const res = await rt().ExecSync({ container_id: containerId, cmd: ['sh', '-c', script], timeout: '20' });
    return { code: res.exit_code, out: res.stdout.toString() + res.stderr.toString() };
  }

  /** Connects to a unix socket as another user; resolves with the error code, or "connected". */
  async function connectAs(uid: number, gid: number, socket: string): Promise<string> {
    const script = `const s=require('net').connect(${JSON.stringify(socket)});s.on('connect',()=>{console.log('connected');s.destroy()});s.on('error',(e)=>console.log(e.code))`;
    const res = await run('setpriv', [`--reuid=${uid}`, `--regid=${gid}`, '--clear-groups', process.execPath, '-e', script]);
    return res.stdout.trim() || res.stderr.trim();
  }

  before(async () => {
    r = await startReliabilityNode({ netIndex: 47 });
    await r.node.daemon.cri.image.PullImage({ image: { image: BUSYBOX } });
    roDir = mkdtempSync(join(tmpdir(), 'berth-ro-'));
    const config = r.pod();
    podId = (await rt().RunPodSandbox({ config })).pod_sandbox_id;
    containerId = (
      await rt().CreateContainer({
        pod_sandbox_id: podId,
        sandbox_config: config,
        config: {
          metadata: { name: 'probe' },
          image: { image: BUSYBOX },
          command: ['sleep', '3600'],
          mounts: [{ host_path: roDir, container_path: '/ro', readonly: true }],
          linux: { security_context: { seccomp: { profile_type: 'RuntimeDefault' } } },
        },
      })
    ).container_id;
    await rt().StartContainer({ container_id: containerId });
    const status = await rt().ContainerStatus({ container_id: containerId, verbose: true });
    bundle = (JSON.parse(status.info.info!) as { bundle: string }).bundle;
  });

  after(async () => {
    printSummary('security-defaults', { 'checks passed': checks, 'leaks found': leaksFound });
    await r?.stop();
    if (roDir) rmSync(roDir, { recursive: true, force: true });
  });

  it('the CRI socket is 0660 root:root and refuses other users', async () => {
    const socket = r.node.daemon.dirs.socket;
    const st = statSync(socket);
    assert.ok(st.isSocket());
    assert.equal((st.mode & 0o7777).toString(8), '660');
    assert.equal(st.uid, 0);
    assert.equal(st.gid, 0);
    // Let other users walk to the socket, so only its own mode decides.
    chmodSync(r.node.daemon.dirs.base, 0o711);
    assert.equal((statSync(r.node.daemon.dirs.state).mode & 0o7777).toString(8), '711', 'berthd makes its state directory 0711');
    assert.equal(await connectAs(65534, 65534, socket), 'EACCES', 'nobody may connect');
    assert.equal(await connectAs(65534, 0, socket), 'connected', 'the root group may (the control: the path is reachable)');
    checks++;
  });

  it('the streaming server listens on loopback only and a URL works once', async () => {
    const { url } = await rt().Exec({ container_id: containerId, cmd: ['echo', 'once'], stdout: true, stderr: true });
    const parsed = new URL(url);
    assert.equal(parsed.hostname, '127.0.0.1');
    const gateway = r.node.subnet.replace(/0\/24$/, '1'); // the bridge: an address of this host that is not loopback
    const elsewhere = await new Promise<string>((resolve) => {
      const s = connect(Number(parsed.port), gateway);
      s.on('connect', () => {
        s.destroy();
        resolve('connected');
      });
      s.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
    });
    assert.equal(elsewhere, 'ECONNREFUSED', `the streaming port answers on ${gateway}`);

    const first = await wsSession(url, ['v4.channel.k8s.io'], []);
    assert.equal(first.output.get(1)?.toString(), 'once\n');
    await assert.rejects(wsSession(url, ['v4.channel.k8s.io'], []), /HTTP 404/, 'a second use of the URL is refused');
    const forged = `${parsed.origin}/exec/${'A'.repeat(24)}`;
    await assert.rejects(wsSession(forged, ['v4.channel.k8s.io'], []), /HTTP 404/, 'a made-up token is refused');
    checks++;
  });

  it("the default capability set is containerd's, in the spec and in the running process", async () => {
    const spec = JSON.parse(readFileSync(join(bundle, 'config.json'), 'utf8')) as {
      process: { capabilities: Record<string, string[] | undefined> };
    };
    const expected = Object.keys(CONTAINERD_DEFAULT_CAPS).sort();
    for (const set of ['bounding', 'effective', 'permitted']) {
      assert.deepEqual([...(spec.process.capabilities[set] ?? [])].sort(), expected, `capabilities.${set}`);
    }
    assert.deepEqual(spec.process.capabilities.inheritable ?? [], []);
    assert.deepEqual(spec.process.capabilities.ambient ?? [], []);

    const mask = Object.values(CONTAINERD_DEFAULT_CAPS).reduce((m, bit) => m | (1n << BigInt(bit)), 0n);
    const { out } = await inContainer('grep -E "^Cap(Eff|Prm|Bnd|Inh|Amb):" /proc/1/status');
    const caps = Object.fromEntries([...out.matchAll(/^(Cap\w+):\s+([0-9a-f]+)$/gm)].map((m) => [m[1]!, BigInt(`0x${m[2]}`)]));
    assert.equal(caps.CapEff, mask, `CapEff ${caps.CapEff?.toString(16)} != ${mask.toString(16)}`);
    assert.equal(caps.CapPrm, mask);
    assert.equal(caps.CapBnd, mask);
    assert.equal(caps.CapInh, 0n);
    assert.equal(caps.CapAmb, 0n);
    checks++;
  });

  it('RuntimeDefault seccomp: an errno-by-default filter allowing what containerd allows, and it is in force', async () => {
    const spec = JSON.parse(readFileSync(join(bundle, 'config.json'), 'utf8')) as {
      linux: { seccomp?: { defaultAction: string; architectures: string[]; syscalls: SeccompRule[] } };
    };
    const seccomp = spec.linux.seccomp;
    assert.ok(seccomp, 'the spec has a seccomp profile');
    assert.equal(seccomp.defaultAction, 'SCMP_ACT_ERRNO');
    for (const arch of ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32']) assert.ok(seccomp.architectures.includes(arch), arch);
    const outright = new Set(
      seccomp.syscalls.filter((s) => s.action === 'SCMP_ACT_ALLOW' && (s.args ?? []).length === 0).flatMap((s) => s.names),
    );
    const anyRule = new Set(seccomp.syscalls.filter((s) => s.action === 'SCMP_ACT_ALLOW').flatMap((s) => s.names));
    for (const name of ALWAYS_ALLOWED_SAMPLE) assert.ok(anyRule.has(name), `${name} is allowed`);
    assert.deepEqual(CAPABILITY_GATED_SYSCALLS.filter((n) => outright.has(n)), [], 'no syscall that needs a missing capability is allowed');

    const { out } = await inContainer('grep -E "^Seccomp:" /proc/1/status');
    assert.match(out, /^Seccomp:\s+2$/m, 'the container runs under a seccomp filter');
    checks++;
  });

  it("masked and read-only paths are containerd's and are in force", async () => {
    const spec = JSON.parse(readFileSync(join(bundle, 'config.json'), 'utf8')) as { linux: { maskedPaths: string[]; readonlyPaths: string[] } };
    for (const p of CONTAINERD_MASKED_PATHS) assert.ok(spec.linux.maskedPaths.includes(p), `${p} is masked`);
    assert.deepEqual([...spec.linux.readonlyPaths].sort(), [...CONTAINERD_READONLY_PATHS].sort());

    // A masked file reads empty (/dev/null over it), a masked directory lists empty (a read-only tmpfs).
    const probe = CONTAINERD_MASKED_PATHS.map(
      (p) => `if [ -d ${p} ]; then [ -z "$(ls -A ${p})" ] || echo "${p} lists"; elif [ -e ${p} ]; then [ "$(head -c 1 ${p} | wc -c)" = 0 ] || echo "${p} reads"; fi`,
    ).join('; ');
    const masked = await inContainer(probe);
    assert.equal(masked.out, '', masked.out);
    checks++;
  });

  it('a container cannot write outside its rootfs and mounts', async () => {
    const readOnly = /Read-only file system/;
    const notPermitted = /Operation not permitted|permission denied/i;
    // Each write is harmless if it were to succeed: sysrq "h" prints help, swappiness gets its own value back.
    const attempts: Array<[string, string, RegExp]> = [
      ['/proc/sys', 'cat /proc/sys/vm/swappiness > /proc/sys/vm/swappiness', readOnly],
      ['sysfs', 'touch /sys/berth-probe', readOnly],
      ['a read-only bind mount', 'touch /ro/berth-probe', readOnly],
      ['a new mount', 'mkdir -p /mnt/probe && mount -t tmpfs none /mnt/probe', notPermitted],
      ['the host disk through a device node', `mknod /tmp/disk b ${hostDisk()} && head -c 512 /tmp/disk > /dev/null`, notPermitted],
      ["the host's network namespace", 'nsenter -t 1 -n true', notPermitted],
      ['a new network namespace', 'unshare -n true', notPermitted],
    ];
    // Kernels built without magic sysrq have no trigger file to protect.
    if (existsSync('/proc/sysrq-trigger')) attempts.push(['the sysrq trigger', 'echo h > /proc/sysrq-trigger', readOnly]);
    for (const [what, script, reason] of attempts) {
      const res = await inContainer(script);
      assert.notEqual(res.code, 0, `writing to ${what} succeeded: ${res.out}`);
      assert.match(res.out, reason, `writing to ${what} failed for another reason`);
    }
    assert.deepEqual(readdirSync(roDir), [], 'the read-only bind source is untouched');

    const inside = await inContainer('echo inside > /etc/berth-probe && cat /etc/berth-probe');
    assert.equal(inside.code, 0, 'the rootfs itself is writable');
    assert.equal(existsSync('/etc/berth-probe'), false, 'and what is written there stays in the container');
    checks++;
  });

  it('removing the pod leaves nothing behind', async () => {
    await rt().RemovePodSandbox({ pod_sandbox_id: podId });
    const leaks = await findLeaks(r.scope);
    leaksFound = leakCount(leaks);
    assert.equal(leaksFound, 0, formatLeaks(leaks));
  });
});

/** `major minor` of the host's first disk (from /proc/partitions), for the device-cgroup probe. */
function hostDisk(): string {
  const line = readFileSync('/proc/partitions', 'utf8')
    .split('\n')
    .slice(2)
    .find((l) => l.trim() !== '');
  const [major, minor] = (line ?? '8 0').trim().split(/\s+/);
  return `${major} ${minor}`;
}
