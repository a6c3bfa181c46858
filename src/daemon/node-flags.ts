/**
 * The node/V8 flags berthd runs with, however it is started: the bin's
 * shebang (and so the systemd unit, which runs the bin), scripts/setup.sh, the
 * bench and the test harnesses. A unit test keeps the shebang and the script
 * in step with this list.
 *
 * --max-semi-space-size=2: V8 grows the young generation up to 16 MiB per
 * semi-space while the modules load and keeps those pages. berthd's garbage is
 * short-lived per-call objects, so 2 MiB semi-spaces are enough: measured here,
 * idle RSS about 10-15 MiB lower and 30 MiB lower with 100 pods, for about 8 %
 * more daemon CPU under a kubelet-like relist (more frequent scavenges).
 */
export const BERTHD_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=2'];
