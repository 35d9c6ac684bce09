#!/usr/bin/env bash
# Portcullis vs nginx as reverse proxies in front of the same fast upstream,
# each pinned to one core with one worker, under the same load, in one run.
# Scenarios, run as ROUNDS interleaved rounds (nginx and Portcullis alternate
# first), reported as the median CPU µs/request from /proc for both:
#
#   plain    HTTP/1.1, wrk -c$CONNS keep-alive
#   logged   + rate limit (never triggers), IP allow-list, 1 MiB body limit
#            and one JSON access-log record per request to a file (nginx:
#            log_format escape=json, default unbuffered access_log)
#   h2c      HTTP/2 prior knowledge, h2load -c$CONNS -m$STREAMS
#   workers2 Portcullis --workers 2 on both cores vs --workers 1 (plain)
#
# then the RSS each proxy adds per idle client connection (IDLE_CONNS,
# fresh and after one request each).
#
#   bench/proxy_vs_nginx.sh                 # 50 connections, 10 s per run, 3 rounds
#   DURATION=5 ROUNDS=1 SCENARIOS="plain logged" bench/proxy_vs_nginx.sh
#   BASE_PORT=19100 bench/proxy_vs_nginx.sh # ten ports from BASE_PORT
#   PORTCULLIS_EXTRA=bench/extra.yaml       # appended to every Portcullis config
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
DURATION=${DURATION:-10}
CONNS=${CONNS:-50}
ROUNDS=${ROUNDS:-3}
PROXY_CPU=${PROXY_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}
SCENARIOS=${SCENARIOS:-plain logged h2c workers2}
IDLE_CONNS=${IDLE_CONNS:-10000}

bench_tools
# BIN=/path/to/portcullis measures another build (e.g. a "before" binary).
if [ -z "${BIN:-}" ]; then cargo build --release --quiet; BIN=target/release/portcullis; fi
ulimit -n "$(ulimit -Hn)"   # 10,000 idle connections need the fds

B=${BASE_PORT:-18081}
UP=$B; NGX=$((B+1)); PC=$((B+2)); NGX_LOG=$((B+3)); PC_LOG=$((B+4)); NGX_H2C=$((B+5)); PC_2W=$((B+6))
ADM=$((B+7)); ADM_LOG=$((B+8)); ADM_2W=$((B+9))
ports_free $UP $NGX $PC $NGX_LOG $PC_LOG $NGX_H2C $PC_2W $ADM $ADM_LOG $ADM_2W

WORK=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT

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
  server { listen 127.0.0.1:$UP; location / { return 200 "hello from upstream\n"; } }
}
CONF
taskset -c "$LOAD_CPU" nginx -p "$WORK/up" -c "$WORK/up/nginx.conf" -g 'daemon off;' &
PIDS+=($!)

# One nginx serving the three scenarios on three ports (one process: CPU is
# attributed per run, and runs never overlap).
PROXY_LOC='proxy_pass http://app;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Real-IP $remote_addr;
      proxy_set_header X-Request-Id $request_id;'
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
  limit_req_zone \$binary_remote_addr zone=rl:64m rate=1000000r/s;
  log_format json escape=json '{"time":"\$time_iso8601","request_id":"\$request_id","listener":"web",'
    '"client_ip":"\$remote_addr","client_port":"\$remote_port","peer":"\$remote_addr:\$remote_port",'
    '"method":"\$request_method","scheme":"\$scheme","host":"\$host","path":"\$uri","query":"\$args",'
    '"protocol":"\$server_protocol","user_agent":"\$http_user_agent","referer":"\$http_referer",'
    '"status":\$status,"request_bytes":"\$content_length","bytes":\$bytes_sent,'
    '"duration_ms":\$request_time,"route":"all","upstream":"\$upstream_addr",'
    '"upstream_ms":"\$upstream_response_time"}';
  upstream app { server 127.0.0.1:$UP; keepalive 128; }
  server { listen 127.0.0.1:$NGX; location / { $PROXY_LOC } }
  server { listen 127.0.0.1:$NGX_H2C http2; location / { $PROXY_LOC } }
  server {
    listen 127.0.0.1:$NGX_LOG;
    access_log $WORK/ngx/access.log json;
    client_max_body_size 1m;
    location / {
      limit_req zone=rl burst=1000000 nodelay;
      allow 127.0.0.0/8;
      deny all;
      $PROXY_LOC
    }
  }
}
CONF
taskset -c "$PROXY_CPU" nginx -p "$WORK/ngx" -c "$WORK/ngx/nginx.conf" -g 'daemon off;' &
NGX_PID=$!
PIDS+=($NGX_PID)

