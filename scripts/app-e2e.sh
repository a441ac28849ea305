#!/usr/bin/env bash
# Builds the desktop app (debug, no bundle) and drives its real window end to end:
# tauri-driver + WebKitWebDriver under Xvfb, inside a private D-Bus session with an unlocked
# gnome-keyring.
#   bash scripts/app-e2e.sh            # install deps if missing, build, test
#   GATEHOUSE_APP_SKIP_BUILD=1 ...     # reuse the built binary
#   GATEHOUSE_MEASURE_OUT=file.json    # also write the measured figures there
# Screenshots: tests/artifacts/app/ (git-ignored). Needs no root (apt install aside).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

bash scripts/install-app-deps.sh
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}"
if [ -z "${GATEHOUSE_APP_SKIP_BUILD:-}" ]; then
  npx tauri build --debug --no-bundle
fi
bin="$CARGO_TARGET_DIR/debug/gatehouse-app"
[ -x "$bin" ] || { echo "app-e2e: $bin was not built" >&2; exit 1; }

scratch=$(mktemp -d "${TMPDIR:-/tmp}/gatehouse-app-e2e.XXXXXX")
chmod 700 "$scratch"
trap 'rm -rf "$scratch"' EXIT
mkdir -m 700 "$scratch/runtime" "$scratch/config" "$scratch/home"
rm -rf tests/artifacts/app
# A fresh profile store, settings, runtime dir, WebKit data dir and home (start at login writes
# $HOME/.config/autostart): the user's own are never touched.
export GATEHOUSE_CONFIG_DIR="$scratch/config" XDG_RUNTIME_DIR="$scratch/runtime" \
  XDG_DATA_HOME="$scratch/home/data" XDG_CACHE_HOME="$scratch/home/cache" \
  XDG_CONFIG_HOME="$scratch/home/config" HOME="$scratch/home" GATEHOUSE_E2E_SCRATCH_HOME=1 \
  NO_AT_BRIDGE=1 GATEHOUSE_APP_BIN="$bin"
# Imported profiles keep their keys in the Secret Service: an unlocked gnome-keyring on a private
# bus (with-keyring.sh, which also gives it its own runtime and data dirs).
xvfb-run -a -s "-screen 0 1280x800x24" bash scripts/with-keyring.sh node tests/app/e2e.mjs
