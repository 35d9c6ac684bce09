#!/usr/bin/env python3
"""Replays tests/data/waf_benign/benign.yaml against an HTTP endpoint and lists every request
that is not answered 200 (a false positive when the endpoint is a WAF at paranoia level 1).

    bench/waf_benign_check.py 127.0.0.1:8080 [benign.yaml]

Requests are sent as written (headers in order, Content-Length added for bodies,
Connection: close), one connection each, each with a 5 s timeout. Exit status 1 when any
request was refused. Needs PyYAML.
"""
import socket
import sys

import yaml


def send(host, port, stage):
    request = stage["input"]
    body = request.get("data", "").encode()
    lines = [f"{request.get('method', 'GET')} {request.get('uri', '/')} {request.get('version', 'HTTP/1.1')}"]
    headers = dict(request.get("headers", {}))
    if body:
        headers.setdefault("Content-Length", str(len(body)))
    headers.setdefault("Connection", "close")
    lines += [f"{name}: {value}" for name, value in headers.items()]
    raw = ("\r\n".join(lines) + "\r\n\r\n").encode() + body
    with socket.create_connection((host, port), timeout=5) as conn:
        conn.sendall(raw)
        reply = conn.recv(4096)
    status_line = reply.split(b"\r\n", 1)[0].decode(errors="replace")
    return int(status_line.split()[1]) if len(status_line.split()) > 1 else 0


def main():
    host, port = sys.argv[1].rsplit(":", 1)
    path = sys.argv[2] if len(sys.argv) > 2 else "tests/data/waf_benign/benign.yaml"
    cases = yaml.safe_load(open(path))["tests"]
    total, refused = 0, []
    for case in cases:
        for index, stage in enumerate(case["stages"]):
            total += 1
            status = send(host, int(port), stage)
            if status != 200:
                refused.append(f"{case['test_id']}-{index + 1} {case['desc']}: {status}")
    for line in refused:
        print("refused:", line)
    print(f"{total - len(refused)} passed, {len(refused)} failed")
    sys.exit(1 if refused else 0)


if __name__ == "__main__":
    main()
