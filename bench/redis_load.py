#!/usr/bin/env python3
"""Open-loop load at a fixed total rate, spread round-robin over several
gateway ports (one keep-alive connection per port), for bench/redis_limits.sh.

  redis_load.py RATE SECONDS PORT[,PORT...] [PATH]

Prints one JSON object: status counts, accepted count, latency p50/p99/max
in ms, and per-second buckets of statuses (for the outage run)."""
import http.client, json, sys, threading, time

rate, seconds = float(sys.argv[1]), float(sys.argv[2])
ports = [int(p) for p in sys.argv[3].split(",")]
path = sys.argv[4] if len(sys.argv) > 4 else "/"
lock = threading.Lock()
results = []  # (t_since_start, status, latency_ms)

def worker(port, offset, step):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    start = T0
    i = 0
    while True:
        due = start + offset + i * step
        if due - start >= seconds:
            break
        now = time.monotonic()
        if due > now:
            time.sleep(due - now)
        t = time.monotonic()
        try:
            conn.request("GET", path, headers={"host": "bench"})
            r = conn.getresponse()
            r.read()
            status = r.status
        except Exception:
            status = 0
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        lat = (time.monotonic() - t) * 1000
        with lock:
            results.append((t - start, status, lat))
        i += 1

step = len(ports) / rate  # each worker sends rate/len(ports) per second
T0 = time.monotonic() + 0.2
threads = [threading.Thread(target=worker, args=(p, k / rate, step)) for k, p in enumerate(ports)]
for th in threads: th.start()
for th in threads: th.join()
lat = sorted(r[2] for r in results)
pick = lambda q: round(lat[min(len(lat) - 1, int(q * len(lat)))], 3) if lat else None
counts, buckets = {}, {}
for t, s, _ in results:
    counts[str(s)] = counts.get(str(s), 0) + 1
    b = buckets.setdefault(str(int(t)), {})
    b[str(s)] = b.get(str(s), 0) + 1
print(json.dumps({"sent": len(results), "accepted": counts.get("200", 0), "statuses": counts,
                  "p50_ms": pick(0.5), "p99_ms": pick(0.99), "max_ms": round(lat[-1], 3) if lat else None,
                  "per_second": buckets}))
