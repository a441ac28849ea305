#!/usr/bin/env bash
# No-root client benchmark: port-forward and SOCKS5 throughput, both directions, through a
# WireGuard gateway run by Debian's wireguard-go, compared on the same path with other
# userspace clients and with wireguard-go's own TUN client; resident memory of the no-root
# client idle and under 1,000 connections. Needs root (network namespaces); the clients under
# test run as the unprivileged user nobody where they can.
#
# Path: client ns ── veth ── gateway ns (wireguard-go, iperf3 -s and a TCP source/sink on the
# tunnel address 10.100.0.2). Clients, one at a time, all with the same key and address:
#   gh        gatehouse-noroot (smoltcp): forward 127.0.0.1:15201 → 10.100.0.2:5201, SOCKS5
#   onetun    onetun (smoltcp): forward only (it has no SOCKS5)
#   wireproxy wireproxy (gVisor netstack): forward and SOCKS5
#   tun       wireguard-go TUN client in the client ns (needs root): iperf3/sink directly
# Forward throughput: iperf3 -c 127.0.0.1 -p 15201 (up) and -R (down). SOCKS5 throughput: a
# small Python source/sink through the proxy (up: client sends, down: server sends), bytes
# counted at the receiver. Median of the rounds; ratios gh / other printed.
#
# Usage: tests/bench/netstack.sh [--quick] [--duration S] [--rounds N] [--clients gh,onetun,wireproxy,tun]
#                                [--no-install]
# Tools cached under tests/bench/.cache (git-ignored): onetun (cargo install onetun --locked),
# wireproxy (go install / go build from the module cache). Debian packages: iperf3
# wireguard-go wireguard-tools iproute2 python3 util-linux (setpriv).
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
CACHE="$HERE/.cache"
DURATION=10
ROUNDS=3
CLIENTS="gh,onetun,wireproxy,tun"
INSTALL=1
CONNS=1000

usage() { sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) ROUNDS=1; DURATION=3 ;;
    --duration) DURATION="$2"; shift ;;
    --rounds) ROUNDS="$2"; shift ;;
    --clients) CLIENTS="$2"; shift ;;
    --no-install) INSTALL=0 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "unknown argument: $1" >&2; usage >&2; exit 2 ;;
  esac
  shift
done
[[ "$DURATION" =~ ^[0-9]+$ && "$ROUNDS" =~ ^[0-9]+$ ]] || { echo "duration/rounds must be numbers" >&2; exit 2; }
[ "$(id -u)" -eq 0 ] || { echo "error: needs root (network namespaces)" >&2; exit 1; }
log() { echo "==> $*" >&2; }

ONETUN="$CACHE/cargo-root/bin/onetun"
WIREPROXY="$CACHE/gobin/wireproxy"
GH="${GATEHOUSE_NOROOT_BIN:-${CARGO_TARGET_DIR:-$ROOT/target}/release/gatehouse-noroot}"

install_tools() {
  mkdir -p "$CACHE"
  if [ ! -x "$ONETUN" ] && [[ ",$CLIENTS," == *,onetun,* ]]; then
    log "cargo install onetun --locked"
    cargo install onetun --locked --root "$CACHE/cargo-root" --target-dir "$CACHE/cargo-target-onetun" \
      || log "onetun install failed: skipped"
  fi
  if [ ! -x "$WIREPROXY" ] && [[ ",$CLIENTS," == *,wireproxy,* ]] && command -v go >/dev/null; then
    log "go install github.com/pufferffish/wireproxy/cmd/wireproxy@latest"
    export GOBIN="$CACHE/gobin" GOPATH="$CACHE/gopath" GOFLAGS=-modcacherw
    if ! go install github.com/pufferffish/wireproxy/cmd/wireproxy@latest; then
      # Some module proxies refuse the version list but serve a pinned version: build that.
      go mod download github.com/pufferffish/wireproxy@v1.0.9 2>/dev/null || true
      local src="$GOPATH/pkg/mod/github.com/pufferffish/wireproxy@v1.0.9"
      if [ -d "$src" ]; then
        (cd "$src" && go build -o "$WIREPROXY" ./cmd/wireproxy) || log "wireproxy build failed: skipped"
      else
        log "wireproxy not available from the Go proxy: skipped"
      fi
    fi
  fi
  if [ -z "${GATEHOUSE_NOROOT_BIN:-}" ]; then
    log "cargo build --release -p gatehouse-netstack --bins"
    (cd "$ROOT" && cargo build --release -q -p gatehouse-netstack --bins)
  fi
}
[ "$INSTALL" -eq 1 ] && install_tools
[ -x "$GH" ] || { echo "error: $GH not built (cargo build --release -p gatehouse-netstack --bins)" >&2; exit 1; }

