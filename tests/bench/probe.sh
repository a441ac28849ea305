#!/usr/bin/env bash
# Prober benchmark: a /24 x 10 ports of the demo lab's VPC probed through the lab's WireGuard
# tunnel. 10.20.1.0/24 holds web-1 (.11) and web-2 (.12) on 80 and the cache (.20) on 6379; the
# other addresses do not exist (their SYNs are dropped, as on a real VPC) and the security
# groups drop the other ports: 3 of 2,540 probes answer, the rest time out.
#
# Path: client netns ── veth ── lab netns (`gatehouse demo --lab-only`, the in-process gateway).
#   gh-noroot   gatehouse scan --no-root lab.conf (the userspace stack in the scan's process)
#   gh-tun      gatehouse scan (OS sockets) with `gatehouse up lab.conf --foreground` (TUN)
#   nmap-tun    nmap -sT -Pn -n on the same TUN path: once with its -T4 defaults, once matched
#               (one try, the same fixed timeout and parallelism: --max-retries 0,
#               --{initial,min,max}-rtt-timeout, --{min,max}-parallelism)
#   gh-tun-short  gatehouse scan on the TUN path with --timeout SHORT (default 250 ms): nmap's
#               -T4 adapts its timeout to the measured round trip, gatehouse's is fixed
# nmap cannot take the no-root path (its --proxies does not cover port scans, and proxychains
# turns its parallel connects into blocking ones), so the ratio is on the TUN path. Printed:
# wall time, concurrency (asked and peak), probes/s, open ports found, ratios gh / nmap.
#
# Usage: tests/bench/probe.sh [--concurrency N] [--timeout MS] [--short MS] [--rate PER_HOST_PER_S]
#                             [--net CIDR] [--no-build]
# Needs root (network namespaces, TUN). Debian packages: nmap (optional: without it only the
# gatehouse figures), wireguard-tools, iproute2, python3. Release build of gatehouse
# (`cargo build --release -p gatehouse-cli`, or GATEHOUSE_BIN).
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
CONC=256
TIMEOUT=1000
RATE=50
SHORT=250
NET=10.20.1.0/24
PORTS=22,80,443,445,3306,5432,6379,8080,8443,9000
BUILD=1

usage() { sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
  case "$1" in
    --concurrency) CONC="$2"; shift ;;
    --timeout) TIMEOUT="$2"; shift ;;
    --rate) RATE="$2"; shift ;;
    --short) SHORT="$2"; shift ;;
    --net) NET="$2"; shift ;;
    --no-build) BUILD=0 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "unknown argument: $1" >&2; usage >&2; exit 2 ;;
  esac
  shift
done
[[ "$CONC" =~ ^[0-9]+$ && "$TIMEOUT" =~ ^[0-9]+$ ]] || { echo "concurrency/timeout must be numbers" >&2; exit 2; }
[ "$(id -u)" -eq 0 ] || { echo "error: needs root (network namespaces, TUN)" >&2; exit 1; }
log() { echo "==> $*" >&2; }

if [ -z "${GATEHOUSE_BIN:-}" ] && [ "$BUILD" -eq 1 ]; then
  log "cargo build --release -p gatehouse-cli"
  (cd "$ROOT" && cargo build --release -q -p gatehouse-cli)
fi
GH="${GATEHOUSE_BIN:-${CARGO_TARGET_DIR:-$ROOT/target}/release/gatehouse}"
[ -x "$GH" ] || { echo "error: $GH not built" >&2; exit 1; }
HAVE_NMAP=0
command -v nmap >/dev/null && HAVE_NMAP=1
[ "$HAVE_NMAP" -eq 1 ] || log "nmap not installed (apt-get install nmap): gatehouse figures only"

