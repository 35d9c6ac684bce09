#!/usr/bin/env bash
# Instructions per request of one Portcullis binary under callgrind: stable
# on a loaded machine (unlike time), so it is the A/B figure for a code
# change. Instrumentation is on only while REQUESTS requests are driven
# (after a warm-up), all threads counted (the access-log writer included).
#
#   bench/callgrind_per_request.sh                    # target/release/portcullis, plain
#   BIN=/tmp/portcullis-before LOGGED=1 bench/callgrind_per_request.sh
#   H2=1 bench/callgrind_per_request.sh               # h2c instead of HTTP/1.1
#   KEEP=/tmp/cg.out bench/callgrind_per_request.sh   # keep the profile (callgrind_annotate)
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
BIN=${BIN:-target/release/portcullis}
REQUESTS=${REQUESTS:-20000}
CONNS=${CONNS:-50}
LOGGED=${LOGGED:-0}
H2=${H2:-0}
need valgrind || { apt-get update -qq && apt-get install -y -qq valgrind >/dev/null; }
bench_tools

B=${BASE_PORT:-18401}
UP=$B; PC=$((B+1)); ADM=$((B+2))
ports_free $UP $PC $ADM
WORK=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT

mkdir -p "$WORK/up" "$WORK/pc"
cat > "$WORK/up/nginx.conf" <<CONF
worker_processes 1;
master_process off;
error_log $WORK/up/error.log error;
pid $WORK/up/nginx.pid;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  server { listen 127.0.0.1:$UP; location / { return 200 "hello from upstream\n"; } }
}
CONF
nginx -p "$WORK/up" -c "$WORK/up/nginx.conf" -g 'daemon off;' &
PIDS+=($!)

LISTENER="{ name: web, address: 127.0.0.1:$PC }"
SERVER="server: { access_log: false }"
if [ "$LOGGED" = 1 ]; then
  LISTENER="{ name: web, address: 127.0.0.1:$PC, policies: [allow, rl], http: { max_body_bytes: 1048576 } }"
  SERVER="logging:
  access: { sink: { kind: file, path: $WORK/access.log, max_bytes: 10737418240 } }
policies:
  - { name: allow, ip_filter: { allow: [127.0.0.0/8] } }
  - { name: rl, rate_limit: { limits: [{ rate: 1000000, per: 1s, burst: 1000000 }] } }"
fi
cat > "$WORK/pc/portcullis.yaml" <<CONF
admin: { address: 127.0.0.1:$ADM }
$SERVER
listeners: [$LISTENER]
backends:
  - name: app
    endpoints: [{ address: 127.0.0.1:$UP }]
routes:
  - name: all
    backend: app
CONF
OUT=${KEEP:-$WORK/callgrind.out}
valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$OUT" \
  "$BIN" run --config "$WORK/pc/portcullis.yaml" --workers 1 >/dev/null 2>"$WORK/valgrind.log" &
VG_PID=$!
PIDS+=($VG_PID)
wait_port $UP; wait_port $PC

PROTO=(--h1); if [ "$H2" = 1 ]; then PROTO=(-m 10); fi
h2load "${PROTO[@]}" -n 2000 -c "$CONNS" "http://127.0.0.1:$PC/" >/dev/null   # warm-up
callgrind_control -i on "$VG_PID" >/dev/null 2>&1
out=$(h2load "${PROTO[@]}" -n "$REQUESTS" -c "$CONNS" "http://127.0.0.1:$PC/")
callgrind_control -i off "$VG_PID" >/dev/null 2>&1
callgrind_control -d "$VG_PID" >/dev/null 2>&1
ok=$(echo "$out" | awk '/^requests:/ {print $8}')
# The dump is written asynchronously: wait (bounded) for its totals line.
for _ in $(seq 1 100); do
  if ls "$OUT"* >/dev/null 2>&1 && grep -q '^totals:' "$OUT"*; then break; fi
  sleep 0.1
done
ir=$(cat "$OUT"* | awk '/^totals:/ {s += $2} END {print s}')
awk -v ir="$ir" -v n="$ok" -v bin="$BIN" 'BEGIN { printf "%s: %d requests, %.0f instructions per request\n", bin, n, ir/n }'