TMP=$(mktemp -d /tmp/gatehouse-nsbench.XXXXXX)
chmod 755 "$TMP"
PIDS=()
C="ghn-$$-c"; S="ghn-$$-s"; SIF="gns$$"; CIF="gnc$$"
cleanup() {
  local p
  for p in "${PIDS[@]}"; do kill -INT "$p" 2>/dev/null || true; done
  sleep 0.3
  for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  ip netns del "$C" 2>/dev/null || true
  ip netns del "$S" 2>/dev/null || true
  rm -f "/var/run/wireguard/$SIF.sock" "/var/run/wireguard/$CIF.sock"
  [ -n "${KEEP:-}" ] || rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

wait_for() { # wait_for SECONDS CMD…
  local deadline=$(( $(date +%s%N) + $1 * 1000000000 )); shift
  until "$@" >/dev/null 2>&1; do
    [ "$(date +%s%N)" -lt $deadline ] || return 1
    sleep 0.05
  done
}

# ---------------------------------------------------------------- path
ip netns add "$C"; ip netns add "$S"
ip -n "$C" link set lo up; ip -n "$S" link set lo up
ip -n "$C" link add vc type veth peer name vs netns "$S"
ip -n "$C" addr add 10.99.0.1/24 dev vc; ip -n "$S" addr add 10.99.0.2/24 dev vs
ip -n "$C" link set vc up; ip -n "$S" link set vs up
(umask 077; wg genkey >"$TMP/c.key"; wg genkey >"$TMP/s.key")
CPRIV=$(cat "$TMP/c.key"); CPUB=$(wg pubkey <"$TMP/c.key"); SPUB=$(wg pubkey <"$TMP/s.key")
ip netns exec "$S" wireguard-go -f "$SIF" >"$TMP/gw.log" 2>&1 &
PIDS+=("$!")
wait_for 10 test -S "/var/run/wireguard/$SIF.sock" || { echo "gateway wireguard-go did not start" >&2; exit 1; }
ip netns exec "$S" wg set "$SIF" private-key "$TMP/s.key" listen-port 51820 peer "$CPUB" allowed-ips 10.100.0.1/32
ip -n "$S" addr add 10.100.0.2/24 dev "$SIF"; ip -n "$S" link set "$SIF" mtu 1420 up
ip netns exec "$S" iperf3 -s -B 10.100.0.2 -p 5201 >"$TMP/iperf3-s.log" 2>&1 &
PIDS+=("$!")

cat >"$TMP/blast.py" <<'EOF'
# TCP source/sink and its client (direct or through SOCKS5). Server: per connection, the first
# byte says 'U' (client uploads: count until EOF, reply with the count) or 'D' (send for the
# given seconds), or 'H' (hold: do nothing until closed).
import socket, struct, sys, threading, time
CH = b"\0" * 262144
def serve(port):
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("10.100.0.2", port)); ls.listen(4096)
    def one(c):
        try:
            mode = c.recv(1)
            if mode == b"U":
                n = 0
                while True:
                    b = c.recv(1 << 20)
                    if not b: break
                    n += len(b)
                c.sendall(struct.pack("!Q", n))
            elif mode == b"D":
                secs = struct.unpack("!d", c.recv(8))[0]
                end = time.time() + secs
                while time.time() < end:
                    c.sendall(CH)
            elif mode == b"H":
                while c.recv(4096): pass
        except OSError:
            pass
        finally:
            c.close()
    while True:
        c, _ = ls.accept()
        threading.Thread(target=one, args=(c,), daemon=True).start()
