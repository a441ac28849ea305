#!/usr/bin/env bash
# Installs what the build and the tests need on Debian 12 (Rust and Node are expected to be there).
# Safe to run twice: it installs only what is missing, and runs apt-get update at most once.
set -euo pipefail

APT_PACKAGES=(
  # build
  build-essential pkg-config libssl-dev libdbus-1-dev libsecret-1-dev
  # Secret Service for the keyring tests
  dbus dbus-x11 gnome-keyring libsecret-tools
  # WireGuard peers and network namespaces for the tunnel tests
  wireguard-go wireguard-tools iproute2 iputils-ping iperf3 nftables curl python3 procps
  # clients the demo-lab tests drive through the proxies and forwards
  redis-tools postgresql-client util-linux
  # the kill-switch test captures what leaves the namespace; the service tests add users
  tcpdump passwd
  # the AWS importer test runs moto (PyPI) from a virtualenv
  python3-venv
)

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
  echo "==> installing Debian packages: ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  # Another apt process (unattended upgrades) may hold the lock for a while: wait for it.
  for _ in $(seq 60); do
    $SUDO fuser /var/lib/dpkg/lock-frontend >/dev/null 2>&1 || break
    sleep 5
  done
  $SUDO apt-get update -q
  # --no-install-recommends: wireguard's recommends pull in a kernel image.
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

for tool in cargo rustc; do
  command -v "$tool" >/dev/null || { echo "error: $tool not found: install Rust (rustup) first" >&2; exit 1; }
done
for comp in rustfmt clippy; do
  rustup component list --installed 2>/dev/null | grep -q "^$comp" || rustup component add "$comp"
done

# The AWS importer test: moto[server] (the AWS API emulator, with boto3) in a virtualenv;
# tests/support/moto.rs looks there, or in $GATEHOUSE_MOTO_VENV.
MOTO_VENV="${GATEHOUSE_MOTO_VENV:-/opt/gatehouse/moto-venv}"
if [ ! -x "$MOTO_VENV/bin/moto_server" ]; then
  echo "==> installing moto[server] into $MOTO_VENV"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || [ -w "$(dirname "$MOTO_VENV")" ] || SUDO="sudo"
  $SUDO mkdir -p "$(dirname "$MOTO_VENV")"
  $SUDO python3 -m venv "$MOTO_VENV"
  $SUDO "$MOTO_VENV/bin/pip" install -q 'moto[server]>=5,<6'
fi

# The desktop app: WebKitGTK, Xvfb, WebKitWebDriver, tauri-driver, the npm packages.
bash "$(dirname "$0")/install-app-deps.sh"
