#!/usr/bin/env bash
# Builds Gatehouse and starts it on the demo lab: an in-process WireGuard gateway with a home LAN
# and a cloud VPC behind it, and the no-root client connected to it (SOCKS5 and HTTP proxy, port
# forwards). No root, no VPN of your own. Extra arguments go to `gatehouse demo`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cargo build --release -p gatehouse-cli
exec target/release/gatehouse demo "$@"
