#!/usr/bin/env bash
# Tunnel throughput benchmark: iperf3 TCP through WireGuard implementations, each pair in two
# network namespaces of its own (client ns ↔ veth ↔ server ns), measured in the same run so the
# figures compare as ratios. Needs root.
#
# Pairs (client ↔ server):
#   gh-deb   gatehouse (release build)  ↔ Debian wireguard-go
#   deb-deb  Debian wireguard-go        ↔ Debian wireguard-go
#   up-up    upstream wireguard-go      ↔ upstream wireguard-go
#   gh-up    gatehouse                  ↔ upstream wireguard-go
#   bt-deb   boringtun-cli              ↔ Debian wireguard-go
# Columns: 1 and 4 TCP streams, client→server ("up") and server→client ("down", iperf3 -R);
# receiver-side Mbit/s, median of the rounds; rounds are interleaved across pairs so drift on a
# shared machine hits every pair alike. Also: CPU seconds per GB of the client process
# (utime+stime from /proc/PID/stat), and the handshake time (interface configured → first ping
# reply through the tunnel).
#
# Usage: tests/bench/tunnel.sh [--quick] [--duration S] [--rounds N] [--pairs gh-deb,deb-deb,…]
#                              [--gatehouse PATH] [--no-install]
#   --quick      1 round of 3 s (smoke test)
# Tools are cached under tests/bench/.cache (git-ignored): upstream wireguard-go (go install),
# boringtun-cli (cargo install). Debian packages: iperf3 wireguard-go wireguard-tools iproute2
# iputils-ping python3.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
CACHE="$HERE/.cache"
DURATION=10
ROUNDS=3
PAIRS="gh-deb,deb-deb,up-up,gh-up,bt-deb"
GATEHOUSE=""
INSTALL=1

usage() { sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) ROUNDS=1; DURATION=3 ;;
    --duration) DURATION="$2"; shift ;;
    --rounds) ROUNDS="$2"; shift ;;
    --pairs) PAIRS="$2"; shift ;;
    --gatehouse) GATEHOUSE="$2"; shift ;;
    --no-install) INSTALL=0 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "unknown argument: $1" >&2; usage >&2; exit 2 ;;
  esac
  shift
done
[[ "$DURATION" =~ ^[0-9]+$ && "$ROUNDS" =~ ^[0-9]+$ ]] || { echo "duration/rounds must be numbers" >&2; exit 2; }
[ "$(id -u)" -eq 0 ] || { echo "error: needs root (network namespaces)" >&2; exit 1; }

log() { echo "==> $*" >&2; }

# ---------------------------------------------------------------- tools
DEB_WG=/usr/bin/wireguard-go
UP_WG="$CACHE/gobin/wireguard"
BT="$CACHE/cargo-root/bin/boringtun-cli"

install_tools() {
  local missing=() p
  for p in iperf3 wireguard-go wireguard-tools iproute2 iputils-ping python3; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    log "apt-get install ${missing[*]}"
    apt-get update -q
    # --no-install-recommends: wireguard's recommends pull in a kernel image.
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
  fi
  mkdir -p "$CACHE"
  if [ ! -x "$UP_WG" ] && needs_impl up; then
    if command -v go >/dev/null; then
      log "go install golang.zx2c4.com/wireguard@latest (upstream wireguard-go)"
      GOBIN="$CACHE/gobin" GOPATH="$CACHE/gopath" GOFLAGS=-modcacherw \
        go install golang.zx2c4.com/wireguard@latest
    else
      log "no Go toolchain: the upstream wireguard-go pairs are skipped"
    fi
  fi
  if [ ! -x "$BT" ] && needs_impl bt; then
    log "cargo install boringtun-cli --locked"
    cargo install boringtun-cli --locked --root "$CACHE/cargo-root" --target-dir "$CACHE/cargo-target"
  fi
  if [ -z "$GATEHOUSE" ] && needs_impl gh; then
    log "cargo build --release -p gatehouse-cli"
    (cd "$ROOT" && cargo build --release -q -p gatehouse-cli)
  fi
}

needs_impl() { [[ ",$PAIRS," =~ ,$1- || ",$PAIRS," =~ -$1, ]]; }

