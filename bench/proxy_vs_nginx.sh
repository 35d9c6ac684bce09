#!/usr/bin/env bash
# Portcullis vs nginx as reverse proxies in front of the same fast upstream,
# each pinned to one core with one worker, under the same wrk load, in one run.
# Prints req/s, p50, p99, CPU time per request (from /proc) and the ratios,
# then portcullis's idle RSS and its RSS holding 10,000 idle connections.
#
#   bench/proxy_vs_nginx.sh            # 50 connections, 10 s each
#   DURATION=20 CONNS=100 bench/proxy_vs_nginx.sh
#   PORTCULLIS_EXTRA=bench/extra.yaml  # merge policies etc. (see bench/README.md)
#   LIMITS=on bench/proxy_vs_nginx.sh  # both: a rate limit that never triggers,
#                                      # an IP allow-list and a 1 MiB body limit
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-10}
CONNS=${CONNS:-50}
PROXY_CPU=${PROXY_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}
ACCESS_LOG=${ACCESS_LOG:-off}   # on: both proxies write an access log to a file
LIMITS=${LIMITS:-off}           # on: rate limit + allow-list + body limit on both

need() { command -v "$1" >/dev/null 2>&1; }
if ! need nginx || ! need wrk; then
  apt-get update -qq && apt-get install -y -qq nginx-light wrk >/dev/null
fi
cargo build --release --quiet
BIN=target/release/portcullis

WORK=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT

UP_PORT=18081; NGX_PORT=18082; PC_PORT=18083; ADMIN_PORT=18084

# The upstream: nginx answering from memory, on the load generator's core.
mkdir -p "$WORK/up" "$WORK/ngx"
cat > "$WORK/up/nginx.conf" <<CONF
worker_processes 1;
master_process off;
error_log $WORK/up/error.log error;
pid $WORK/up/nginx.pid;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  server { listen 127.0.0.1:$UP_PORT; location / { return 200 "hello from upstream\n"; } }
}
CONF
taskset -c "$LOAD_CPU" nginx -p "$WORK/up" -c "$WORK/up/nginx.conf" -g 'daemon off;' &
PIDS+=($!)

NGX_LOG="access_log off;"
PC_LOG="false"
if [ "$ACCESS_LOG" = on ]; then
  NGX_LOG="access_log $WORK/ngx/access.log;"
  PC_LOG="true"
fi
NGX_LIMITS_HTTP=""; NGX_LIMITS_LOC=""
PC_LISTENER="{ name: web, address: 127.0.0.1:$PC_PORT }"
PC_POLICIES=""
if [ "$LIMITS" = on ]; then
  NGX_LIMITS_HTTP="limit_req_zone \$binary_remote_addr zone=rl:64m rate=1000000r/s; client_max_body_size 1m;"
  NGX_LIMITS_LOC="limit_req zone=rl burst=1000000 nodelay; allow 127.0.0.0/8; deny all;"
  PC_LISTENER="{ name: web, address: 127.0.0.1:$PC_PORT, policies: [allow, rl], http: { max_body_bytes: 1048576 } }"
  PC_POLICIES="policies:
  - { name: allow, ip_filter: { allow: [127.0.0.0/8] } }
  - { name: rl, rate_limit: { limits: [{ rate: 1000000, per: 1s, burst: 1000000 }] } }"
fi
cat > "$WORK/ngx/nginx.conf" <<CONF
worker_processes 1;
master_process off;
error_log $WORK/ngx/error.log error;
pid $WORK/ngx/nginx.pid;
events { worker_connections 20000; }
http {
  $NGX_LOG
  $NGX_LIMITS_HTTP
  keepalive_requests 1000000;
  upstream app { server 127.0.0.1:$UP_PORT; keepalive 128; }
  server {
    listen 127.0.0.1:$NGX_PORT;
    location / {
      $NGX_LIMITS_LOC
      proxy_pass http://app;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host \$host;
      proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
      proxy_set_header X-Real-IP \$remote_addr;
      proxy_set_header X-Request-Id \$request_id;
    }
  }
}
CONF
taskset -c "$PROXY_CPU" nginx -p "$WORK/ngx" -c "$WORK/ngx/nginx.conf" -g 'daemon off;' &
NGX_PID=$!
PIDS+=($NGX_PID)

cat > "$WORK/portcullis.yaml" <<CONF
admin: { address: 127.0.0.1:$ADMIN_PORT }
server: { access_log: $PC_LOG }
listeners: [$PC_LISTENER]
$PC_POLICIES
backends:
  - name: app
    endpoints: [{ address: 127.0.0.1:$UP_PORT }]
