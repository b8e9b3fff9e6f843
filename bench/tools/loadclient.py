#!/usr/bin/env python3
"""Small stdlib-only HTTP/1.1 client used by bench/run.

Subcommands (each prints one JSON object on stdout, exit code 0 unless the
arguments are wrong):

  wait      --port P [--timeout S]        until GET / answers 200
  check     --port P --body FILE          conformance of the seven endpoints
  check-middleware --port P               CORS preflight, gzip, request id
                                          (a server with BENCH_MIDDLEWARE=1)
  blocking  --port P [--n 10]             N concurrent POST /delay + a probe
  fanin     --port P [--n 1000]           N concurrent GET /sleep
  idle      --port P --pgid G [--n 10000] hold N idle keep-alive conns, RSS
  rss       --pgid G                      resident memory of a process group

Every network operation is bounded by a timeout; nothing here ever talks to
anything but 127.0.0.1.
"""
import argparse
import asyncio
import gzip
import json
import os
import resource
import sys
import time

HOST = "127.0.0.1"


def raise_nofile():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def pick_loop():
    """uvloop if importable (lower client overhead), else stdlib asyncio."""
    try:
        import uvloop  # noqa: F401

        return "uvloop"
    except ImportError:
        return "asyncio"


def run(coro):
    if pick_loop() == "uvloop":
        import uvloop

        return uvloop.run(coro)
    return asyncio.run(coro)


def listen_overflows():
    """System-wide TcpExt ListenOverflows (SYNs dropped: accept queue full)."""
    try:
        with open("/proc/net/netstat") as f:
            lines = f.read().splitlines()
        for names, values in zip(lines[::2], lines[1::2]):
            if names.startswith("TcpExt:"):
                d = dict(zip(names.split()[1:], values.split()[1:]))
                return int(d.get("ListenOverflows", 0))
    except (OSError, ValueError):
        pass
    return 0


# --------------------------------------------------------------------------
# minimal HTTP/1.1 over asyncio streams


