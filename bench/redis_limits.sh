#!/usr/bin/env bash
# Shared rate limits on Redis, measured with real processes on loopback:
#  1. accuracy: 3 gateways behind one redis-server, 100 r/s + burst 20 per
#     client, 4x overload (400 r/s) spread over the three for 10 s; expected
#     accepted = rate x time + burst = 1020 (goal: within 5 %);
#  2. cost: one gateway (--workers 1, pinned) under wrk with a never-
#     triggering limit on the memory store vs on Redis: req/s, p50, p99 and
#     CPU time per request of the gateway and of redis-server (from /proc);
#  3. outage: redis-server killed after 3 s and restarted after 6 s under
#     200 r/s; the slowest request against the 50 ms deadline, statuses per
#     second for fail_open and fail_closed.
#
#   bench/redis_limits.sh
#   DURATION=20 CONNS=50 bench/redis_limits.sh
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-10}
CONNS=${CONNS:-50}
PROXY_CPU=${PROXY_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}

need() { command -v "$1" >/dev/null 2>&1; }
if ! need redis-server || ! need wrk; then
  apt-get update -qq && apt-get install -y -qq redis-server wrk >/dev/null
fi
cargo build --release --quiet
BIN=target/release/portcullis

WORK=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
REDIS_PORT=$(free_port)
start_redis() {
  redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no --dir "$WORK" >/dev/null &
  REDIS_PID=$!
  PIDS+=("$REDIS_PID")
  for _ in $(seq 100); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && return; sleep 0.05; done
  echo "redis-server did not start" >&2; exit 1
}
start_redis
head -c 32 /dev/urandom | base64 > "$WORK/secret"

# gateway NAME PORT STORE MODE [taskset cpu] -> starts it, records its PID in GW_PID
gateway() {
  local name=$1 port=$2 store=$3 mode=$4 cpu=${5:-}
  local admin; admin=$(free_port)
  cat > "$WORK/$name.yaml" <<YAML
admin: { address: 127.0.0.1:$admin }
server: { access_log: false }
state:
  redis: { url: "redis://127.0.0.1:$REDIS_PORT/0", key_secret_file: "$WORK/secret", timeout: 50ms, breaker_interval: 1s, share_deny_list: false }
listeners: [{ name: web, address: "127.0.0.1:$port" }]
policies:
  - name: accuracy
    rate_limit:
      limits: [{ rate: 100, per: 1s, burst: 20 }]
      store: { backend: $store, on_failure: $mode, replicas: 3 }
  - name: never
    rate_limit:
      limits: [{ rate: 1000000000, per: 1s }]
      max_keys: 100000
      store: { backend: $store, on_failure: $mode, replicas: 3 }
routes:
  - { name: accuracy, match: { path: { prefix: /accuracy } }, policies: [accuracy], direct_response: { body: "ok\n" } }
  - { name: cost, match: { path: { prefix: / } }, policies: [never], direct_response: { body: "ok\n" } }
YAML
  if [ -n "$cpu" ]; then
    taskset -c "$cpu" "$BIN" run --config "$WORK/$name.yaml" --workers 1 2>"$WORK/$name.log" &
  else
    "$BIN" run --config "$WORK/$name.yaml" --workers 1 2>"$WORK/$name.log" &
  fi
  GW_PID=$!
  PIDS+=("$GW_PID")
  for _ in $(seq 100); do
    curl -s -o /dev/null "http://127.0.0.1:$port/" && return
    sleep 0.05
  done
  echo "gateway $name did not start:"; cat "$WORK/$name.log"; exit 1
}