[ "$INSTALL" -eq 1 ] && install_tools
if [ -z "$GATEHOUSE" ]; then
  GATEHOUSE="${CARGO_TARGET_DIR:-$ROOT/target}/release/gatehouse"
  case "$GATEHOUSE" in /*) ;; *) GATEHOUSE="$ROOT/$GATEHOUSE" ;; esac
fi

impl_bin() {
  case "$1" in
    deb) echo "$DEB_WG" ;; up) echo "$UP_WG" ;; bt) echo "$BT" ;; gh) echo "$GATEHOUSE" ;;
  esac
}
impl_name() {
  case "$1" in
    deb) echo "wireguard-go (Debian $("$DEB_WG" --version 2>/dev/null | sed -n 's/^wireguard-go v//p' | head -1))" ;;
    up) echo "wireguard-go (upstream $("$UP_WG" --version 2>/dev/null | sed -n 's/^wireguard-go v//p' | head -1))" ;;
    bt) echo "boringtun-cli $("$BT" --version 2>/dev/null | awk '{print $2}')" ;;
    gh) echo "gatehouse" ;;
  esac
}

# ---------------------------------------------------------------- state and cleanup
TMP=$(mktemp -d /tmp/gatehouse-bench.XXXXXX)
PIDS=()
NSS=()
SOCKS=()
cleanup() {
  local p n s
  for p in "${PIDS[@]}"; do kill -INT "$p" 2>/dev/null || true; done
  for _ in $(seq 50); do
    local alive=0
    for p in "${PIDS[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
    [ $alive -eq 0 ] && break
    sleep 0.1
  done
  for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  for n in "${NSS[@]}"; do ip netns del "$n" 2>/dev/null || true; done
  for s in "${SOCKS[@]}"; do rm -f "/var/run/wireguard/$s.sock"; done
  [ -n "${KEEP:-}" ] || rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

wait_for() { # wait_for SECONDS CMD…: polls every 20 ms
  local deadline=$(( $(date +%s%N) + $1 * 1000000000 )); shift
  until "$@" >/dev/null 2>&1; do
    [ "$(date +%s%N)" -lt $deadline ] || return 1
    sleep 0.02
  done
}

# Starts a userspace WireGuard daemon IMPL as interface IF in NS; sets DAEMON_PID.
start_daemon() {
  local impl=$1 ns=$2 ifn=$3 logf="$TMP/$3.log"
  rm -f "/var/run/wireguard/$ifn.sock"
  case "$impl" in
    deb|up) ip netns exec "$ns" "$(impl_bin "$impl")" -f "$ifn" >"$logf" 2>&1 & ;;
    bt) WG_LOG_FILE="$logf" ip netns exec "$ns" "$BT" -f --disable-drop-privileges "$ifn" >>"$logf" 2>&1 & ;;
  esac
  DAEMON_PID=$!
  PIDS+=("$DAEMON_PID"); SOCKS+=("$ifn")
  wait_for 10 test -S "/var/run/wireguard/$ifn.sock" || { echo "error: $impl did not start:" >&2; cat "$logf" >&2; exit 1; }
}

CPID=()     # client pid per pair
CNS=()      # client ns per pair
HS_MS=()    # handshake ms per pair
HS_NOTE=()

# Sets up pair I (e.g. "gh-deb"): namespaces, server daemon + iperf3 -s, client; measures the
# handshake.
setup_pair() {
  local i=$1 pair=$2 cimpl=${2%%-*} simpl=${2##*-}
  local c="ghb-$$-$i-c" s="ghb-$$-$i-s" cif="gbc$$x$i" sif="gbs$$x$i"
  ip netns add "$c"; NSS+=("$c"); ip netns add "$s"; NSS+=("$s")
  ip -n "$c" link set lo up; ip -n "$s" link set lo up
  ip -n "$c" link add vc type veth peer name vs netns "$s"
  ip -n "$c" addr add 10.99.0.1/24 dev vc; ip -n "$s" addr add 10.99.0.2/24 dev vs
  ip -n "$c" link set vc up; ip -n "$s" link set vs up
  (umask 077; wg genkey >"$TMP/$i.c.key"; wg genkey >"$TMP/$i.s.key")
  local cpub spub; cpub=$(wg pubkey <"$TMP/$i.c.key"); spub=$(wg pubkey <"$TMP/$i.s.key")

  start_daemon "$simpl" "$s" "$sif"
  ip netns exec "$s" wg set "$sif" private-key "$TMP/$i.s.key" listen-port 51820 \
    peer "$cpub" allowed-ips 10.100.0.1/32
  ip -n "$s" addr add 10.100.0.2/24 dev "$sif"; ip -n "$s" link set "$sif" mtu 1420 up
  ip netns exec "$s" iperf3 -s -B 10.100.0.2 >"$TMP/$i.iperf3-server.log" 2>&1 &
  PIDS+=("$!")
  wait_for 10 ip netns exec "$s" sh -c "ss -ltn | grep -q 10.100.0.2:5201"

  local pid t0
  if [ "$cimpl" = gh ]; then
    [ -x "$GATEHOUSE" ] || { echo "error: $GATEHOUSE not built" >&2; exit 1; }
    cat >"$TMP/$cif.conf" <<EOF
[Interface]
PrivateKey = $(cat "$TMP/$i.c.key")
Address = 10.100.0.1/24
ListenPort = 51820
MTU = 1420

[Peer]
PublicKey = $spub
AllowedIPs = 10.100.0.2/32
Endpoint = 10.99.0.2:51820
EOF
    chmod 600 "$TMP/$cif.conf"
    mkdir -p "$TMP/run-$i"
    GATEHOUSE_RUN_DIR="$TMP/run-$i" RUST_LOG="${RUST_LOG:-info}" \
      ip netns exec "$c" "$GATEHOUSE" up "$TMP/$cif.conf" >"$TMP/$cif.log" 2>&1 &
    pid=$!; PIDS+=("$pid")
    # "Profile loaded": the tunnel address is on the interface.
    wait_for 20 sh -c "ip -n $c -4 addr show | grep -q 10.100.0.1/" \
      || { echo "error: gatehouse did not come up:" >&2; cat "$TMP/$cif.log" >&2; exit 1; }
  else
    start_daemon "$cimpl" "$c" "$cif"; pid=$DAEMON_PID
    ip netns exec "$c" wg set "$cif" private-key "$TMP/$i.c.key" listen-port 51820 \
      peer "$spub" endpoint 10.99.0.2:51820 allowed-ips 10.100.0.2/32
    ip -n "$c" addr add 10.100.0.1/24 dev "$cif"; ip -n "$c" link set "$cif" mtu 1420 up
  fi
  CPID[$i]=$pid; CNS[$i]=$c
  # Handshake: the first ping's round trip (it waits in the client's queue during the
  # handshake); command start-up of ping itself is not in it.
  local out ms
  if out=$(ip netns exec "$c" ping -n -c 1 -W 5 10.100.0.2 2>&1); then
    ms=$(sed -n 's/.*time=\([0-9.]*\) ms.*/\1/p' <<<"$out" | head -1)
    HS_MS[$i]=${ms:-?}
  else
    HS_MS[$i]="lost"
  fi
  HS_NOTE[$i]=""
  if [ "$cimpl" = gh ]; then
    wait_for 5 grep -qi handshake "$TMP/$cif.log" || true
    HS_NOTE[$i]=$(gatehouse_log_handshake "$TMP/$cif.log")
  fi
  wait_for 20 ip netns exec "$c" ping -n -c 1 -W 1 10.100.0.2 \
    || { echo "error: no ping through $pair" >&2; exit 1; }
}