def connect(via):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if via == "direct":
        s.connect(("10.100.0.2", 9000)); return s
    host, port = via.rsplit(":", 1)
    s.connect((host, int(port)))
    s.sendall(b"\x05\x01\x00")
    if s.recv(2) != b"\x05\x00": raise SystemExit("socks greeting refused")
    s.sendall(b"\x05\x01\x00\x01" + socket.inet_aton("10.100.0.2") + struct.pack("!H", 9000))
    r = b""
    while len(r) < 10:
        b = s.recv(10 - len(r))
        if not b: raise SystemExit("socks closed")
        r += b
    if r[1] != 0: raise SystemExit("socks reply %d" % r[1])
    return s
def up(via, secs):
    s = connect(via); s.sendall(b"U")
    t0 = time.time(); end = t0 + secs
    while time.time() < end:
        s.sendall(CH)
    s.shutdown(socket.SHUT_WR)
    n = struct.unpack("!Q", s.recv(8))[0]
    return n * 8 / (time.time() - t0) / 1e6
def down(via, secs):
    s = connect(via); s.sendall(b"D" + struct.pack("!d", secs))
    n = 0; t0 = time.time()
    while True:
        b = s.recv(1 << 20)
        if not b: break
        n += len(b)
    return n * 8 / (time.time() - t0) / 1e6
def hold(via, count, ready_file):
    conns = []
    for i in range(count):
        s = connect(via); s.sendall(b"H"); conns.append(s)
    open(ready_file, "w").write(str(len(conns)))
    time.sleep(3600)
if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "serve": serve(9000)
    elif cmd == "up": print("%.1f" % up(sys.argv[2], float(sys.argv[3])))
    elif cmd == "down": print("%.1f" % down(sys.argv[2], float(sys.argv[3])))
    elif cmd == "hold": hold(sys.argv[2], int(sys.argv[3]), sys.argv[4])
EOF
ip netns exec "$S" python3 "$TMP/blast.py" serve >"$TMP/blast-s.log" 2>&1 &
PIDS+=("$!")
wait_for 10 ip netns exec "$S" sh -c "ss -ltn | grep -q 10.100.0.2:5201 && ss -ltn | grep -q 10.100.0.2:9000"

cat >"$TMP/client.conf" <<EOF
[Interface]
PrivateKey = $CPRIV
Address = 10.100.0.1/32
MTU = 1420

[Peer]
PublicKey = $SPUB
AllowedIPs = 10.100.0.0/24
Endpoint = 10.99.0.2:51820
PersistentKeepalive = 25
EOF
cp "$GH" "$TMP/gatehouse-noroot"; chmod 755 "$TMP/gatehouse-noroot"
chown 65534:65534 "$TMP/client.conf"; chmod 600 "$TMP/client.conf"
cat >"$TMP/wireproxy.conf" <<EOF
[Interface]
PrivateKey = $CPRIV
Address = 10.100.0.1/32
MTU = 1420

[Peer]
PublicKey = $SPUB
AllowedIPs = 10.100.0.0/24
Endpoint = 10.99.0.2:51820
PersistentKeepalive = 25

[TCPClientTunnel]
BindAddress = 127.0.0.1:15201
Target = 10.100.0.2:5201

[Socks5]
BindAddress = 127.0.0.1:1080
EOF
chown 65534:65534 "$TMP/wireproxy.conf"; chmod 600 "$TMP/wireproxy.conf"
AS_NOBODY=(setpriv --reuid 65534 --regid 65534 --clear-groups --)

