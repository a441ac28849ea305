#!/usr/bin/env bash
# Installs what the desktop app (src-tauri/, ui/, tests/app/) needs to build and to be driven
# headless over WebDriver. Idempotent: skips whatever is already installed.
#   apt:   WebKitGTK 4.1 + GTK 3 dev files, tray (ayatana), SVG (rsvg), xdo, Xvfb, WebKitWebDriver,
#          ImageMagick (screenshots), D-Bus X11 helpers
#   cargo: tauri-driver ^2 (3.0 alphas exist on crates.io: pinned to 2)
#   npm:   the root package's dependencies (npm ci)
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PKGS=(libwebkit2gtk-4.1-dev libgtk-3-dev libayatana-appindicator3-dev librsvg2-dev libxdo-dev
  libssl-dev build-essential pkg-config file fonts-dejavu-core dbus dbus-x11
  xvfb xauth webkit2gtk-driver imagemagick librsvg2-bin)

missing=()
for p in "${APT_PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "install-app-deps: apt-get install ${missing[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  # Another apt may hold the lock: wait for it rather than fail.
  $SUDO apt-get -o DPkg::Lock::Timeout=600 update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get -o DPkg::Lock::Timeout=600 install -y -qq \
    --no-install-recommends "${missing[@]}"
fi

if ! command -v tauri-driver >/dev/null 2>&1 && [ ! -x "$HOME/.cargo/bin/tauri-driver" ]; then
  echo "install-app-deps: cargo install tauri-driver ^2"
  cargo install tauri-driver --locked --version ^2
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "install-app-deps: npm ci"
  npm ci --no-audit --no-fund
fi