routes:
  - name: all
    match: { path: { prefix: / } }
    backend: app
CONF
if [ -n "${PORTCULLIS_EXTRA:-}" ]; then cat "$PORTCULLIS_EXTRA" >> "$WORK/portcullis.yaml"; fi
taskset -c "$PROXY_CPU" "$BIN" run --config "$WORK/portcullis.yaml" --workers 1 \
  >"$WORK/portcullis.access.log" 2>"$WORK/portcullis.log" &
PC_PID=$!
PIDS+=($PC_PID)

wait_port() { for _ in $(seq 1 200); do (echo > /dev/tcp/127.0.0.1/$1) 2>/dev/null && return 0; sleep 0.05; done; echo "port $1 not up" >&2; exit 1; }
wait_port $UP_PORT; wait_port $NGX_PORT; wait_port $PC_PORT

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
TCK=$(getconf CLK_TCK)

# run NAME PORT PID -> "rps p50 p99 cpu_us_per_req"
run() {
  local port=$2 pid=$3
  wrk -t1 -c"$CONNS" -d2s "http://127.0.0.1:$port/" >/dev/null 2>&1   # warm-up: pools, caches
  local c0; c0=$(cpu_ticks "$pid")
  local out; out=$(taskset -c "$LOAD_CPU" wrk -t1 -c"$CONNS" -d"${DURATION}s" --latency "http://127.0.0.1:$port/")
  local c1; c1=$(cpu_ticks "$pid")
  local reqs; reqs=$(echo "$out" | awk '/requests in/ {print $1}')
  local rps; rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
  local p50; p50=$(echo "$out" | awk '$1=="50%" {print $2}')
  local p99; p99=$(echo "$out" | awk '$1=="99%" {print $2}')
  local non2xx; non2xx=$(echo "$out" | awk '/Non-2xx/ {print $4}')
  local cpu_us; cpu_us=$(awk -v a="$c0" -v b="$c1" -v t="$TCK" -v n="$reqs" 'BEGIN { printf "%.2f", (b-a)/t*1e6/n }')
  echo "$rps $p50 $p99 $cpu_us ${non2xx:-0}"
}

to_ms() { awk -v v="$1" 'BEGIN { if (v ~ /us$/) { sub(/us$/,"",v); print v/1000 } else if (v ~ /ms$/) { sub(/ms$/,"",v); print v } else if (v ~ /s$/) { sub(/s$/,"",v); print v*1000 } else print v }'; }

read -r N_RPS N_P50 N_P99 N_CPU N_ERR <<<"$(run nginx $NGX_PORT $NGX_PID)"
read -r P_RPS P_P50 P_P99 P_CPU P_ERR <<<"$(run portcullis $PC_PORT $PC_PID)"

printf '\n%-12s %12s %10s %10s %14s %8s\n' proxy "req/s" p50 p99 "cpu µs/req" non2xx
printf '%-12s %12s %10s %10s %14s %8s\n' nginx "$N_RPS" "$N_P50" "$N_P99" "$N_CPU" "$N_ERR"
printf '%-12s %12s %10s %10s %14s %8s\n' portcullis "$P_RPS" "$P_P50" "$P_P99" "$P_CPU" "$P_ERR"
awk -v a="$P_RPS" -v b="$N_RPS" -v c="$(to_ms "$P_P99")" -v d="$(to_ms "$N_P99")" -v e="$P_CPU" -v f="$N_CPU" 'BEGIN {
  printf "\nratio portcullis/nginx: req/s %.2fx   p99 %.2fx   cpu/req %.2fx\n", a/b, c/d, e/f }'

# Memory: idle, then holding 10,000 idle client connections.
rss() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
echo "portcullis RSS after load: $(rss $PC_PID) KiB"
ulimit -n 65536 2>/dev/null || true
python3 - "$PC_PORT" "$PC_PID" <<'PY'
import socket, sys, time
port, pid = int(sys.argv[1]), sys.argv[2]
def rss():
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS"):
            return int(line.split()[1])
before = rss()
socks = []
for i in range(10000):
    s = socket.socket(); s.connect(("127.0.0.1", port)); socks.append(s)
time.sleep(1.0)  # let the gateway accept and park every connection
after = rss()
print(f"portcullis RSS idle: {before} KiB; holding {len(socks)} idle connections: {after} KiB ({(after-before)*1024/len(socks):.0f} bytes/conn)")
for s in socks: s.close()
PY
