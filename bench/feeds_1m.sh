#!/usr/bin/env bash
# Memory and swap time of a 1,000,000-CIDR threat feed, with the real
# binary: one gateway with an empty feed, one with 1M /24s (both files,
# same config otherwise); prints RSS of each, bytes per CIDR, the feed's
# own parse + build + swap time (portcullis_feed_build_microseconds) and a
# request from an unlisted address.
#
#   bench/feeds_1m.sh            # N=1000000
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-1000000}
cargo build --release --quiet
BIN=target/release/portcullis
WORK=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

python3 - "$N" > "$WORK/big.netset" <<'PY'
import sys
n = int(sys.argv[1])
for i in range(n):
    v = 0x01000000 + (i << 8)
    print(f"{v>>24 & 255}.{v>>16 & 255}.{v>>8 & 255}.0/24")
PY
: > "$WORK/empty.netset"

run() {
  local name=$1 list=$2 port admin
  port=$(free_port); admin=$(free_port)
  cat > "$WORK/$name.yaml" <<YAML
admin: { address: 127.0.0.1:$admin }
server: { access_log: false }
feeds: [{ name: big, file: "$list", format: netset, max_entries: 2000000, refresh: 1h }]
listeners: [{ name: web, address: "127.0.0.1:$port", policies: [feed] }]
policies: [{ name: feed, threat_feed: { feeds: [big] } }]
routes: [{ name: all, match: { path: { prefix: / } }, direct_response: { body: "ok\n" } }]
YAML
  "$BIN" run --config "$WORK/$name.yaml" --workers 1 2>"$WORK/$name.log" &
  local pid=$!; PIDS+=("$pid")
  local want=$3
  for _ in $(seq 1200); do
    local got
    got=$(curl -s "http://127.0.0.1:$admin/metrics" | awk '/^portcullis_feed_entries\{feed="big"\}/ {print $2}')
    [ "${got:-x}" = "$want" ] && break
    sleep 0.1
  done
  local us rss
  us=$(curl -s "http://127.0.0.1:$admin/metrics" | awk '/^portcullis_feed_build_microseconds/ {print $2}')
  sleep 0.5
  rss=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")
  echo "$name $rss $us $port"
}
read -r _ RSS0 _ _ <<<"$(run empty "$WORK/empty.netset" 0)"
read -r _ RSS1 US1 PORT1 <<<"$(run big "$WORK/big.netset" "$N")"
echo "entries: $N"
echo "RSS empty feed: ${RSS0} KiB   RSS with the feed: ${RSS1} KiB"
awk -v a="$RSS0" -v b="$RSS1" -v n="$N" 'BEGIN { printf "memory per CIDR: %.1f bytes\n", (b-a)*1024/n }'
awk -v u="$US1" 'BEGIN { printf "parse + build + swap: %.0f ms\n", u/1000 }'
echo "unlisted 127.0.0.1 -> $(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT1/") (expect 200)"