# ---------------------------------------------------------------- clients
CLIENT_PID=""
start_client() { # start_client NAME: sets CLIENT_PID, FWD (host:port or ""), SOCKS (or "")
  local name=$1
  FWD=""; SOCKS=""
  case "$name" in
    gh)
      ip netns exec "$C" "${AS_NOBODY[@]}" "$TMP/gatehouse-noroot" "$TMP/client.conf" \
        --socks 127.0.0.1:1080 --http off --forward 127.0.0.1:15201=10.100.0.2:5201 \
        --forward 127.0.0.1:19000=10.100.0.2:9000 ${GH_ARGS:-} >"$TMP/gh.log" 2>&1 &
      CLIENT_PID=$!; FWD=127.0.0.1:15201; SOCKS=127.0.0.1:1080 ;;
    onetun)
      ip netns exec "$C" "${AS_NOBODY[@]}" "$ONETUN" 127.0.0.1:15201:10.100.0.2:5201 \
        127.0.0.1:19000:10.100.0.2:9000 \
        --endpoint-addr 10.99.0.2:51820 --endpoint-public-key "$SPUB" --private-key "$CPRIV" \
        --source-peer-ip 10.100.0.1 --keep-alive 25 --log warn >"$TMP/onetun.log" 2>&1 &
      CLIENT_PID=$!; FWD=127.0.0.1:15201 ;;
    wireproxy)
      ip netns exec "$C" "${AS_NOBODY[@]}" "$WIREPROXY" -c "$TMP/wireproxy.conf" >"$TMP/wireproxy.log" 2>&1 &
      CLIENT_PID=$!; FWD=127.0.0.1:15201; SOCKS=127.0.0.1:1080 ;;
    tun)
      rm -f "/var/run/wireguard/$CIF.sock"
      ip netns exec "$C" wireguard-go -f "$CIF" >"$TMP/tun.log" 2>&1 &
      CLIENT_PID=$!
      wait_for 10 test -S "/var/run/wireguard/$CIF.sock"
      ip netns exec "$C" wg set "$CIF" private-key "$TMP/c.key" peer "$SPUB" endpoint 10.99.0.2:51820 \
        allowed-ips 10.100.0.0/24 persistent-keepalive 25
      ip -n "$C" addr add 10.100.0.1/24 dev "$CIF"; ip -n "$C" link set "$CIF" mtu 1420 up
      FWD=10.100.0.2:5201; SOCKS=direct ;;
  esac
  PIDS+=("$CLIENT_PID")
  local hp=${FWD%:*} pp=${FWD##*:}
  # Ready when a TCP connection through it reaches iperf3's port.
  wait_for 20 ip netns exec "$C" python3 -c "import socket; s=socket.create_connection(('$hp', $pp), 3); s.close()" \
    || { log "$name did not come up"; cat "$TMP/$name.log" >&2 || true; return 1; }
  sleep 1
}
stop_client() {
  kill -INT "$CLIENT_PID" 2>/dev/null || true
  for _ in $(seq 30); do kill -0 "$CLIENT_PID" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$CLIENT_PID" 2>/dev/null || true
  wait "$CLIENT_PID" 2>/dev/null || true
  ip -n "$C" link del "$CIF" 2>/dev/null || true
}
rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }

iperf() { # iperf HOST:PORT [-R] → Mbit/s at the receiver
  local hp=$1; shift
  ip netns exec "$C" iperf3 -c "${hp%:*}" -p "${hp##*:}" -t "$DURATION" "$@" -J --connect-timeout 5000 2>/dev/null \
    | python3 -c 'import json,sys
try: print("%.1f" % (json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"]/1e6))
except Exception: print("0")'
}
blast() { # blast up|down VIA → Mbit/s at the receiver
  timeout $(( DURATION + 30 )) ip netns exec "$C" python3 "$TMP/blast.py" "$1" "$2" "$DURATION" 2>/dev/null || echo 0
}

IFS=, read -r -a WANT <<<"$CLIENTS"
ACTIVE=()
for n in "${WANT[@]}"; do
  case "$n" in
    gh) ACTIVE+=(gh) ;;
    onetun) [ -x "$ONETUN" ] && ACTIVE+=(onetun) || log "onetun missing: skipped" ;;
    wireproxy) [ -x "$WIREPROXY" ] && ACTIVE+=(wireproxy) || log "wireproxy missing: skipped" ;;
    tun) ACTIVE+=(tun) ;;
    *) echo "unknown client $n" >&2; exit 2 ;;
  esac
done

RESULTS="$TMP/results.tsv"; : >"$RESULTS"
COLS=("fwd up" "fwd down" "socks up" "socks down")
log "clients: ${ACTIVE[*]}; ${DURATION} s per run, ${ROUNDS} round(s)"
for r in $(seq "$ROUNDS"); do
  for n in "${ACTIVE[@]}"; do
    start_client "$n" || { printf '%s\tfwd up\t%s\t0\n' "$n" "$r" >>"$RESULTS"; continue; }
    v=$(iperf "$FWD"); printf '%s\tfwd up\t%s\t%s\n' "$n" "$r" "$v" >>"$RESULTS"
    v=$(iperf "$FWD" -R); printf '%s\tfwd down\t%s\t%s\n' "$n" "$r" "$v" >>"$RESULTS"
    if [ -n "$SOCKS" ]; then
      v=$(blast up "$SOCKS"); printf '%s\tsocks up\t%s\t%s\n' "$n" "$r" "$v" >>"$RESULTS"
      v=$(blast down "$SOCKS"); printf '%s\tsocks down\t%s\t%s\n' "$n" "$r" "$v" >>"$RESULTS"
    fi
    tail -n 4 "$RESULTS" | grep "^$n	" | awk -F'\t' '{printf "    round %s %-10s %-10s %8s Mbit/s\n", $3, $1, $2, $4}' >&2
    stop_client
  done
