#!/usr/bin/env bash
# The cost of the WAF: nginx + ModSecurity v3 (Debian's libnginx-mod-http-modsecurity) and
# Portcullis's native WAF, both running the same unmodified CRS v4.28.0 at paranoia level 1,
# each without and with the WAF, one core and one worker each, same upstream, same wrk load.
# Prints req/s, p99, CPU µs per request (utime+stime from /proc) for the four runs, the
# throughput kept with the WAF and the CPU the WAF adds per request, for both.
#
#   bench/waf_vs_modsecurity.sh                       # GET /?q=hello&id=42, 50 conns, 10 s
#   REQUEST_PATH='/search?q=red+shoes' DURATION=20 bench/waf_vs_modsecurity.sh
#   PC_WAF_POLICY='{ name: waf, waf: { ... } }'       # the Portcullis policy entry to use
#
# The CRS comes from $PORTCULLIS_SHARED (default ../shared beside the repository).
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-10}
CONNS=${CONNS:-50}
PROXY_CPU=${PROXY_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}
REQUEST_PATH=${REQUEST_PATH:-/?q=hello&id=42}
SHARED=${PORTCULLIS_SHARED:-$(pwd)/../shared}
CRS=$(cd "$SHARED/waf/crs-v4.28.0" && pwd)
PC_WAF_POLICY=${PC_WAF_POLICY:-"{ name: waf, waf: { crs: $CRS, paranoia_level: 1 } }"}

NGX_MODSEC_SO=/usr/share/nginx/modules/ngx_http_modsecurity_module.so
need() { command -v "$1" >/dev/null 2>&1; }
if ! need nginx || ! need wrk || [ ! -f "$NGX_MODSEC_SO" ]; then
  apt-get update -qq && apt-get install -y -qq nginx-light wrk libnginx-mod-http-modsecurity >/dev/null
fi
cargo build --release --quiet
BIN=target/release/portcullis

WORK=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT
wait_port() { for _ in $(seq 1 400); do (echo > /dev/tcp/127.0.0.1/$1) 2>/dev/null && return 0; sleep 0.05; done; echo "port $1 not up" >&2; exit 1; }

UP_PORT=18181; NGX_PORT=18182; NGX_WAF_PORT=18183; PC_PORT=18184; PC_WAF_PORT=18185; ADMIN_PORT=18186

# Upstream on the load core: an empty 200 from memory.
mkdir -p "$WORK/up" "$WORK/ngx" "$WORK/modsec"
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

