# Shared helpers of the side-by-side benches (sourced, not run).
# Every figure is CPU time per request of the proxy process, read from
# /proc/PID/stat (utime + stime) around the measured run, which stays
# meaningful on a loaded 2-core machine where req/s does not.

need() { command -v "$1" >/dev/null 2>&1; }

# Installs the load tools the benches use (not part of CI).
bench_tools() {
  if ! need nginx || ! need wrk || ! need h2load || ! need openssl || ! need mpstat; then
    apt-get update -qq && apt-get install -y -qq nginx-light wrk nghttp2-client openssl sysstat >/dev/null
  fi
}

# Refuses ports someone else listens on: the load would hit their servers.
ports_free() {
  for port in "$@"; do
    if (echo > /dev/tcp/127.0.0.1/"$port") 2>/dev/null; then
      echo "port $port is in use; set BASE_PORT to a free range" >&2; exit 1
    fi
  done
}

wait_port() {
  for _ in $(seq 1 400); do (echo > /dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0; sleep 0.05; done
  echo "port $1 not up" >&2; exit 1
}

cpu_ticks() {
  local pid total=0 t
  for pid in "$@"; do t=$(awk '{print $14 + $15}' "/proc/$pid/stat"); total=$((total + t)); done
  echo "$total"
}
TCK=$(getconf CLK_TCK)

# How busy the machine is besides us: "usr+sys % of both cores" over 1 s.
machine_busy() { mpstat 1 1 2>/dev/null | awk '/Average/ && $2=="all" {printf "%.0f%%", 100-$NF}'; }

# wrk_run URL PIDS... -> "rps p99 cpu_us_per_req errors" (PIDS: the proxy's processes);
# WRK_HEADER="Name: value" adds one request header.
wrk_run() {
  local url=$1; shift
  local hdr=(); if [ -n "${WRK_HEADER:-}" ]; then hdr=(-H "$WRK_HEADER"); fi
  wrk -t1 -c"$CONNS" -d2s "${hdr[@]}" "$url" >/dev/null 2>&1   # warm-up: pools, caches
  local c0; c0=$(cpu_ticks "$@")
  local out; out=$(taskset -c "$LOAD_CPU" wrk -t1 -c"$CONNS" -d"${DURATION}s" --latency "${hdr[@]}" "$url")
  local c1; c1=$(cpu_ticks "$@")
  local reqs; reqs=$(echo "$out" | awk '/requests in/ {print $1}')
  local rps; rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
  local p99; p99=$(echo "$out" | awk '$1=="99%" {print $2}')
  local errs; errs=$(echo "$out" | awk '/Socket errors/ {gsub(",",""); n += $4+$6+$8+$10} /Non-2xx/ {n += $NF} END {print n+0}')
  local cpu; cpu=$(awk -v a="$c0" -v b="$c1" -v t="$TCK" -v n="$reqs" 'BEGIN { printf "%.2f", (b-a)/t*1e6/n }')
  echo "$rps $p99 $cpu $errs"
}

# h2_run URL PIDS... -> "rps max_latency cpu_us_per_req errors", h2load -c$CONNS -m$STREAMS
h2_run() {
  local url=$1; shift
  h2load -c"$CONNS" -m"${STREAMS:-10}" -D2 "$url" >/dev/null 2>&1   # warm-up
  local c0; c0=$(cpu_ticks "$@")
  local out; out=$(taskset -c "$LOAD_CPU" h2load -c"$CONNS" -m"${STREAMS:-10}" -D"$DURATION" "$url" 2>&1)
  local c1; c1=$(cpu_ticks "$@")
  local ok; ok=$(echo "$out" | awk '/^requests:/ {print $8}')
  local failed; failed=$(echo "$out" | awk '/^requests:/ {print $10 + $12}')
  local rps; rps=$(echo "$out" | awk '/^finished in/ {gsub(",",""); print $4}')
  local max; max=$(echo "$out" | awk '/^time for request:/ {print $5}')
  local cpu; cpu=$(awk -v a="$c0" -v b="$c1" -v t="$TCK" -v n="${ok:-0}" 'BEGIN { if (n == 0) print "nan"; else printf "%.2f", (b-a)/t*1e6/n }')
  echo "${rps:-0} ${max:-?} $cpu ${failed:-?}"
}

median() { printf '%s\n' "$@" | sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }

# idle_memory PORT PID TLS(0|1) -> bytes per idle connection, fresh and after one request each
idle_memory() {
  python3 - "$1" "$2" "$3" "${IDLE_CONNS:-10000}" <<'PY'
import resource, socket, ssl, sys, time
port, pid, tls, n = int(sys.argv[1]), sys.argv[2], sys.argv[3] == "1", int(sys.argv[4])
resource.setrlimit(resource.RLIMIT_NOFILE, (n + 1000, n + 1000))
def rss():
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS"):
            return int(line.split()[1])
ctx = ssl._create_unverified_context()
ctx.set_alpn_protocols(["http/1.1"])
def settle(prev):
    # Wait (bounded) for the server to accept and park every connection.
    deadline = time.monotonic() + 5
    cur = rss()
    while time.monotonic() < deadline:
        time.sleep(0.2)
        nxt = rss()
        if nxt == cur:
            break
        cur = nxt
    return cur
before = rss()
socks = []
for _ in range(n):
    s = socket.create_connection(("127.0.0.1", port))
    if tls:
        s = ctx.wrap_socket(s, server_hostname="bench.test")
    socks.append(s)
fresh = settle(before)
# One request at a time: the upstream pool stays at one connection, so the
# growth measured is the client connections' own.
for s in socks:
    s.sendall(b"GET / HTTP/1.1\r\nHost: bench\r\n\r\n")
    s.settimeout(5)
    s.recv(4096)
served = settle(fresh)
print(f"{(fresh-before)*1024/n:.0f} {(served-before)*1024/n:.0f}")
for s in socks:
    s.close()
PY
}
