#!/usr/bin/env bash
# Portcullis vs nginx terminating TLS in front of the same upstream, each
# pinned to one core with one worker, in one run. Both serve the same ECDSA
# P-256 certificate, TLS 1.2+1.3. Scenarios, run as ROUNDS interleaved rounds
# (nginx and Portcullis alternate first), reported as the median CPU
# µs/request from /proc for both:
#
#   keepalive  HTTPS/1.1, wrk -c$CONNS, connections reused (record crypto + proxying)
#   handshake  the same with Connection: close: a full handshake per request
#              (wrk does not resume sessions); req/s is handshakes per second
#   h2         HTTP/2 over TLS (ALPN h2), h2load -c$CONNS -m$STREAMS
#
# then the RSS each adds per idle TLS client connection (handshake done;
# fresh and after one request each).
#
#   bench/tls_vs_nginx.sh               # 50 connections, 10 s per run, 3 rounds
#   DURATION=5 ROUNDS=1 SCENARIOS="keepalive h2" bench/tls_vs_nginx.sh
#   BASE_PORT=19000 bench/tls_vs_nginx.sh   # five ports from BASE_PORT
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
DURATION=${DURATION:-10}
CONNS=${CONNS:-50}
ROUNDS=${ROUNDS:-3}
PROXY_CPU=${PROXY_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}
SCENARIOS=${SCENARIOS:-keepalive handshake h2}
IDLE_CONNS=${IDLE_CONNS:-5000}

bench_tools
# BIN=/path/to/portcullis measures another build (e.g. a "before" binary).
if [ -z "${BIN:-}" ]; then cargo build --release --quiet; BIN=target/release/portcullis; fi
ulimit -n "$(ulimit -Hn)"   # 10,000 idle connections need the fds

WORK=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT

BASE_PORT=${BASE_PORT:-18291}
UP_PORT=$BASE_PORT; NGX_PORT=$((BASE_PORT+1)); PC_PORT=$((BASE_PORT+2)); ADMIN_PORT=$((BASE_PORT+3))
NGX_H2=$((BASE_PORT+4))
ports_free $UP_PORT $NGX_PORT $PC_PORT $ADMIN_PORT $NGX_H2
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
worker_rlimit_nofile 65536;
error_log $WORK/ngx/error.log error;
pid $WORK/ngx/nginx.pid;
events { worker_connections 30000; }
http {
  access_log off;
  keepalive_requests 1000000;
  upstream app { server 127.0.0.1:$UP_PORT; keepalive 128; }
  server {
    listen 127.0.0.1:$NGX_PORT ssl;
    listen 127.0.0.1:$NGX_H2 ssl http2;
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

for p in $UP_PORT $NGX_PORT $NGX_H2 $PC_PORT; do wait_port "$p"; done

# measure SCENARIO SIDE -> one result line
measure() {
  case "$1:$2" in
    keepalive:nginx) wrk_run "https://127.0.0.1:$NGX_PORT/" $NGX_PID ;;
    keepalive:pc)    wrk_run "https://127.0.0.1:$PC_PORT/" $PC_PID ;;
    handshake:nginx) WRK_HEADER="Connection: close" wrk_run "https://127.0.0.1:$NGX_PORT/" $NGX_PID ;;
    handshake:pc)    WRK_HEADER="Connection: close" wrk_run "https://127.0.0.1:$PC_PORT/" $PC_PID ;;
    h2:nginx)        h2_run "https://127.0.0.1:$NGX_H2/" $NGX_PID ;;
    h2:pc)           h2_run "https://127.0.0.1:$PC_PORT/" $PC_PID ;;
  esac
}

echo "machine busy before: $(machine_busy) of both cores"
declare -A CPU RPS LAT ERR
for round in $(seq 1 "$ROUNDS"); do
  order="nginx pc"; if [ $((round % 2)) = 0 ]; then order="pc nginx"; fi
  for s in $SCENARIOS; do
    for side in $order; do
      read -r rps lat cpu err <<<"$(measure "$s" "$side")"
      CPU[$s:$side]="${CPU[$s:$side]:-} $cpu"; RPS[$s:$side]="${RPS[$s:$side]:-} $rps"
      LAT[$s:$side]="${LAT[$s:$side]:-} $lat"; ERR[$s:$side]=$(( ${ERR[$s:$side]:-0} + ${err%%.*} ))
      echo "round $round $s $side: req/s $rps cpu µs/req $cpu latency $lat errors $err (busy $(machine_busy))" >&2
    done
  done
done

printf '\nmedian of %s rounds, %s s each, %s connections (CPU µs/request from /proc)\n' "$ROUNDS" "$DURATION" "$CONNS"
printf '%-10s %14s %14s %8s %12s %12s %10s %10s %6s\n' scenario "nginx cpu/req" "pc cpu/req" ratio "nginx req/s" "pc req/s" "nginx lat" "pc lat" errors
for s in $SCENARIOS; do
  # shellcheck disable=SC2086
  nc=$(median ${CPU[$s:nginx]}); pcc=$(median ${CPU[$s:pc]})
  # shellcheck disable=SC2086
  nr=$(median ${RPS[$s:nginx]}); pr=$(median ${RPS[$s:pc]})
  nl=$(echo ${LAT[$s:nginx]} | awk '{print $NF}'); pl=$(echo ${LAT[$s:pc]} | awk '{print $NF}')
  ratio=$(awk -v a="$pcc" -v b="$nc" 'BEGIN { printf "%.2fx", a/b }')
  printf '%-10s %14s %14s %8s %12s %12s %10s %10s %6s\n' "$s" "$nc" "$pcc" "$ratio" "$nr" "$pr" "$nl" "$pl" \
    $(( ${ERR[$s:nginx]} + ${ERR[$s:pc]} ))
done
echo "(latency: wrk p99 / h2load max, last round)"
echo "machine busy after: $(machine_busy) of both cores"

read -r NF NS <<<"$(idle_memory $NGX_PORT $NGX_PID 1)"
read -r PF PS <<<"$(idle_memory $PC_PORT $PC_PID 1)"
echo "RSS per idle TLS connection ($IDLE_CONNS): nginx fresh $NF B, after a request $NS B; portcullis fresh $PF B, after a request $PS B"