def build_request(method, path, body=None, ctype="application/json", headers=None):
    lines = [f"{method} {path} HTTP/1.1", f"Host: {HOST}", "Connection: keep-alive"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    data = b""
    if body is not None:
        data = body if isinstance(body, bytes) else body.encode()
        lines.append(f"Content-Type: {ctype}")
        lines.append(f"Content-Length: {len(data)}")
    elif method in ("POST", "PUT", "PATCH"):
        lines.append("Content-Length: 0")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + data


async def read_response(reader):
    head = await reader.readuntil(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    status = int(status_line.split(" ", 2)[1])
    headers = {}
    for line in header_lines:
        if ":" in line:
            k, v = line.split(":", 1)
            headers[k.strip().lower()] = v.strip()
    if "content-length" in headers:
        body = await reader.readexactly(int(headers["content-length"]))
    elif headers.get("transfer-encoding", "").lower() == "chunked":
        body = b""
        while True:
            size_line = await reader.readuntil(b"\r\n")
            size = int(size_line.split(b";")[0].strip(), 16)
            chunk = await reader.readexactly(size + 2)
            if size == 0:
                # (trailers are not expected from these servers)
                break
            body += chunk[:-2]
    else:
        body = await reader.read()
    return status, headers, body


async def request(method, path, port, body=None, timeout=10.0, headers=None):
    """One request on a fresh connection. Returns (status, headers, body)."""

    async def go():
        reader, writer = await asyncio.open_connection(HOST, port)
        try:
            writer.write(build_request(method, path, body, headers=headers))
            await writer.drain()
            return await read_response(reader)
        finally:
            writer.close()

    return await asyncio.wait_for(go(), timeout)


def out(obj):
    print(json.dumps(obj))
    sys.stdout.flush()


# --------------------------------------------------------------------------
# wait


async def cmd_wait(a):
    deadline = time.monotonic() + a.timeout
    last = None
    while time.monotonic() < deadline:
        if a.pgid and not group_rss_kib(a.pgid)[1] and not os.path.exists(f"/proc/{a.pgid}"):
            return {"ready": False, "last_error": "server process exited"}
        try:
            status, _, _ = await request("GET", "/", a.port, timeout=2.0)
            if status == 200:
                return {"ready": True}
            last = f"status {status}"
        except Exception as e:  # noqa: BLE001
            last = f"{type(e).__name__}: {e}"
        await asyncio.sleep(0.1)
    return {"ready": False, "last_error": last}


# --------------------------------------------------------------------------
# check: the seven endpoints answer identically on every framework

# GET /big: about 5 KB of JSON (the `middleware` scenario's endpoint).
BIG = {"items": [{"id": i, "name": f"item {i}", "description": "a thing that is for sale",
                  "price": i * 1.25} for i in range(64)]}


async def cmd_check(a):
    item = open(a.body, "rb").read()
    failures = []

    async def expect(label, method, path, status, want=None, body=None, detail=False):
        try:
            st, hd, raw = await request(method, path, a.port, body=body, timeout=a.timeout)
        except Exception as e:  # noqa: BLE001
            failures.append(f"{label}: {type(e).__name__}: {e}")
            return
        if st != status:
            failures.append(f"{label}: status {st}, want {status} (body {raw[:120]!r})")
            return
        try:
            got = json.loads(raw)
        except ValueError:
            failures.append(f"{label}: body is not JSON: {raw[:120]!r}")
            return
        if "application/json" not in hd.get("content-type", ""):
            failures.append(f"{label}: content-type {hd.get('content-type')!r}")
        if want is not None and got != want:
            failures.append(f"{label}: body {got!r}, want {want!r}")
        if detail and not (isinstance(got, dict) and "detail" in got):
            failures.append(f"{label}: 422 body has no 'detail': {got!r}")

    hello = {"message": "Hello World"}
    await expect("GET /", "GET", "/", 200, hello)
    await expect("GET /sync", "GET", "/sync", 200, hello)
    await expect("GET /items/5?q=foo&limit=10", "GET", "/items/5?q=foo&limit=10", 200,
                 {"item_id": 5, "q": "foo", "limit": 10})
    await expect("GET /items/5 (defaults)", "GET", "/items/5", 200,
                 {"item_id": 5, "q": None, "limit": 10})
    await expect("limit=0 -> 422", "GET", "/items/5?limit=0", 422, detail=True)
    await expect("limit=101 -> 422", "GET", "/items/5?limit=101", 422, detail=True)
    await expect("q of 51 chars -> 422", "GET", "/items/5?q=" + "x" * 51, 422, detail=True)
    await expect("item_id=abc -> 422", "GET", "/items/abc", 422, detail=True)
    await expect("POST /items (1 KB echo)", "POST", "/items", 200, json.loads(item), body=item)
    await expect("POST /items (defaults)", "POST", "/items", 200,
                 {"name": "x", "description": None, "price": 1.0, "tax": None, "tags": []},
                 body=b'{"name":"x","price":1,"tags":[]}')
    await expect("POST /items bad price -> 422", "POST", "/items", 422,
                 body=b'{"name":"x","price":"cheap"}', detail=True)
    await expect("GET /big (~5 KB)", "GET", "/big", 200, BIG)
    return {"ok": not failures, "failures": failures}


# --------------------------------------------------------------------------
# check-middleware: the stack of the `middleware` scenario (BENCH_MIDDLEWARE=1)

ORIGIN = "http://localhost:3000"


def _is_uuid(v):
    parts = (v or "").split("-")
    return [len(p) for p in parts] == [8, 4, 4, 4, 12] and all(
        c in "0123456789abcdef" for c in (v or "").replace("-", "").lower())


def _has_token(header_value, token):
    return token.lower() in [t.strip().lower() for t in (header_value or "").split(",")]


async def cmd_check_middleware(a):
    failures = []
    seen = {}

    async def get(label, method, path, headers):
        try:
            return await request(method, path, a.port, timeout=a.timeout, headers=headers)
        except Exception as e:  # noqa: BLE001
            failures.append(f"{label}: {type(e).__name__}: {e}")
            return None

    def want(label, cond, what):
        if not cond:
            failures.append(f"{label}: {what}")

    # CORS preflight from the allowed origin.
    label = "preflight OPTIONS /big from http://localhost:3000"
    r = await get(label, "OPTIONS", "/big", {
        "Origin": ORIGIN, "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "x-request-id"})
    if r:
        st, hd, _ = r
        seen["preflight"] = {"status": st, **{k: v for k, v in hd.items()
                                              if k.startswith("access-control-")}}
        want(label, st == 200, f"status {st}, want 200")
        want(label, hd.get("access-control-allow-origin") == ORIGIN,
             f"access-control-allow-origin {hd.get('access-control-allow-origin')!r}")
        want(label, _has_token(hd.get("access-control-allow-methods"), "GET"),
             f"access-control-allow-methods {hd.get('access-control-allow-methods')!r} lacks GET")
        want(label, _has_token(hd.get("access-control-allow-headers"), "x-request-id"),
             f"access-control-allow-headers {hd.get('access-control-allow-headers')!r} "
             "lacks x-request-id")
        want(label, hd.get("access-control-max-age") == "600",
             f"access-control-max-age {hd.get('access-control-max-age')!r}, want '600'")

    # A preflight from another origin is not allowed.
    label = "preflight from http://evil.example"
    r = await get(label, "OPTIONS", "/big", {
        "Origin": "http://evil.example", "Access-Control-Request-Method": "GET"})
    if r:
        st, hd, _ = r
        seen["preflight_other_origin"] = {"status": st}
        want(label, hd.get("access-control-allow-origin") not in ("http://evil.example", "*"),
             f"allowed: access-control-allow-origin {hd.get('access-control-allow-origin')!r}")

    # The measured request: CORS simple request, gzip, a generated request id.
    label = "GET /big with Origin and Accept-Encoding: gzip"
    r = await get(label, "GET", "/big", {"Origin": ORIGIN, "Accept-Encoding": "gzip"})
    if r:
        st, hd, raw = r
        seen["gzip"] = {"status": st, "wire_bytes": len(raw), **{
            k: hd.get(k) for k in ("content-encoding", "content-length", "transfer-encoding",
                                   "vary", "access-control-allow-origin",
                                   "access-control-expose-headers", "x-request-id")}}
        want(label, st == 200, f"status {st}, want 200")
        want(label, hd.get("content-encoding") == "gzip",
             f"content-encoding {hd.get('content-encoding')!r}, want 'gzip'")
        try:
            body = gzip.decompress(raw) if hd.get("content-encoding") == "gzip" else raw
            seen["gzip"]["json_bytes"] = len(body)
            want(label, json.loads(body) == BIG, "body does not decode to the /big JSON")
        except (OSError, ValueError, EOFError) as e:
            failures.append(f"{label}: body does not decode: {type(e).__name__}: {e}")
        want(label, hd.get("access-control-allow-origin") == ORIGIN,
             f"access-control-allow-origin {hd.get('access-control-allow-origin')!r}")
        want(label, _has_token(hd.get("access-control-expose-headers"), "x-request-id"),
             f"access-control-expose-headers {hd.get('access-control-expose-headers')!r}")
        want(label, _is_uuid(hd.get("x-request-id")),
             f"x-request-id {hd.get('x-request-id')!r} is not a generated UUID")
        first_id = hd.get("x-request-id")
        r2 = await get(label + " (again)", "GET", "/big",
                       {"Origin": ORIGIN, "Accept-Encoding": "gzip"})
        if r2:
            want("request id", r2[1].get("x-request-id") != first_id,
                 "two requests got the same generated x-request-id")

    # Without Accept-Encoding the answer is not compressed.
    label = "GET /big without Accept-Encoding"
    r = await get(label, "GET", "/big", {"Origin": ORIGIN})
    if r:
        st, hd, raw = r
        want(label, st == 200 and "content-encoding" not in hd,
             f"status {st}, content-encoding {hd.get('content-encoding')!r}")
        try:
            want(label, json.loads(raw) == BIG, "body is not the /big JSON")
        except ValueError:
            failures.append(f"{label}: body is not JSON: {raw[:80]!r}")

    # A client's request id is propagated.
    label = "GET / with x-request-id: bench-42"
    r = await get(label, "GET", "/", {"x-request-id": "bench-42"})
    if r:
        st, hd, raw = r
        want(label, st == 200, f"status {st}")
        want(label, hd.get("x-request-id") == "bench-42",
             f"x-request-id {hd.get('x-request-id')!r}, want 'bench-42'")
    return {"ok": not failures, "failures": failures, "seen": seen}


# --------------------------------------------------------------------------
# blocking: 10 concurrent POST /delay, and one GET / 100 ms later


async def cmd_blocking(a):
    lo0 = listen_overflows()
    t0 = time.monotonic()
    done_at = []
    errors = []

    async def one_delay():
        try:
            st, _, raw = await request("POST", "/delay", a.port, timeout=a.timeout)
            if st != 200 or b"done" not in raw:
                errors.append(f"/delay status {st} body {raw[:80]!r}")
            else:
                done_at.append(time.monotonic() - t0)
        except asyncio.TimeoutError:
            errors.append("/delay timed out")
        except Exception as e:  # noqa: BLE001
            errors.append(f"/delay {type(e).__name__}: {e}")

    async def probe():
        await asyncio.sleep(a.probe_after)
        start = time.monotonic()
        try:
            st, _, _ = await request("GET", "/", a.port, timeout=a.timeout)
            return (time.monotonic() - start) * 1000, st
        except asyncio.TimeoutError:
            return None, "timeout"
        except Exception as e:  # noqa: BLE001
            return None, f"{type(e).__name__}: {e}"

    tasks = [asyncio.ensure_future(one_delay()) for _ in range(a.n)]
    probe_task = asyncio.ensure_future(probe())
    await asyncio.gather(*tasks)
    probe_ms, probe_status = await probe_task
    complete = len(done_at) == a.n
    return {
        "n": a.n,
        "completed": len(done_at),
        "wall_s": max(done_at) if complete else None,
        "timed_out": not complete,
        "limit_s": a.timeout,
        "probe_after_ms": a.probe_after * 1000,
        "probe_ms": probe_ms,
        "probe_status": probe_status,
        "listen_overflows": listen_overflows() - lo0,
        "errors": errors[:5],
        "client_loop": pick_loop(),
    }


# --------------------------------------------------------------------------
# fanin: 1000 concurrent GET /sleep


async def cmd_fanin(a):
    lo0 = listen_overflows()
    t0 = time.monotonic()
    done_at = []
    errors = []
    # At most a.connect_parallel connects in flight at once: all N requests
    # are still outstanding together (opening 1,000 loopback connections takes
    # well under the 1 s sleep), but a single burst of 1,000 SYNs no longer
    # overflows a 1,024-entry listen backlog and adds a 1 s SYN retransmit,
    # which measured the kernel rather than the framework.
    connect_sem = asyncio.Semaphore(a.connect_parallel)
    sent_at = []

    async def one():
        async def go():
            async with connect_sem:
                reader, writer = await asyncio.open_connection(HOST, a.port)
                writer.write(build_request("GET", "/sleep"))
                await writer.drain()
            sent_at.append(time.monotonic() - t0)
            try:
                return await read_response(reader)
            finally:
                writer.close()

        try:
            st, _, raw = await asyncio.wait_for(go(), a.timeout)
            if st != 200 or b"done" not in raw:
                errors.append(f"status {st} body {raw[:80]!r}")
            else:
                done_at.append(time.monotonic() - t0)
        except asyncio.TimeoutError:
            errors.append("timed out")
        except Exception as e:  # noqa: BLE001
            errors.append(f"{type(e).__name__}: {e}")

    await asyncio.gather(*(one() for _ in range(a.n)))
    complete = len(done_at) == a.n
    return {
        "n": a.n,
        "completed": len(done_at),
        "wall_s": max(done_at) if complete else None,
        "timed_out": not complete and any("timed out" in e for e in errors),
        "limit_s": a.timeout,
        "all_sent_s": round(max(sent_at), 4) if sent_at else None,
        "listen_overflows": listen_overflows() - lo0,
        "errors": sorted(set(errors))[:5],
        "error_count": len(errors),
        "client_loop": pick_loop(),
    }


# --------------------------------------------------------------------------
# idle: hold N keep-alive connections, read the server's RSS


def group_rss_kib(pgid):
    """Sum of VmRSS (KiB) over every process whose process group is pgid."""
    total, pids = 0, []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                stat = f.read()
            fields = stat.rsplit(")", 1)[1].split()
            if int(fields[2]) != pgid:  # field 5 of stat = pgrp
                continue
            with open(f"/proc/{name}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
                        pids.append(int(name))
                        break
        except (OSError, ValueError, IndexError):
            continue
    return total, sorted(pids)


async def cmd_idle(a):
    base_kib, pids = group_rss_kib(a.pgid)
    lo0 = listen_overflows()
    conns = []
    errors = {}
    sem = asyncio.Semaphore(a.parallel)
    t0 = time.monotonic()
    deadline = t0 + a.timeout

    async def open_one():
        async with sem:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                errors["gave up (time limit)"] = errors.get("gave up (time limit)", 0) + 1
                return
            try:
                reader, writer = await asyncio.wait_for(
                    asyncio.open_connection(HOST, a.port), min(remaining, 15))
            except Exception as e:  # noqa: BLE001
                k = f"connect: {type(e).__name__}: {e}"[:100]
                errors[k] = errors.get(k, 0) + 1
                return
            try:
                writer.write(build_request("GET", "/"))
                st, _, _ = await asyncio.wait_for(
                    read_response(reader), max(0.1, min(deadline - time.monotonic(), 15)))
                if st != 200:
                    raise RuntimeError(f"status {st}")
                conns.append((reader, writer))
            except Exception as e:  # noqa: BLE001
                k = f"request: {type(e).__name__}: {e}"[:100]
                errors[k] = errors.get(k, 0) + 1
                writer.close()

    await asyncio.gather(*(open_one() for _ in range(a.n)))
    open_s = time.monotonic() - t0
    await asyncio.sleep(a.settle)
    rss_kib, pids = group_rss_kib(a.pgid)
    # held = connections the server has not closed by the time RSS was read
    held = sum(1 for r, _ in conns if not r.at_eof() and r.exception() is None)
    for _, w in conns:
        w.close()
    await asyncio.sleep(0.2)
    return {
        "n": a.n,
        "opened": len(conns),
        "held": held,
        "open_s": round(open_s, 3),
        "rss_start_mib": round(base_kib / 1024, 2),
        "rss_mib": round(rss_kib / 1024, 2),
        "listen_overflows": listen_overflows() - lo0,
        "kib_per_conn": round((rss_kib - base_kib) / held, 2) if held else None,
        "pids": pids,
        "errors": errors,
        "client_loop": pick_loop(),
    }


async def cmd_rss(a):
    kib, pids = group_rss_kib(a.pgid)
    return {"rss_mib": round(kib / 1024, 2), "pids": pids}


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)

    s = sub.add_parser("wait")
    s.add_argument("--port", type=int, required=True)
    s.add_argument("--pgid", type=int, default=0, help="give up early if this group dies")
    s.add_argument("--timeout", type=float, default=30)

    s = sub.add_parser("check")
    s.add_argument("--port", type=int, required=True)
    s.add_argument("--body", required=True)
    s.add_argument("--timeout", type=float, default=10)

    s = sub.add_parser("check-middleware")
    s.add_argument("--port", type=int, required=True)
    s.add_argument("--timeout", type=float, default=10)

    s = sub.add_parser("blocking")
    s.add_argument("--port", type=int, required=True)
    s.add_argument("--n", type=int, default=10)
    s.add_argument("--probe-after", type=float, default=0.1)
    s.add_argument("--timeout", type=float, default=60)

    s = sub.add_parser("fanin")
    s.add_argument("--port", type=int, required=True)
    s.add_argument("--n", type=int, default=1000)
    s.add_argument("--connect-parallel", type=int, default=64)
    s.add_argument("--timeout", type=float, default=60)

    s = sub.add_parser("idle")
    s.add_argument("--port", type=int, required=True)
    s.add_argument("--pgid", type=int, required=True)
    s.add_argument("--n", type=int, default=10000)
    s.add_argument("--parallel", type=int, default=256)
    s.add_argument("--settle", type=float, default=1.0)
    s.add_argument("--timeout", type=float, default=60)

    s = sub.add_parser("rss")
    s.add_argument("--pgid", type=int, required=True)

    a = p.parse_args()
    nofile = raise_nofile()
    if a.cmd == "idle" and nofile < a.n + 100:
        print(f"note: RLIMIT_NOFILE is {nofile}, fewer than {a.n} connections possible",
              file=sys.stderr)
    result = run(globals()[f"cmd_{a.cmd.replace('-', '_')}"](a))
    out(result)


if __name__ == "__main__":
    main()