echo "== 1. accuracy: 3 gateways, one Redis, 100 r/s + burst 20, 400 r/s for ${DURATION}s"
P1=$(free_port); P2=$(free_port); P3=$(free_port)
gateway a "$P1" redis fail_open; A_PID=$GW_PID
gateway b "$P2" redis fail_open
gateway c "$P3" redis fail_open
sleep 1.2   # let the limit return to rest after the readiness probes
OUT=$(python3 bench/redis_load.py 400 "$DURATION" "$P1,$P2,$P3" /accuracy)
echo "$OUT" | python3 -c '
import json,sys
r=json.load(sys.stdin); d='"$DURATION"'
exp=100*d+20
sent, acc, p50, p99 = r["sent"], r["accepted"], r["p50_ms"], r["p99_ms"]
print(f"sent {sent}  accepted {acc}  expected {exp}  error {100*(acc-exp)/exp:+.2f} %  p50 {p50} ms  p99 {p99} ms")'

echo
echo "== 2. cost: one gateway (--workers 1, cpu $PROXY_CPU), wrk -c$CONNS ${DURATION}s, limit never triggers"
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
TCK=$(getconf CLK_TCK)
run_wrk() {
  local port=$1 pid=$2
  wrk -t1 -c"$CONNS" -d2s "http://127.0.0.1:$port/" >/dev/null 2>&1
  local c0 r0; c0=$(cpu_ticks "$pid"); r0=$(cpu_ticks "$REDIS_PID")
  local out; out=$(taskset -c "$LOAD_CPU" wrk -t1 -c"$CONNS" -d"${DURATION}s" --latency "http://127.0.0.1:$port/")
  local c1 r1; c1=$(cpu_ticks "$pid"); r1=$(cpu_ticks "$REDIS_PID")
  local reqs; reqs=$(echo "$out" | awk '/requests in/ {print $1}')
  local rps; rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
  local p50; p50=$(echo "$out" | awk '$1=="50%" {print $2}')
  local p99; p99=$(echo "$out" | awk '$1=="99%" {print $2}')
  local non2xx; non2xx=$(echo "$out" | awk '/Non-2xx/ {print $4}')
  printf '%-8s %10s %10s %10s %12s %14s %8s\n' "$3" "$rps" "$p50" "$p99" \
    "$(awk -v a="$c0" -v b="$c1" -v t="$TCK" -v n="$reqs" 'BEGIN { printf "%.2f", (b-a)/t*1e6/n }')" \
    "$(awk -v a="$r0" -v b="$r1" -v t="$TCK" -v n="$reqs" 'BEGIN { printf "%.2f", (b-a)/t*1e6/n }')" "${non2xx:-0}"
}
printf '%-8s %10s %10s %10s %12s %14s %8s\n' store "req/s" p50 p99 "gw µs/req" "redis µs/req" non2xx
PM=$(free_port); gateway mem "$PM" memory fail_open "$PROXY_CPU"; M_PID=$GW_PID
run_wrk "$PM" "$M_PID" memory
kill "$M_PID"
PR=$(free_port); gateway red "$PR" redis fail_open "$PROXY_CPU"; R_PID=$GW_PID
run_wrk "$PR" "$R_PID" redis

echo
echo "== 3. outage: 200 r/s to gateway a, redis-server killed at 3 s, restarted at 6 s (deadline 50 ms)"
for mode in fail_open fail_closed; do
  PO=$(free_port); gateway "out-$mode" "$PO" redis "$mode"
  python3 bench/redis_load.py 200 9 "$PO" /accuracy > "$WORK/outage.json" &
  LOAD=$!
  sleep 3.2; kill "$REDIS_PID"; wait "$REDIS_PID" 2>/dev/null || true
  sleep 3; start_redis
  wait "$LOAD"
  OUT=$(cat "$WORK/outage.json")
  echo "$OUT" | python3 -c '
import json,sys
r=json.load(sys.stdin)
mx, p99, st, ps = r["max_ms"], r["p99_ms"], r["statuses"], r["per_second"]
print(f"'"$mode"': max latency {mx} ms  p99 {p99} ms  statuses {st}")
for k in sorted(ps, key=int): print(f"   second {k}: {ps[k]}")'
done