TMP=$(mktemp -d /tmp/gatehouse-probebench.XXXXXX)
PIDS=()
C="ghp-$$-c"; S="ghp-$$-s"
cleanup() {
  local p
  for p in "${PIDS[@]}"; do kill -INT "$p" 2>/dev/null || true; done
  sleep 0.5
  for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  ip netns del "$C" 2>/dev/null || true
  ip netns del "$S" 2>/dev/null || true
  [ -n "${KEEP:-}" ] || rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

wait_for() { # wait_for SECONDS CMD…
  local deadline=$(( $(date +%s%N) + $1 * 1000000000 )); shift
  until "$@" >/dev/null 2>&1; do
    [ "$(date +%s%N)" -lt $deadline ] || return 1
    sleep 0.1
  done
}
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

# ---------------------------------------------------------------- path
ip netns add "$C"; ip netns add "$S"
ip -n "$C" link set lo up; ip -n "$S" link set lo up
ip -n "$C" link add vc type veth peer name vs netns "$S"
ip -n "$C" addr add 10.99.0.1/24 dev vc; ip -n "$S" addr add 10.99.0.2/24 dev vs
ip -n "$C" link set vc up; ip -n "$S" link set vs up
ip netns exec "$S" "$GH" demo --lab-only --listen 10.99.0.2:51820 --profile-out "$TMP/lab.conf" \
  >"$TMP/lab.log" 2>&1 &
PIDS+=("$!")
wait_for 10 test -s "$TMP/lab.conf" || { cat "$TMP/lab.log" >&2; echo "the lab did not start" >&2; exit 1; }
# No DNS change for the TUN client: /etc/resolv.conf is shared with the host.
grep -v '^DNS' "$TMP/lab.conf" >"$TMP/lab0.conf"; chmod 600 "$TMP/lab0.conf"

N_PROBES=$(python3 -c "import ipaddress,sys; n=ipaddress.ip_network('$NET',strict=False); print((n.num_addresses-2 if n.num_addresses>2 else n.num_addresses)*len('$PORTS'.split(',')))")
log "target: $NET x {$PORTS} = $N_PROBES probes; timeout ${TIMEOUT} ms, concurrency $CONC, $RATE/s per host"

# summary FILE: "elapsed_ms peak open" of a gatehouse scan --json.
summary() {
  python3 - "$1" <<'EOF'
import json, sys
v = json.load(open(sys.argv[1]))
opened = sorted(f"{r['ip']}:{r['port']}" for r in v["results"] if r["outcome"]["state"] == "open")
print(v["elapsed_ms"], v["peak_in_flight"], len(v["results"]), len(opened), " ".join(opened))
EOF
}

declare -A WALL PEAK OPEN FOUND
run_gh() { # run_gh LABEL ARGS…
  local label=$1; shift
  local t0 t1
  t0=$(now_ms)
  ip netns exec "$C" "$GH" scan "$NET" --ports "$PORTS" --concurrency "$CONC" --rate "$RATE" \
    --timeout "$TIMEOUT" --json "$@" >"$TMP/$label.json" 2>"$TMP/$label.err" \
    || { cat "$TMP/$label.err" >&2; echo "$label failed" >&2; exit 1; }
  t1=$(now_ms)
  read -r _ms peak n open found < <(summary "$TMP/$label.json")
  [ "$n" -eq "$N_PROBES" ] || { echo "$label: $n results, expected $N_PROBES" >&2; exit 1; }
  WALL[$label]=$(( t1 - t0 )); PEAK[$label]=$peak; OPEN[$label]=$open; FOUND[$label]="$found"
  log "$label: ${WALL[$label]} ms, peak $peak in flight, $open open ($found)"
}

# ---------------------------------------------------------------- no-root path
run_gh gh-noroot --no-root "$TMP/lab0.conf"

# ---------------------------------------------------------------- TUN path
ip netns exec "$C" "$GH" up "$TMP/lab0.conf" --foreground --name ghp0 \
  --socket "$TMP/no-service.sock" >"$TMP/up.log" 2>&1 &
PIDS+=("$!")
web_answers() { ip netns exec "$C" "$GH" scan 10.20.1.11:80 --timeout 500 --json 2>/dev/null | grep -q '"state": "open"'; }
wait_for 20 web_answers \
  || { cat "$TMP/up.log" >&2; echo "web-1 does not answer through the TUN tunnel" >&2; exit 1; }
run_gh gh-tun
SAVE=$TIMEOUT; TIMEOUT=$SHORT; run_gh gh-tun-short; TIMEOUT=$SAVE

nmap_run() { # nmap_run LABEL ARGS…
  local label=$1; shift
  local t0 t1
  t0=$(now_ms)
  ip netns exec "$C" nmap -sT -Pn -n -p "$PORTS" "$@" -oG "$TMP/$label.gnmap" "$NET" >"$TMP/$label.log" 2>&1
  t1=$(now_ms)
  WALL[$label]=$(( t1 - t0 ))
  FOUND[$label]=$(python3 - "$TMP/$label.gnmap" <<'EOF'
import re, sys
out = []
for line in open(sys.argv[1]):
    m = re.match(r"Host: (\S+) .*Ports: (.*)", line)
    if not m: continue
    for p in m.group(2).split(","):
        f = p.strip().split("/")
        if len(f) > 2 and f[1] == "open":
            out.append(f"{m.group(1)}:{f[0]}")
print(" ".join(sorted(out)))
EOF
)
  OPEN[$label]=$(echo "${FOUND[$label]}" | wc -w)
  PEAK[$label]="-"
  log "$label: ${WALL[$label]} ms, ${OPEN[$label]} open (${FOUND[$label]})"
}
if [ "$HAVE_NMAP" -eq 1 ]; then
  nmap_run nmap-tun-T4 -T4
  nmap_run nmap-tun-matched -T4 --max-retries 0 --initial-rtt-timeout "${TIMEOUT}ms" \
    --min-rtt-timeout "${TIMEOUT}ms" --max-rtt-timeout "${TIMEOUT}ms" \
    --min-parallelism "$CONC" --max-parallelism "$CONC"
fi

# ---------------------------------------------------------------- report
echo
echo "Probing $NET x 10 ports ($N_PROBES probes) through the lab tunnel; timeout ${TIMEOUT} ms (gh-tun-short: ${SHORT} ms)"
printf "%-18s %10s %12s %10s %6s  %s\n" "run" "wall ms" "concurrency" "probes/s" "open" "found"
for label in gh-noroot gh-tun gh-tun-short nmap-tun-T4 nmap-tun-matched; do
  [ -n "${WALL[$label]:-}" ] || continue
  conc="$CONC/${PEAK[$label]}"
  case $label in nmap-tun-T4) conc="nmap -T4" ;; nmap-tun-matched) conc="$CONC (min=max)" ;; esac
  rate=$(python3 -c "print(f'{$N_PROBES*1000/max(${WALL[$label]},1):.0f}')")
  printf "%-18s %10s %12s %10s %6s  %s\n" "$label" "${WALL[$label]}" "$conc" "$rate" "${OPEN[$label]}" "${FOUND[$label]}"
done
if [ "$HAVE_NMAP" -eq 1 ]; then
  python3 -c "print(f'ratio wall time gh-tun / nmap-tun-matched (same timeout, one try): {${WALL[gh-tun]}/max(${WALL[nmap-tun-matched]},1):.2f} (below 1: gatehouse faster)')"
  python3 -c "print(f'ratio wall time gh-tun-short / nmap-tun-T4 (defaults): {${WALL[gh-tun-short]}/max(${WALL[nmap-tun-T4]},1):.2f}')"
fi
echo "(concurrency: asked/peak in flight; gatehouse rate limit $RATE/s per host)"
