#!/usr/bin/env bash
# Runs CMD... inside a fresh D-Bus session bus with an unlocked gnome-keyring (Secret Service),
# as the end-to-end tests of the profile store need:
#
#   scripts/with-keyring.sh cargo test -p gatehouse-e2e --test profile_store
#
# A fresh XDG_RUNTIME_DIR and XDG_DATA_HOME (where gnome-keyring keeps its keyring files) are made
# in a temp dir (0700) and removed afterwards, so the user's own keyring is never touched.
# Needs: dbus (dbus-run-session), gnome-keyring; libsecret-tools (secret-tool) for the lookups.
set -euo pipefail
if [ "$#" -eq 0 ]; then
  echo "usage: $0 CMD [ARGS...]" >&2
  exit 2
fi
for tool in dbus-run-session gnome-keyring-daemon; do
  command -v "$tool" >/dev/null || { echo "$0: $tool is not installed (apt-get install dbus gnome-keyring)" >&2; exit 2; }
done
scratch=$(mktemp -d "${TMPDIR:-/tmp}/gatehouse-keyring.XXXXXX")
chmod 700 "$scratch"
trap 'rm -rf "$scratch"' EXIT
mkdir -m 700 "$scratch/runtime" "$scratch/data"
export XDG_RUNTIME_DIR="$scratch/runtime" XDG_DATA_HOME="$scratch/data"
export GATEHOUSE_KEYRING_PASSWORD="${GATEHOUSE_KEYRING_PASSWORD:-gatehouse-test}"
export NO_AT_BRIDGE=1
# The inner shell starts the keyring (unlocked, so it creates a default 'login' collection),
# waits until it answers on the bus, then runs the command.
exec dbus-run-session -- bash -c '
  set -u
  eval "$(printf %s "$GATEHOUSE_KEYRING_PASSWORD" | gnome-keyring-daemon --unlock --components=secrets)"
  export GNOME_KEYRING_CONTROL
  for _ in $(seq 50); do
    if dbus-send --session --print-reply --dest=org.freedesktop.DBus /org/freedesktop/DBus \
         org.freedesktop.DBus.NameHasOwner string:org.freedesktop.secrets 2>/dev/null | grep -q "boolean true"; then
      break
    fi
    sleep 0.1
  done
  # The keyring daemon exits by itself when dbus-run-session closes the bus.
  "$@"
' with-keyring "$@"
