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
 *
 * --initial-heap-size=64: every Buffer a download reads counts as external
 * memory, and with berthd's small old generation (~15 MiB live) V8 answered
 * it with a full mark-compact every ~40 ms of a pull (57 in a bench run of five pulls of
 * 210 MB, each marking the whole heap on the helper threads). Starting the old
 * generation's limit at 64 MiB leaves 0-1 of them: measured here, daemon CPU
 * per pull 1270-1360 -> 990-1010 ms and the pull 874-941 -> 713-748 ms; idle
 * RSS unchanged, peak RSS over a pull about the same (231 vs 223 MiB), RSS with
 * 100 pods about 25 MiB higher (95 -> 120 MiB; containerd's is 140).
 */
export const BERTHD_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=2', '--initial-heap-size=64'];