# From gatehouse's log (RFC 3339 timestamps at line start): first line → first line with
# "handshake", in ms.
gatehouse_log_handshake() {
  python3 - "$1" <<'EOF'
import re, sys
from datetime import datetime
ts = re.compile(r'(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?)')
first = up = hs = None
for line in open(sys.argv[1], errors="replace"):
    line = re.sub(r'\x1b\[[0-9;]*m', '', line)
    m = ts.search(line)
    if not m:
        continue
    t = m.group(1)
    if '.' in t:
        a, b = t.split('.')
        t = a + '.' + (b + '000000')[:6]
    t = datetime.fromisoformat(t)
    if first is None:
        first = t
    if up is None and ' up: ' in line:
        up = t
    if 'handshake' in line.lower():
        hs = t
        break
ms = lambda a, b: f"{(b - a).total_seconds() * 1000:.1f} ms"
if hs is None:
    print("log: no timestamped handshake line")
else:
    out = [f"log: device started → handshake line {ms(first, hs)}"]
    if up is not None:
        out.append(f"'up:' (host configured) → handshake line {ms(up, hs)}")
    print(", ".join(out))
EOF
}

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
TCK=$(getconf CLK_TCK)

# ---------------------------------------------------------------- run
IFS=, read -r -a PAIR_LIST <<<"$PAIRS"
ACTIVE=()
for p in "${PAIR_LIST[@]}"; do
  ok=1
  for impl in "${p%%-*}" "${p##*-}"; do
    case "$impl" in deb|up|bt|gh) ;; *) echo "unknown implementation in pair $p" >&2; exit 2 ;; esac
    [ -x "$(impl_bin "$impl")" ] || { log "skipping $p: $(impl_bin "$impl") missing"; ok=0; }
  done
  [ "$p" != "${p%%-*}-${p##*-}" ] && ok=0
  [ "${p##*-}" = gh ] && { log "skipping $p: gatehouse is a client only here"; ok=0; }
  [ $ok -eq 1 ] && ACTIVE+=("$p")
