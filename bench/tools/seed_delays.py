#!/usr/bin/env python3
"""The seeds' experiment against any running server on 127.0.0.1.

Sends N concurrent `POST /delay` requests (each on its own connection), then,
100 ms later, one `GET /` on a fresh connection. Prints the total wall time,
the latency of the GET, and how many distinct `worker_id`s answered (for
`main_worker`). Standard library only; every socket has a 120 s timeout.

    cargo run --release --example main_simple -- --port 8001 &
    python3 bench/tools/seed_delays.py 8001          # 10 requests
    python3 bench/tools/seed_delays.py 8005 8        # main_worker: 8 requests
"""
import json
import socket
import sys
import threading
import time


def request(port, method, path):
    start = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=120) as s:
        s.sendall(f"{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 0\r\n\r\n".encode())
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status = int(head.split(b" ")[1])
    try:
        payload = json.loads(body)
    except ValueError:
        payload = None
    return time.monotonic() - start, status, payload


def main():
    port = int(sys.argv[1])
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 10
    results = [None] * n
    started = time.monotonic()
    threads = [threading.Thread(target=lambda i=i: results.__setitem__(i, request(port, "POST", "/delay"))) for i in range(n)]
    for t in threads:
        t.start()
    time.sleep(0.1)
    get_latency, get_status, _ = request(port, "GET", "/")
    for t in threads:
        t.join()
    total = time.monotonic() - started
    statuses = sorted({r[1] for r in results})
    workers = {r[2].get("worker_id") for r in results if isinstance(r[2], dict) and "worker_id" in r[2]}
    print(f"{n} x POST /delay: total {total:.2f} s, statuses {statuses}")
    print(f"GET / sent 100 ms later: {get_latency * 1000:.1f} ms (status {get_status})")
    if workers:
        print(f"distinct worker ids: {len(workers)}")


if __name__ == "__main__":
    main()
