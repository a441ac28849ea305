#!/usr/bin/env bash
# Builds Gatehouse and starts the most useful thing that exists so far.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cargo build --release -p gatehouse-cli
exec target/release/gatehouse "${@:---help}"
