#!/usr/bin/env bash
# One command on a fresh machine: install what berth needs, build it, and run
# berthd in the foreground with its embedded default configuration (plus
# /etc/berth/berth.toml if it exists). Ctrl-C stops it; containers keep running.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
[[ -f /etc/crictl.yaml ]] || install -m 0644 deploy/crictl.yaml /etc/crictl.yaml
# The node flags are those of src/daemon/node-flags.ts (and of the bin's shebang).
exec node --max-semi-space-size=2 --initial-heap-size=64 dist/src/bin/berthd.js "$@"