done
[ ${#ACTIVE[@]} -gt 0 ] || { echo "error: nothing to measure" >&2; exit 1; }

log "setting up ${#ACTIVE[@]} pairs: ${ACTIVE[*]}"
for i in "${!ACTIVE[@]}"; do setup_pair "$i" "${ACTIVE[$i]}"; done

COLS=("1 up" "4 up" "1 down" "4 down")
RESULTS="$TMP/results.tsv"
: >"$RESULTS"
log "iperf3: ${DURATION} s per run, ${ROUNDS} interleaved round(s), $(( ROUNDS * ${#ACTIVE[@]} * 4 )) runs"
for r in $(seq "$ROUNDS"); do
  for i in "${!ACTIVE[@]}"; do
    for col in "${COLS[@]}"; do
      read -r streams dir <<<"$col"
      rev=(); [ "$dir" = down ] && rev=(-R)
      before=$(cpu_ticks "${CPID[$i]}")
      json="$TMP/iperf-$r-$i-$streams-$dir.json"
      if ! ip netns exec "${CNS[$i]}" iperf3 -c 10.100.0.2 -t "$DURATION" -P "$streams" "${rev[@]}" \
           -J --connect-timeout 5000 >"$json" 2>&1; then
        log "round $r ${ACTIVE[$i]} $col: iperf3 failed ($(head -c 200 "$json"))"
      fi
      after=$(cpu_ticks "${CPID[$i]}")
      python3 - "$json" "${ACTIVE[$i]}" "$col" "$r" "$(( after - before ))" "$TCK" >>"$RESULTS" <<'EOF'
import json, sys
path, pair, col, rnd, ticks, tck = sys.argv[1:]
try:
    end = json.load(open(path))["end"]
    mbps = end["sum_received"]["bits_per_second"] / 1e6
    nbytes = end["sum_received"]["bytes"]
except Exception:
    mbps, nbytes = 0.0, 0
cpu = int(ticks) / int(tck)
print(f"{pair}\t{col}\t{rnd}\t{mbps:.1f}\t{cpu:.2f}\t{nbytes}")
EOF
      tail -1 "$RESULTS" | awk -F'\t' '{printf "    round %s %-8s %-7s %8s Mbit/s  client cpu %s s\n", $3, $1, $2, $4, $5}' >&2
    done
  done
done

# ---------------------------------------------------------------- report
{
  echo "# tunnel benchmark $(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) cores, iperf3 TCP ${DURATION} s, median of ${ROUNDS} interleaved round(s), MTU 1420"
  for i in "${!ACTIVE[@]}"; do
    p=${ACTIVE[$i]}
    echo "# ${p}: $(impl_name "${p%%-*}") → $(impl_name "${p##*-}")"
  done
  python3 - "$RESULTS" <<'EOF'
import sys, statistics
from collections import defaultdict
cols = ["1 up", "4 up", "1 down", "4 down"]
mbps, cpu, nbytes = defaultdict(list), defaultdict(float), defaultdict(int)
order = []
for line in open(sys.argv[1]):
    pair, col, rnd, m, c, b = line.rstrip("\n").split("\t")
    if pair not in order:
        order.append(pair)
    mbps[pair, col].append(float(m))
    cpu[pair, col] += float(c)
    nbytes[pair, col] += int(b)
med = {k: statistics.median(v) for k, v in mbps.items()}
w = 10
print()
print("Throughput, Mbit/s at the receiver (median); up = client→server, down = server→client (-R)")
print(f"{'pair':<10}" + "".join(f"{c:>{w}}" for c in cols))
for p in order:
    print(f"{p:<10}" + "".join(f"{med.get((p, c), 0):>{w}.0f}" for c in cols))
print()
print("Client CPU seconds per GB received (all rounds)")
print(f"{'pair':<10}" + "".join(f"{c:>{w}}" for c in cols))
for p in order:
    cells = []
    for c in cols:
        gb = nbytes[p, c] / 1e9
        cells.append(f"{cpu[p, c] / gb:>{w}.2f}" if gb > 0 else f"{'-':>{w}}")
    print(f"{p:<10}" + "".join(cells))
gh = [p for p in order if p.startswith("gh-")]
if gh:
    print()
    print("Ratios gatehouse / other pair (throughput; > 1 means gatehouse is faster;")
    print("* = same server implementation, the like-for-like comparison)")
    print(f"{'':<20}" + "".join(f"{c:>{w}}" for c in cols))
    for g in gh:
        for p in order:
            if p.startswith("gh-"):
                continue
            cells = []
            for c in cols:
                a, b = med.get((g, c), 0), med.get((p, c), 0)
                cells.append(f"{a / b:>{w}.2f}" if b > 0 else f"{'-':>{w}}")
            same = "*" if p.split("-")[1] == g.split("-")[1] else " "
            print(f"{same}{g + ' / ' + p:<19}" + "".join(cells))
EOF
  echo
  echo "Handshake: round trip of the first ping through a fresh tunnel (the clients start the handshake"
  echo "on the first packet, so it holds handshake + one round trip; process start-up is not in it)."
  echo "gatehouse's log times are from its own lines, and include the wait for that first packet."
  for i in "${!ACTIVE[@]}"; do
    printf '%-10s %8s ms  %s\n' "${ACTIVE[$i]}" "${HS_MS[$i]}" "${HS_NOTE[$i]}"
  done
}