done

# Memory: idle, and holding CONNS connections through SOCKS5 (gh, wireproxy) or the forward
# (onetun).
MEM="$TMP/mem.tsv"; : >"$MEM"
for n in "${ACTIVE[@]}"; do
  [ "$n" = tun ] && continue
  start_client "$n" || continue
  idle=$(rss_kib "$CLIENT_PID")
  via=$SOCKS; [ -z "$via" ] && via=onetun-forward
  rm -f "$TMP/held"
  if [ "$via" = onetun-forward ]; then
    # onetun: connections through its forward to the sink.
    ip netns exec "$C" python3 -c "
import socket, time
cs = []
for i in range($CONNS):
    s = socket.create_connection(('127.0.0.1', 19000), 10); s.sendall(b'H'); cs.append(s)
open('$TMP/held', 'w').write(str(len(cs))); time.sleep(3600)" >"$TMP/hold.log" 2>&1 &
  else
    ip netns exec "$C" python3 "$TMP/blast.py" hold "$via" "$CONNS" "$TMP/held" >"$TMP/hold.log" 2>&1 &
  fi
  hp=$!; PIDS+=("$hp")
  if wait_for 120 test -s "$TMP/held"; then
    sleep 2; busy=$(rss_kib "$CLIENT_PID"); held=$(cat "$TMP/held")
  else
    busy=$(rss_kib "$CLIENT_PID"); held="failed ($(tail -c 200 "$TMP/hold.log" | tr '\n' ' '))"
  fi
  kill "$hp" 2>/dev/null || true; wait "$hp" 2>/dev/null || true
  printf '%s\t%s\t%s\t%s\n' "$n" "$idle" "$busy" "$held" >>"$MEM"
  stop_client
done

# ---------------------------------------------------------------- report
{
  echo "# no-root client benchmark $(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) cores, gateway: Debian wireguard-go, ${DURATION} s per run, median of ${ROUNDS} round(s), MTU 1420"
  echo "# gh = gatehouse-noroot (smoltcp), onetun $("$ONETUN" --version 2>/dev/null | awk '{print $2}'), wireproxy, tun = wireguard-go TUN client (kernel TCP)"
  echo "# fwd = TCP port forward (iperf3), socks = SOCKS5 CONNECT (Python source/sink); up = client→gateway"
  python3 - "$RESULTS" "$MEM" <<'EOF'
import sys, statistics
from collections import defaultdict
cols = ["fwd up", "fwd down", "socks up", "socks down"]
vals, order = defaultdict(list), []
for line in open(sys.argv[1]):
    n, col, r, v = line.rstrip("\n").split("\t")
    if n not in order: order.append(n)
    vals[n, col].append(float(v))
med = {k: statistics.median(v) for k, v in vals.items()}
w = 12
print()
print("Throughput, Mbit/s at the receiver (median)")
print(f"{'client':<11}" + "".join(f"{c:>{w}}" for c in cols))
for n in order:
    print(f"{n:<11}" + "".join(f"{med[n, c]:>{w}.1f}" if (n, c) in med else f"{'n/a':>{w}}" for c in cols))
if "gh" in order:
    print()
    print("Ratios gh / other (> 1: gatehouse-noroot is faster)")
    for n in order:
        if n == "gh": continue
        cells = []
        for c in cols:
            a, b = med.get(("gh", c)), med.get((n, c))
            cells.append(f"{a / b:>{w}.2f}" if a is not None and b else f"{'n/a':>{w}}")
        print(f"{'gh / ' + n:<11}" + "".join(cells))
print()
print("Resident memory of the client (MiB): idle, holding the connections")
for line in open(sys.argv[2]):
    n, idle, busy, held = line.rstrip("\n").split("\t")
    print(f"{n:<11}{int(idle)/1024:>8.1f}{int(busy)/1024:>10.1f}   connections held: {held}")
EOF
}