# portcullis_config PORT ADMIN_PORT LOGGED(0|1)
portcullis_config() {
  local listener="{ name: web, address: 127.0.0.1:$1 }" server="server: { access_log: false }" extra=""
  if [ "$3" = 1 ]; then
    listener="{ name: web, address: 127.0.0.1:$1, policies: [allow, rl], http: { max_body_bytes: 1048576 } }"
    server="logging:
  access: { sink: { kind: file, path: $WORK/portcullis.access.log, max_bytes: 10737418240 } }
policies:
  - { name: allow, ip_filter: { allow: [127.0.0.0/8] } }
  - { name: rl, rate_limit: { limits: [{ rate: 1000000, per: 1s, burst: 1000000 }] } }"
  fi
  if [ -n "${PORTCULLIS_EXTRA:-}" ]; then extra=$(cat "$PORTCULLIS_EXTRA"); fi
  cat <<CONF
admin: { address: 127.0.0.1:$2 }
$server
listeners: [$listener]
backends:
  - name: app
    endpoints: [{ address: 127.0.0.1:$UP }]
routes:
  - name: all
    match: { path: { prefix: / } }
    backend: app
$extra
CONF
}
# Each config in its own directory: the file watcher must not see the log.
start_portcullis() { # NAME PORT ADMIN LOGGED CPUS WORKERS
  mkdir -p "$WORK/$1"
  portcullis_config "$2" "$3" "$4" > "$WORK/$1/portcullis.yaml"
  taskset -c "$5" "$BIN" run --config "$WORK/$1/portcullis.yaml" --workers "$6" \
    >/dev/null 2>"$WORK/$1/portcullis.log" &
  PIDS+=($!)
  LAST_PID=$!
}
start_portcullis plain $PC $ADM 0 "$PROXY_CPU" 1; PC_PID=$LAST_PID
start_portcullis logged $PC_LOG $ADM_LOG 1 "$PROXY_CPU" 1; PC_LOG_PID=$LAST_PID
start_portcullis workers2 $PC_2W $ADM_2W 0 "$PROXY_CPU,$LOAD_CPU" 2; PC_2W_PID=$LAST_PID
for p in $UP $NGX $NGX_LOG $NGX_H2C $PC $PC_LOG $PC_2W; do wait_port "$p"; done

# measure SCENARIO SIDE -> one result line
measure() {
  case "$1:$2" in
    plain:nginx)    wrk_run "http://127.0.0.1:$NGX/" $NGX_PID ;;
    plain:pc)       wrk_run "http://127.0.0.1:$PC/" $PC_PID ;;
    logged:nginx)   wrk_run "http://127.0.0.1:$NGX_LOG/" $NGX_PID ;;
    logged:pc)      wrk_run "http://127.0.0.1:$PC_LOG/" $PC_LOG_PID ;;
    h2c:nginx)      h2_run "http://127.0.0.1:$NGX_H2C/" $NGX_PID ;;
    h2c:pc)         h2_run "http://127.0.0.1:$PC/" $PC_PID ;;
    workers2:nginx) wrk_run "http://127.0.0.1:$PC/" $PC_PID ;;     # baseline: 1 worker
    workers2:pc)    wrk_run "http://127.0.0.1:$PC_2W/" $PC_2W_PID ;;
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
  label=$s; if [ "$s" = workers2 ]; then label="2w vs 1w"; fi
  printf '%-10s %14s %14s %8s %12s %12s %10s %10s %6s\n' "$label" "$nc" "$pcc" "$ratio" "$nr" "$pr" "$nl" "$pl" \
    $(( ${ERR[$s:nginx]} + ${ERR[$s:pc]} ))
done
echo "(latency: wrk p99 / h2load max, last round; workers2 row: 'nginx' columns are Portcullis with 1 worker)"
if [ -f "$WORK/portcullis.access.log" ]; then
  echo "access-log records written by portcullis: $(wc -l < "$WORK/portcullis.access.log"), nginx: $(wc -l < "$WORK/ngx/access.log")"
fi
echo "machine busy after: $(machine_busy) of both cores"

read -r NF NS <<<"$(idle_memory $NGX $NGX_PID 0)"
read -r PF PS <<<"$(idle_memory $PC $PC_PID 0)"
echo "RSS per idle connection ($IDLE_CONNS): nginx fresh $NF B, after a request $NS B; portcullis fresh $PF B, after a request $PS B"
