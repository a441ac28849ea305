#!/usr/bin/env bash
# VPC topology benchmark: import and layout of generated Terraform states with 1k, 10k and 100k
# instances (release build). Prints time and peak memory per size and the growth ratios between
# sizes (linear growth: ratios close to ×10). Targets: 10k instances imported in < 300 ms, laid
# out in < 50 ms. The "+db cpu" column imports the same state with one RDS database per ten
# instances (1k databases at 10k), each in its DB subnet group. "layout" is `layout_ref` (texts
# borrowed from the topology: what `gatehouse vpc layout` serializes); the times are wall clock and on-CPU, best of several runs, each size in a
# child process of its own so its peak memory (VmHWM) is its own.
#
# Usage: tests/bench/vpc.sh [SIZES…]   (default: 1000 10000 100000)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
cargo run --quiet --release --locked -p gatehouse-vpc --example bench -- "$@"
