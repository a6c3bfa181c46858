#!/usr/bin/env bash
# Installs everything berth and its tests need on a fresh Debian 12 machine
# (run as root): Debian packages, npm packages, the build, crictl and critest.
set -euo pipefail
cd "$(dirname "$0")/.."

DEBIAN_PACKAGES=(
  runc crun conmon catatonit            # OCI runtimes and the per-container monitor
  containernetworking-plugins iproute2 iptables   # CNI plugins and what they drive
  docker-registry skopeo umoci          # the local registry the tests pull from
  openssl                               # the token-auth registry test makes its signing certificate
  busybox-static util-linux zstd        # test images and layer fixtures
  openssl                               # certificates for the streaming TLS tests
  make g++ python3                      # native addons (better-sqlite3, berth_sys)
)
missing=()
for pkg in "${DEBIAN_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]} > 0)); then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# Native addons compile against the installed node's headers; never download them.
if [[ -z "${npm_config_nodedir:-}" && -f /usr/include/node/node.h ]]; then
  export npm_config_nodedir=/usr
fi
npm ci --no-audit --no-fund
npm run build

if ! command -v crictl >/dev/null || ! command -v critest >/dev/null; then
  scripts/install-cri-tools.sh
fi
