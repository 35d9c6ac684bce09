#!/usr/bin/env bash
# Portcullis vs nginx terminating TLS in front of the same upstream, each
# pinned to one core with one worker, in one run: full TLS handshakes per
# second (a new connection per request, no resumption: wrk does not reuse
# sessions) and keep-alive HTTPS req/s. Prints both, CPU time per request
# and the ratios. Both serve the same ECDSA P-256 certificate, TLS 1.2+1.3.
#
#   bench/tls_vs_nginx.sh               # 50 connections, 10 s per run
#   DURATION=20 CONNS=100 bench/tls_vs_nginx.sh
#   BASE_PORT=19000 bench/tls_vs_nginx.sh   # four ports from BASE_PORT
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-10}
CONNS=${CONNS:-50}
PROXY_CPU=${PROXY_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}

need() { command -v "$1" >/dev/null 2>&1; }
if ! need nginx || ! need wrk || ! need openssl; then
  apt-get update -qq && apt-get install -y -qq nginx-light wrk openssl >/dev/null
fi
cargo build --release --quiet
BIN=target/release/portcullis

WORK=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT

BASE_PORT=${BASE_PORT:-18291}
UP_PORT=$BASE_PORT; NGX_PORT=$((BASE_PORT+1)); PC_PORT=$((BASE_PORT+2)); ADMIN_PORT=$((BASE_PORT+3))
# Refuse to start on ports someone else listens on: the load would hit their
# servers and the figures would be theirs.
for port in $UP_PORT $NGX_PORT $PC_PORT $ADMIN_PORT; do
  if (echo > /dev/tcp/127.0.0.1/$port) 2>/dev/null; then
    echo "port $port is in use; set BASE_PORT to a free range" >&2; exit 1
  fi
done

# One throwaway certificate for both proxies.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
  -keyout "$WORK/key.pem" -out "$WORK/cert.pem" -days 2 -subj "/CN=bench.test" \
  -addext "subjectAltName=DNS:bench.test" -addext "basicConstraints=CA:FALSE" 2>/dev/null

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

cat > "$WORK/ngx/nginx.conf" <<CONF
worker_processes 1;
master_process off;
error_log $WORK/ngx/error.log error;
pid $WORK/ngx/nginx.pid;
events { worker_connections 20000; }
http {
  access_log off;
  keepalive_requests 1000000;
  upstream app { server 127.0.0.1:$UP_PORT; keepalive 128; }
  server {
    listen 127.0.0.1:$NGX_PORT ssl;
    ssl_certificate $WORK/cert.pem;
    ssl_certificate_key $WORK/key.pem;
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_session_tickets on;
    location / {
      proxy_pass http://app;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host \$host;
      proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto \$scheme;
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
server: { access_log: false }
listeners:
  - name: web
    address: 127.0.0.1:$PC_PORT
    tls:
      certificates: [{ cert: "$WORK/cert.pem", key: "$WORK/key.pem" }]
backends:
  - name: app
    endpoints: [{ address: 127.0.0.1:$UP_PORT }]
routes:
  - name: all
    backend: app
CONF
taskset -c "$PROXY_CPU" "$BIN" run --config "$WORK/portcullis.yaml" --workers 1 \
  >"$WORK/portcullis.access.log" 2>"$WORK/portcullis.log" &
PC_PID=$!
PIDS+=($PC_PID)

wait_port() { for _ in $(seq 1 200); do (echo > /dev/tcp/127.0.0.1/$1) 2>/dev/null && return 0; sleep 0.05; done; echo "port $1 not up" >&2; exit 1; }
wait_port $UP_PORT; wait_port $NGX_PORT; wait_port $PC_PORT

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
TCK=$(getconf CLK_TCK)

# run PORT PID [wrk args...] -> "rps cpu_us_per_req errors"
run() {
  local port=$1 pid=$2; shift 2
  wrk -t1 -c"$CONNS" -d2s "$@" "https://127.0.0.1:$port/" >/dev/null 2>&1   # warm-up
  local c0; c0=$(cpu_ticks "$pid")
  local out; out=$(taskset -c "$LOAD_CPU" wrk -t1 -c"$CONNS" -d"${DURATION}s" "$@" "https://127.0.0.1:$port/")
  local c1; c1=$(cpu_ticks "$pid")
  local reqs; reqs=$(echo "$out" | awk '/requests in/ {print $1}')
  local rps; rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
  local errs; errs=$(echo "$out" | awk '/Socket errors/ {gsub(",",""); n += $4+$6+$8+$10} /Non-2xx/ {n += $NF} END {print n+0}')
  local cpu_us; cpu_us=$(awk -v a="$c0" -v b="$c1" -v t="$TCK" -v n="$reqs" 'BEGIN { printf "%.1f", (b-a)/t*1e6/n }')
  echo "$rps $cpu_us ${errs:-0}"
}

read -r NK_RPS NK_CPU NK_ERR <<<"$(run $NGX_PORT $NGX_PID)"
read -r PK_RPS PK_CPU PK_ERR <<<"$(run $PC_PORT $PC_PID)"
read -r NH_RPS NH_CPU NH_ERR <<<"$(run $NGX_PORT $NGX_PID -H 'Connection: close')"
read -r PH_RPS PH_CPU PH_ERR <<<"$(run $PC_PORT $PC_PID -H 'Connection: close')"

printf '\n%-26s %12s %14s %8s\n' "" "req/s" "cpu µs/req" errors
printf '%-26s %12s %14s %8s\n' "nginx keep-alive" "$NK_RPS" "$NK_CPU" "$NK_ERR"
printf '%-26s %12s %14s %8s\n' "portcullis keep-alive" "$PK_RPS" "$PK_CPU" "$PK_ERR"
printf '%-26s %12s %14s %8s\n' "nginx handshake/req" "$NH_RPS" "$NH_CPU" "$NH_ERR"
printf '%-26s %12s %14s %8s\n' "portcullis handshake/req" "$PH_RPS" "$PH_CPU" "$PH_ERR"
awk -v a="$PK_RPS" -v b="$NK_RPS" -v c="$PH_RPS" -v d="$NH_RPS" -v e="$PK_CPU" -v f="$NK_CPU" -v g="$PH_CPU" -v h="$NH_CPU" 'BEGIN {
  printf "\nratio portcullis/nginx: keep-alive req/s %.2fx (cpu/req %.2fx)   handshakes/s %.2fx (cpu/req %.2fx)\n", a/b, e/f, c/d, g/h }'