# ModSecurity: the suite's base settings, CRS setup as shipped (PL 1), all CRS rules.
cat > "$WORK/modsec/main.conf" <<CONF
SecRuleEngine On
SecRequestBodyAccess On
SecRequestBodyLimit 13107200
SecRequestBodyNoFilesLimit 131072
SecRequestBodyJsonDepthLimit 512
SecArgumentsLimit 1000
SecResponseBodyAccess On
SecResponseBodyMimeType text/plain text/html text/xml application/json
SecResponseBodyLimit 1048576
SecResponseBodyLimitAction ProcessPartial
SecAuditEngine Off
SecDebugLogLevel 0
SecRule REQUEST_HEADERS:Content-Type "^application/json" "id:200001,phase:1,t:none,t:lowercase,pass,nolog,ctl:requestBodyProcessor=JSON"
SecRule REQUEST_HEADERS:Content-Type "^(?:application(?:/soap\+|/)|text/)xml" "id:200000,phase:1,t:none,t:lowercase,pass,nolog,ctl:requestBodyProcessor=XML"
SecRule REQBODY_ERROR "!@eq 0" "id:200002,phase:2,t:none,log,deny,status:400"
SecRule MULTIPART_STRICT_ERROR "!@eq 0" "id:200003,phase:2,t:none,log,deny,status:400"
Include $CRS/crs-setup.conf.example
Include $CRS/rules/*.conf
CONF

proxy_server() { # PORT EXTRA
  cat <<CONF
  server {
    listen 127.0.0.1:$1;
    $2
    location / {
      proxy_pass http://app;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host \$host;
    }
  }
CONF
}
cat > "$WORK/ngx/nginx.conf" <<CONF
load_module $NGX_MODSEC_SO;
worker_processes 1;
master_process off;
error_log $WORK/ngx/error.log error;
pid $WORK/ngx/nginx.pid;
events { worker_connections 20000; }
http {
  access_log off;
  keepalive_requests 1000000;
  upstream app { server 127.0.0.1:$UP_PORT; keepalive 128; }
$(proxy_server $NGX_PORT "")
$(proxy_server $NGX_WAF_PORT "modsecurity on; modsecurity_rules_file $WORK/modsec/main.conf;")
}
CONF
taskset -c "$PROXY_CPU" nginx -p "$WORK/ngx" -c "$WORK/ngx/nginx.conf" -g 'daemon off;' &
NGX_PID=$!
PIDS+=($NGX_PID)

cat > "$WORK/portcullis.yaml" <<CONF
admin: { address: 127.0.0.1:$ADMIN_PORT }
server: { access_log: false }
listeners:
  - { name: plain, address: 127.0.0.1:$PC_PORT }
  - { name: waf, address: 127.0.0.1:$PC_WAF_PORT, policies: [waf] }
policies:
  - $PC_WAF_POLICY
backends:
  - name: app
    endpoints: [{ address: 127.0.0.1:$UP_PORT }]
routes:
  - name: all
    match: { path: { prefix: / } }
    backend: app
CONF
PC_WAF=on
if ! "$BIN" validate --config "$WORK/portcullis.yaml" >"$WORK/validate.log" 2>&1; then
  # Without the waf policy the plain arm still runs; say why the other one does not.
  echo "portcullis WAF arm skipped: this build refuses the policy $PC_WAF_POLICY:" >&2
  cat "$WORK/validate.log" >&2
  PC_WAF=off
  sed -i "/name: waf, address/d; /^policies:/,/^backends:/{/^backends:/!d}" "$WORK/portcullis.yaml"
fi
taskset -c "$PROXY_CPU" "$BIN" run --config "$WORK/portcullis.yaml" --workers 1 \
  >"$WORK/portcullis.access.log" 2>"$WORK/portcullis.log" &
PC_PID=$!
PIDS+=($PC_PID)

wait_port $UP_PORT; wait_port $NGX_PORT; wait_port $NGX_WAF_PORT; wait_port $PC_PORT
if [ "$PC_WAF" = on ]; then wait_port $PC_WAF_PORT; fi

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
TCK=$(getconf CLK_TCK)
URL_PATH=$REQUEST_PATH

# run PORT PID -> "rps p99 cpu_us_per_req non2xx"
run() {
  local url="http://127.0.0.1:$1$URL_PATH" pid=$2
  wrk -t1 -c"$CONNS" -d2s "$url" >/dev/null 2>&1
  local c0; c0=$(cpu_ticks "$pid")
  local out; out=$(taskset -c "$LOAD_CPU" wrk -t1 -c"$CONNS" -d"${DURATION}s" --latency "$url")
  local c1; c1=$(cpu_ticks "$pid")
  local reqs; reqs=$(echo "$out" | awk '/requests in/ {print $1}')
  local rps; rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
  local p99; p99=$(echo "$out" | awk '$1=="99%" {print $2}')
  local non2xx; non2xx=$(echo "$out" | awk '/Non-2xx/ {print $4}')
  local cpu_us; cpu_us=$(awk -v a="$c0" -v b="$c1" -v t="$TCK" -v n="$reqs" 'BEGIN { printf "%.2f", (b-a)/t*1e6/n }')
  echo "$rps $p99 $cpu_us ${non2xx:-0}"
}

# The WAF must let the benchmark request through, or the figures measure a 403.
status() { curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$1$URL_PATH"; }
for port in $NGX_WAF_PORT $([ "$PC_WAF" = on ] && echo $PC_WAF_PORT); do
  code=$(status "$port")
  if [ "$code" != 200 ]; then echo "request $URL_PATH answered $code on port $port: not benign for the CRS" >&2; exit 1; fi
done

printf '\n%-22s %12s %10s %14s %8s\n' run "req/s" p99 "cpu µs/req" non2xx
declare -A RPS CPU
for arm in nginx:$NGX_PORT:$NGX_PID nginx+modsecurity:$NGX_WAF_PORT:$NGX_PID \
           portcullis:$PC_PORT:$PC_PID portcullis+waf:$PC_WAF_PORT:$PC_PID; do
  IFS=: read -r name port pid <<<"$arm"
  if [ "$name" = portcullis+waf ] && [ "$PC_WAF" = off ]; then printf '%-22s %12s\n' "$name" skipped; continue; fi
  read -r rps p99 cpu err <<<"$(run "$port" "$pid")"
  RPS[$name]=$rps; CPU[$name]=$cpu
  printf '%-22s %12s %10s %14s %8s\n' "$name" "$rps" "$p99" "$cpu" "$err"
done

summary() { # PLAIN WAF LABEL
  awk -v r0="${RPS[$1]}" -v r1="${RPS[$2]}" -v c0="${CPU[$1]}" -v c1="${CPU[$2]}" -v l="$3" 'BEGIN {
    printf "%-12s WAF keeps %5.1f %% of plain throughput, adds %8.1f µs CPU per request\n", l, 100*r1/r0, c1-c0 }'
}
echo
summary nginx nginx+modsecurity "ModSecurity"
if [ "$PC_WAF" = on ]; then summary portcullis portcullis+waf "Portcullis"; fi
