#!/usr/bin/env bash
# Builds crictl and critest of sigs.k8s.io/cri-tools v1.36.0 from the Go module
# proxy and installs them into /usr/local/bin. `go install …@v1.36.0` is
# refused here (the proxy will not list the module's versions), so the tools
# are built inside a scratch module that requires that exact version.
set -euo pipefail
VERSION=v1.36.0
PREFIX=${PREFIX:-/usr/local/bin}
CACHE=${BERTH_TOOLS_CACHE:-/var/cache/berth-tools/cri-tools-$VERSION}
mkdir -p "$CACHE"
if [[ -x "$CACHE/crictl" && -x "$CACHE/critest" ]]; then
  install -m 0755 "$CACHE/crictl" "$CACHE/critest" "$PREFIX/"
  exit 0
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
cat > go.mod <<MOD
module berth.local/critools

go 1.24

require sigs.k8s.io/cri-tools $VERSION
MOD
cat > tools.go <<'GO'
//go:build tools

package tools

import (
	_ "sigs.k8s.io/cri-tools/cmd/crictl"
	_ "sigs.k8s.io/cri-tools/cmd/critest"
)
GO
export GOFLAGS=-mod=mod
go mod tidy
go build -o "$CACHE/crictl" sigs.k8s.io/cri-tools/cmd/crictl
go test -c -o "$CACHE/critest" sigs.k8s.io/cri-tools/cmd/critest
install -m 0755 "$CACHE/crictl" "$CACHE/critest" "$PREFIX/"
