#!/usr/bin/env bash
# Builds Gatehouse and starts it on the demo lab: an in-process WireGuard gateway with a home LAN
# and a cloud VPC behind it, and the no-root client connected to it. No root, no VPN of your own.
#   with a display: the desktop app, connected to the demo network;
#   without one (ssh, a container): `gatehouse demo` in the terminal (SOCKS5/HTTP proxy, forwards).
# Extra arguments go to `gatehouse demo` in the terminal case.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
if [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ] && [ "$#" -eq 0 ]; then
  npx tauri build --debug --no-bundle
  exec "${CARGO_TARGET_DIR:-target}/debug/gatehouse-app" --demo
fi
echo "(no display: starting the demo in the terminal; the desktop app needs X11 or Wayland)"
cargo build --release -p gatehouse-cli
exec "${CARGO_TARGET_DIR:-target}/release/gatehouse" demo "$@"
