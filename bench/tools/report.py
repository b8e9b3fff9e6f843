#!/usr/bin/env python3
"""Turn one bench/run raw directory into NAME.md, NAME.json and NAME.svg.

    report.py --raw bench/results/raw/<stamp> --out bench/results/latest

Standard library only. Also writes <raw>/all.json (every repetition).
"""
import argparse
import json
import math
import os
import statistics
from xml.sax.saxutils import escape

LABELS = {
    "brisk": "brisk",
    "brisk-nowd": "brisk (watchdog off)",
    "brisk-log": "brisk (access log on)",
    "axum": "axum",
    "actix": "actix-web",
    "fastapi-1w": "FastAPI (1w)",
    "fastapi-2w": "FastAPI (2w)",
}
COLORS = {
    "brisk": "#d62728",
    "brisk-nowd": "#ff9896",
    "brisk-log": "#8c564b",
    "axum": "#1f77b4",
    "actix": "#2ca02c",
    "fastapi-1w": "#ff7f0e",
    "fastapi-2w": "#9467bd",
}
THROUGHPUT = ["hello", "params", "body", "sync", "middleware"]
THROUGHPUT_LABELS = {
    "hello": "hello — GET /",
    "params": "params — GET /items/5?q=foo&limit=10",
    "body": "body — POST /items (1 KB JSON)",
    "sync": "sync — GET /sync (threadpool)",
    "middleware": "middleware — GET /big (5 KB), CORS + gzip + request id + trace",
}

# (scenario, field, row label, unit, better, kind)
#   kind: "rate" = median over wrk reps; "blocking"/"fanin"/"idle" = client JSON
CPU_LABEL = "  ↳ server CPU per request"
METRICS = [
    ("hello", "rps", "hello — GET /", "req/s", "higher", "rate"),
    ("hello", "cpu_us_per_req", CPU_LABEL, "µs", "lower", "rate"),
    ("hello", "p50_ms", "hello — p50 latency", "ms", "lower", "rate"),
    ("hello", "p99_ms", "hello — p99 latency", "ms", "lower", "rate"),
    ("params", "rps", THROUGHPUT_LABELS["params"], "req/s", "higher", "rate"),
    ("params", "cpu_us_per_req", CPU_LABEL, "µs", "lower", "rate"),
    ("body", "rps", THROUGHPUT_LABELS["body"], "req/s", "higher", "rate"),
    ("body", "cpu_us_per_req", CPU_LABEL, "µs", "lower", "rate"),
    ("sync", "rps", THROUGHPUT_LABELS["sync"], "req/s", "higher", "rate"),
    ("sync", "cpu_us_per_req", CPU_LABEL, "µs", "lower", "rate"),
    ("middleware", "rps", THROUGHPUT_LABELS["middleware"], "req/s", "higher", "rate"),
    ("middleware", "cpu_us_per_req", CPU_LABEL, "µs", "lower", "rate"),
    ("middleware", "resp_bytes", "  ↳ bytes per response on the wire (gzip level shows here)",
     "B", "lower", "rate"),
    ("blocking", "wall_s", "blocking — 10× POST /delay, all answered", "s", "lower", "timed"),
    ("blocking", "probe_ms", "blocking — GET / sent 100 ms later", "ms", "lower", "probe"),
    ("fanin", "wall_s", "fanin — 1,000× GET /sleep (1 s), all answered", "s", "lower", "timed"),
    ("idle", "rss_start_mib", "idle — RSS of a fresh server", "MiB", "lower", "plain"),
    ("idle", "rss_mib", "idle — RSS holding 10,000 idle conns", "MiB", "lower", "plain"),
    ("idle", "held", "idle — connections still open at RSS read", "conns", "higher", "plain"),
    ("idle", "kib_per_conn", "idle — RSS growth per held connection", "KiB", "lower", "plain"),
    ("sse", "seconds", "sse — 1,000 subscribers × 50 events (one publisher, 20 ms apart), "
     "all delivered", "s", "lower", "stream"),
    ("sse", "cpu_us_per_event", "  ↳ server CPU per event delivered", "µs", "lower", "stream"),
    ("ws", "messages_per_s", "ws — 64 WebSockets echoing 32 B text messages", "msg/s", "higher",
     "stream"),
    ("ws", "cpu_us_per_msg", "  ↳ server CPU per echoed message", "µs", "lower", "stream"),
    ("upload", "mib_per_s", "upload — 4 × 256 MiB multipart files at once", "MiB/s", "higher",
     "stream"),
    ("upload", "cpu_ms_per_mib", "  ↳ server CPU per MiB received", "ms", "lower", "stream"),
    ("upload", "peak_rss_mib", "  ↳ peak server RSS (fresh server)", "MiB", "lower", "peak"),
]


def load_jsonl(path):
    rows = []
    if not os.path.exists(path):
        return rows
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            try:
                rows.append(json.loads(line))
            except ValueError:
                rows.append({"error": f"unparsable: {line[:100]}"})
    return rows


def fmt(v, unit):
    if v is None:
        return "–"
    if isinstance(v, str):
        return v
    if unit in ("req/s", "msg/s", "MiB/s"):
        return f"{v:,.0f}"
    if unit == "conns":
        return f"{v:,.0f}"
    if unit in ("ms",):
        return f"{v:.2f}" if v < 100 else f"{v:,.0f}"
    if unit == "µs":
        return f"{v:.2f}" if v < 100 else f"{v:,.0f}"
    if unit == "B":
        return f"{v:,.0f}"
    if unit == "s":
        return f"{v:.2f}"
    if unit in ("MiB", "KiB"):
        return f"{v:.1f}"
    return f"{v}"


def ratio(a, b):
    if not isinstance(a, (int, float)) or not isinstance(b, (int, float)) or not b:
        return None
    return a / b


def fmt_ratio(r):
    if r is None:
        return "–"
    if r >= 100:
        return f"{r:,.0f}×"
    if r >= 0.01:
        return f"{r:.2f}×"
    return "<0.01×"


def short_rps(v):
    if v >= 1e6:
        return f"{v / 1e6:.2f}M"
    if v >= 1e4:
        return f"{v / 1e3:.0f}k"
    if v >= 1e3:
        return f"{v / 1e3:.1f}k"
    return f"{v:.0f}"


def derive_stream(r):
    """Per-repetition figures of a streaming row (bench/peers/loadgen's JSON
    plus the server's CPU ticks and RSS): CPU per event, message or MiB."""
    if "error" in r or "server_cpu_ticks" not in r:
        return
    cpu_s = r["server_cpu_ticks"] / r["clk_tck"]
    if r.get("events"):
        r["cpu_us_per_event"] = cpu_s * 1e6 / r["events"]
    if r.get("messages"):
        r["cpu_us_per_msg"] = cpu_s * 1e6 / r["messages"]
    if r.get("mib_each") and r.get("correct"):
        r["cpu_ms_per_mib"] = cpu_s * 1e3 / (r["correct"] * r["mib_each"])
    if r.get("hwm_kib"):
        r["peak_rss_mib"] = r["hwm_kib"] / 1024


def stream_problem(r):
    """Why a streaming repetition is not a clean measurement, or None."""
    if r.get("timed_out"):
        return f"not finished after {r.get('timeout_s', 60)} s"
    if r.get("errors"):
        return f"{r['errors']} client(s) failed, e.g. {r.get('first_error')}"
    if "complete" in r and r["complete"] < r["clients"]:
        return f"{r['complete']}/{r['clients']} subscribers got all their events"
    if "correct" in r and r["correct"] < r["conns"]:
        return f"{r['correct']}/{r['conns']} uploads reported the right size"
    return None


def derive(r):
    """Per-repetition figures computed from a wrk row: CPU per request,
    bytes per response, access-log lines per request."""
    if "error" in r or not r.get("requests"):
        derive_stream(r)
        return
    if "server_cpu_ticks" in r:
        r["cpu_us_per_req"] = r["server_cpu_ticks"] / r["clk_tck"] * 1e6 / r["requests"]
    elif "server_cpu_s" in r:
        r["cpu_us_per_req"] = r["server_cpu_s"] * 1e6 / r["requests"]
    if "bytes" in r:
        r["resp_bytes"] = r["bytes"] / r["requests"]
    if "access_log_lines" in r:
        r["access_log_lines_per_req"] = r["access_log_lines"] / r["requests"]


def build(raw_dir):
    meta = json.load(open(os.path.join(raw_dir, "meta.json")))
    fws = meta["frameworks"]
    scenarios = meta["scenarios"]
    data = {"meta": meta, "frameworks": [], "metrics": [], "cpu_per_request": [], "cpu": [],
            "notes": []}
    cells = {}  # (fw, scenario) -> list of rows
    for fw in fws:
        st = meta["status"][fw]
        check = None
        cp = os.path.join(raw_dir, f"{fw}.check.json")
        if os.path.exists(cp):
            try:
                check = json.load(open(cp))
            except ValueError:
                check = {"ok": False, "failures": ["check output unparsable"]}
        data["frameworks"].append({
            "key": fw, "label": LABELS[fw], "status": st["status"],
            "message": st["message"], "check": check,
        })
        for s in scenarios:
            cells[(fw, s)] = rows = load_jsonl(os.path.join(raw_dir, f"{fw}.{s}.jsonl"))
            for r in rows:
                derive(r)
        mp = os.path.join(raw_dir, f"{fw}.check-middleware.json")
        if os.path.exists(mp):
            try:
                data["frameworks"][-1]["check_middleware"] = json.load(open(mp))
            except ValueError:
                data["frameworks"][-1]["check_middleware"] = {
                    "ok": False, "failures": ["check output unparsable"]}

    for scen, field, label, unit, better, kind in METRICS:
        if scen not in scenarios:
            continue
        m = {"scenario": scen, "metric": field, "label": label, "unit": unit,
             "better": better, "values": {}, "reps": {}, "flags": {}}
        for fw in fws:
            rows = cells.get((fw, scen), [])
            if meta["status"][fw]["status"] != "ok":
                m["values"][fw] = "n/a"
                continue
            good = [r for r in rows if "error" not in r]
            errs = [r["error"] for r in rows if "error" in r]
            if errs:
                m["flags"][fw] = "; ".join(sorted(set(errs)))[:200]
            if kind == "rate":
                if any(r.get("other_load") for r in good):
                    m.setdefault("other_load", []).append(fw)
                vals = [r[field] for r in good if field in r]
                m["reps"][fw] = vals
                m["values"][fw] = statistics.median(vals) if vals else None
                if field in ("cpu_us_per_req", "resp_bytes"):  # errors: footnoted on req/s
                    m["flags"].pop(fw, None)
                    continue
                bad = sum(r.get("err_status", 0) + r.get("err_timeout", 0)
                          + r.get("err_connect", 0) + r.get("err_read", 0)
                          + r.get("err_write", 0) for r in good)
                if bad:
                    m["flags"][fw] = (f"wrk counted {bad} errors (status>=400, timeouts, "
                                      f"socket errors) over {len(good)} run(s)")
            elif kind == "timed":
                vals, over = [], False
                for r in good:
                    if r.get("wall_s") is not None:
                        vals.append(r["wall_s"])
                    elif r.get("timed_out"):
                        over = True
                    if r.get("errors"):
                        m["flags"][fw] = (f"{r.get('completed')}/{r.get('n')} answered; "
                                          + "; ".join(r["errors"])[:160])
                lo = [r.get("listen_overflows", 0) for r in good]
                if any(lo):
                    note = (f"the kernel dropped {'/'.join(map(str, lo))} SYN(s) (per run) "
                            "because the server's listen backlog was full; each dropped "
                            "SYN is retried after 1 s")
                    m["flags"][fw] = (m["flags"][fw] + "; " + note) if fw in m["flags"] else note
                m["reps"][fw] = vals if not over else vals + [f">{int(r.get('limit_s', 60))}"]
                if over:
                    m["values"][fw] = f">{int(good[0].get('limit_s', 60))}"
                elif vals:
                    m["values"][fw] = statistics.median(vals)
                else:
                    m["values"][fw] = None
            elif kind == "probe":
                r = good[0] if good else {}
                v = r.get("probe_ms")
                if v is None and r:
                    v = f">{int(r.get('limit_s', 60))} s" if r.get("probe_status") == "timeout" \
                        else f"failed ({r.get('probe_status')})"
                m["values"][fw] = v
                m["reps"][fw] = [v] if r else []
            elif kind in ("stream", "peak"):
                if any(r.get("other_load") for r in good):
                    m.setdefault("other_load", []).append(fw)
                vals = [r[field] for r in good if field in r]
                problems = sorted({p for p in map(stream_problem, good) if p})
                if problems:
                    m["flags"][fw] = "; ".join(problems)[:200]
                if any(r.get("timed_out") for r in good) and not vals:
                    m["values"][fw] = f">{int(good[0].get('timeout_s', 60))}"
                    continue
                m["reps"][fw] = vals
                pick = max if kind == "peak" else statistics.median
                m["values"][fw] = pick(vals) if vals else None
            else:  # plain
                r = good[0] if good else {}
                m["values"][fw] = r.get(field)
                m["reps"][fw] = [r.get(field)] if r else []
                if field == "held" and r and r.get("errors"):
                    m["flags"][fw] = "; ".join(f"{k} ×{v}" for k, v in r["errors"].items())[:200]
        m["ratio_brisk_axum"] = ratio(m["values"].get("brisk"), m["values"].get("axum"))
        m["ratio_brisk_actix"] = ratio(m["values"].get("brisk"), m["values"].get("actix"))
        m["ratio_brisk_fastapi1w"] = ratio(m["values"].get("brisk"), m["values"].get("fastapi-1w"))
        if "brisk-log" in fws:
            m["ratio_brisklog_brisk"] = ratio(m["values"].get("brisk-log"), m["values"].get("brisk"))
        data["metrics"].append(m)

    # The table results/*.md leads with: server CPU µs per request.
    for scen in THROUGHPUT:
        if scen not in scenarios:
            continue
        m = next(x for x in data["metrics"]
                 if x["scenario"] == scen and x["metric"] == "cpu_us_per_req")
        row = {"scenario": scen, "label": THROUGHPUT_LABELS[scen],
               "cpu_us_per_req": m["values"],
               "other_load": m.get("other_load", []),
               "ratio_brisk_axum": m["ratio_brisk_axum"],
               "ratio_brisk_actix": m["ratio_brisk_actix"]}
        if "brisk-log" in fws:
            row["ratio_brisklog_brisk"] = m["ratio_brisklog_brisk"]
            good = [r for r in cells.get(("brisk-log", scen), []) if "access_log_lines" in r]
            if good:
                row["brisk_log_lines_per_request"] = statistics.median(
                    r["access_log_lines_per_req"] for r in good)
        data["cpu_per_request"].append(row)

    for scen in THROUGHPUT:
        if scen not in scenarios:
            continue
        row = {"scenario": scen, "server_cores": {}, "wrk_cores": {}, "other_load": {}}
        for fw in fws:
            good = [r for r in cells.get((fw, scen), []) if "error" not in r and "rps" in r]
            if not good:
                continue
            row["server_cores"][fw] = statistics.median(
                r["server_cpu_s"] / r["duration_s"] for r in good)
            row["wrk_cores"][fw] = statistics.median(r["wrk_cpu_s"] / r["duration_s"] for r in good)
            loads = sorted({r["other_load"] for r in good if r.get("other_load")})
            if loads:
                row["other_load"][fw] = loads
        data["cpu"].append(row)
    data["raw"] = {f"{fw}.{s}": cells[(fw, s)] for fw, s in cells}
    return data


def direction_note(better, unit):
    if better == "higher":
        return "higher"
    return "lower"


def write_md(data, path, svg_name):
    meta = data["meta"]
    fws = meta["frameworks"]
    v = meta["versions"]
    mach = meta["machine"]
    L = []
    L.append("# brisk side-by-side benchmark")
    L.append("")
    footnotes = []
    write_cpu_table(data, L)
    L.append(f"- **Date:** {meta['date']}")
    L.append(f"- **Command:** `{meta['command']}` (mode `{meta['mode']}`: "
             f"R={meta['reps']} repetition(s) of {meta['duration_s']} s per throughput cell "
             f"after a {meta['warmup_s']} s warm-up; median reported)")
    L.append(f"- **Run time:** {meta['total_s']} s in all — setup/builds {meta['build_s']} s, "
             f"measurement {meta['measure_s']} s")
    L.append(f"- **Machine:** {mach['nproc']} cores, {mach['cpu_model']}, {mach['mem_total']} RAM, "
             f"{mach['kernel']}; open-files limit {meta['nofile_limit']}")
    L.append(f"- **Versions:** {v['rustc']}; brisk {v['brisk']}; axum {v['axum']} "
             f"(tokio {v['tokio']}); actix-web {v['actix-web']}; Python {v['python']}, "
             f"FastAPI {v['fastapi']}, Starlette {v['starlette']}, pydantic {v['pydantic']}, "
             f"uvicorn {v['uvicorn']} (uvloop {v['uvloop']}, httptools {v['httptools']}); "
             f"wrk {v['wrk']}")
    L.append(f"- **How cores were shared:** server and load generator run on the same "
             f"{mach['nproc']} cores, unpinned. Each server may use all {mach['nproc']} "
             f"(axum: tokio multi-thread with {mach['nproc']} workers; actix-web: "
             f"{mach['nproc']} workers; uvicorn 1 or 2 processes; brisk: its default). "
             f"wrk runs with 1 thread and {meta['connections']} connections, so it can take at "
             f"most one core; the CPU each side actually used is in the second table. "
             f"The scripted scenarios (blocking, fanin, idle) use one single-threaded Python "
             f"asyncio client.")
    other = sorted({part.split("×")[0] for row in data["cpu"] for ls in row["other_load"].values()
                    for x in ls for part in x.split(",") if part})
    if other:
        L.append(f"- **⚠ Other CPU load seen during some cells (marked †):** {', '.join(other)} "
                 f"(e.g. a concurrent cargo build); those numbers are noisier.")
    L.append("")
    na = [f for f in data["frameworks"] if f["status"] != "ok"]
    for f in na:
        L.append(f"> **{f['label']}: n/a** — {f['message']}")
    if na:
        L.append("")

    # main table
    head = ["scenario / metric", "better"] + [LABELS[f] for f in fws]
    show_ra = "brisk" in fws and "axum" in fws
    show_rx = "brisk" in fws and "actix" in fws
    show_rf = "brisk" in fws and "fastapi-1w" in fws
    if show_ra:
        head.append("brisk/axum")
    if show_rx:
        head.append("brisk/actix-web")
    if show_rf:
        head.append("brisk/FastAPI(1w)")
    L.append("| " + " | ".join(head) + " |")
    L.append("|" + "|".join(["---"] + ["---"] + ["---:"] * (len(head) - 2)) + "|")
    for m in data["metrics"]:
        cells = [f"{m['label']} ({m['unit']})", m["better"]]
        for fw in fws:
            c = fmt(m["values"].get(fw), m["unit"])
            if fw in m.get("other_load", []):
                c += " †"
            if fw in m["flags"]:
                footnotes.append(f"{LABELS[fw]}, {m['label']}: {m['flags'][fw]}")
                c += f" ⚠{len(footnotes)}"
            cells.append(c)
        if show_ra:
            cells.append(fmt_ratio(m["ratio_brisk_axum"]))
        if show_rx:
            cells.append(fmt_ratio(m["ratio_brisk_actix"]))
        if show_rf:
            cells.append(fmt_ratio(m["ratio_brisk_fastapi1w"]))
        L.append("| " + " | ".join(cells) + " |")
    checks = [("check", "endpoint conformance check (all seven endpoints, 422s)",
               "the conformance check")]
    if "middleware" in meta["scenarios"]:
        checks.append(("check_middleware",
                       "middleware stack check (CORS preflight, gzip, request id)",
                       "the middleware stack check"))
    for key, label, what in checks:
        conf = [label, "✓ = pass"]
        for f in data["frameworks"]:
            c = f.get(key)
            if f["status"] != "ok" or c is None:
                conf.append("n/a")
            elif c["ok"]:
                conf.append("✓")
            else:
                footnotes.append(f"{f['label']} failed {what}: "
                                 + "; ".join(c["failures"])[:400])
                conf.append(f"✗ ⚠{len(footnotes)}")
        conf += [""] * (len(head) - len(conf))
        L.append("| " + " | ".join(conf) + " |")
    L.append("")
    L.append("Reading it: each throughput cell is the **median** of R runs (all runs are in "
             "the JSON). *better* says which direction wins for that row. The ratio columns "
             "are brisk's value divided by the other framework's, for every row: on req/s "
             "rows above 1× means brisk is faster; on time, latency, CPU and memory rows below "
             "1× means brisk is better. `>60` means it had not finished after 60 s; `n/a` means "
             "the framework did not build or start.")
    L.append("")
    if other:
        L.append("- † another CPU-heavy process (" + ", ".join(other) + ") was running during "
                 "at least one repetition of this cell; treat it as noisy.")
    sat = sorted({LABELS[fw] for row in data["cpu"] for fw, c in row["wrk_cores"].items()
                  if c >= 0.85})
    if sat:
        L.append(f"- wrk used ≥ 0.85 of a core while measuring {', '.join(sat)}: with server and "
                 "load generator sharing the machine's cores, the load generator is then close to "
                 "being the limit, so gaps of 10–20 % between the Rust frameworks are within what "
                 "this machine can resolve.")
    if footnotes:
        for i, n in enumerate(footnotes, 1):
            L.append(f"- ⚠{i} {n}")
        L.append("")

    if other or sat:
        L.append("")
    if data["cpu"]:
        L.append("CPU actually used during the throughput cells (cores = CPU seconds / wall "
                 "seconds, median of R runs; the machine has "
                 f"{mach['nproc']}):")
        L.append("")
        h = ["scenario"] + [f"{LABELS[f]} server / wrk" for f in fws]
        L.append("| " + " | ".join(h) + " |")
        L.append("|" + "|".join(["---"] + ["---:"] * len(fws)) + "|")
        for row in data["cpu"]:
            cells = [row["scenario"]]
            for fw in fws:
                if fw in row["server_cores"]:
                    cells.append(f"{row['server_cores'][fw]:.2f} / {row['wrk_cores'][fw]:.2f}")
                else:
                    cells.append("n/a")
            L.append("| " + " | ".join(cells) + " |")
        L.append("")

    L.append(f"![requests per second]({svg_name})")
    L.append("")
    L.append("Scenario details: throughput rows use `wrk -t1 -c64 --latency` for "
             f"{meta['duration_s']} s per run; `blocking` is {meta['blocking_n']} concurrent "
             "`POST /delay` (an async handler that calls a blocking 1 s sleep — the pitfall), each "
             "on its own connection, plus one `GET /` on a fresh connection 100 ms later; "
             f"`fanin` is {meta['fanin_n']:,} concurrent `GET /sleep` (a non-blocking 1 s sleep) "
             f"after one warm-up round (at most 64 connects in flight at a time), median of R; `idle` opens {meta['idle_n']:,} keep-alive "
             "connections to a freshly started server, sends one `GET /` on each, then sums "
             "VmRSS over the server's process group. uvicorn runs with `--timeout-keep-alive 300` "
             "and actix-web with `keep_alive(300 s)` so the idle connections are not dropped by "
             "their 5 s default; hyper (axum) has no idle timeout.")
    L.append("")
    if any(x in meta["scenarios"] for x in ("sse", "ws", "upload")):
        L.append("Streaming scenarios (client: `bench/peers/loadgen`, Rust, one thread): "
                 f"`sse` opens {meta['sse_clients']:,} `GET /sse?n={meta['sse_events']}` at once "
                 "(at most 64 connects in flight); each server has one publisher that sends "
                 "`{\"seq\": k}` every 20 ms to every subscriber, and the row is the time until "
                 f"every subscriber has its {meta['sse_events']} events (ideal: "
                 f"{meta['sse_events'] * 0.02:.1f} s plus the time to connect). `ws` keeps "
                 f"{meta['ws_conns']} WebSockets each sending a {meta['ws_size']}-byte text message "
                 f"and awaiting its echo, for {meta['duration_s']} s. `upload` sends "
                 f"{meta['upload_conns']} multipart files of {meta['upload_mib']} MiB at once to a "
                 "freshly started server, which spools each to a temporary file (FastAPI's and "
                 "brisk's `UploadFile`; the axum and actix-web peers write each chunk to a file as "
                 "it arrives); the peak RSS is the sum of `VmHWM` over the server's processes after "
                 "the runs. Server CPU is read from /proc as for the throughput cells. Medians "
                 "of R, after one warm-up run.")
        L.append("")
    L.append(f"Raw per-repetition numbers: `bench/results/raw/{meta['stamp']}/`.")
    L.append("")
    open(path, "w").write("\n".join(L))


def write_cpu_table(data, L):
    """The table results/*.md leads with: server CPU µs per request."""
    rows = data["cpu_per_request"]
    if not rows:
        return
    meta = data["meta"]
    fws = meta["frameworks"]
    cols = [("ratio_brisk_axum", "brisk/axum", "brisk" in fws and "axum" in fws),
            ("ratio_brisk_actix", "brisk/actix-web", "brisk" in fws and "actix" in fws),
            ("ratio_brisklog_brisk", "access log on/off",
             "brisk" in fws and "brisk-log" in fws)]
    cols = [c for c in cols if c[2]]
    L.append(f"**Server CPU per request** (µs; lower is better): utime + stime of all the "
             f"server's processes over each measured wrk run, read from `/proc/PID/stat`, "
             f"divided by the requests wrk counted; median of {meta['reps']} run(s) of "
             f"{meta['duration_s']} s. With server and wrk sharing {meta['machine']['nproc']} "
             f"cores, requests per second are bounded by the load generator for the Rust "
             f"servers; CPU per request is the figure that separates them.")
    L.append("")
    head = ["scenario"] + [LABELS[f] for f in fws] + [c[1] for c in cols]
    L.append("| " + " | ".join(head) + " |")
    L.append("|" + "|".join(["---"] + ["---:"] * (len(head) - 1)) + "|")
    dagger = False
    for row in rows:
        cells = [row["label"]]
        for fw in fws:
            v = row["cpu_us_per_req"].get(fw)
            c = fmt(v, "µs")
            if isinstance(v, (int, float)) and fw in row["other_load"]:
                c += " †"
                dagger = True
            cells.append(c)
        cells += [fmt_ratio(row.get(key)) for key, _, _ in cols]
        L.append("| " + " | ".join(cells) + " |")
    L.append("")
    notes = []
    if any(c[0] == "ratio_brisklog_brisk" for c in cols):
        per = [f"{row['scenario']} {row['brisk_log_lines_per_request']:.3f}"
               for row in rows if row.get("brisk_log_lines_per_request") is not None]
        notes.append("*brisk (access log on)* is brisk's default configuration, its stderr "
                     "(the access log) redirected to a file; *access log on/off* is its figure "
                     "divided by brisk's with `--no-access-log`."
                     + (f" Access-log lines written per request served: {', '.join(per)} "
                        "(below 1: lines dropped by brisk's lossy log queue)." if per else ""))
    if "middleware" in meta["scenarios"] and "actix" in fws:
        notes.append("middleware: actix-web's `Compress` always uses gzip level 1 and "
                     "compresses bodies over 1 KB on its blocking thread pool; brisk, axum "
                     "(tower-http `CompressionLayer`) and FastAPI (`GZipMiddleware`, set to "
                     "the same level) use level 6 — so actix-web's middleware cell does less "
                     "compression work; compare bytes per response in the table below.")
    if dagger:
        notes.append("† another CPU-heavy process was running during at least one repetition "
                     "of this cell.")
    for n in notes:
        L.append(f"- {n}")
    if notes:
        L.append("")


def write_svg(data, path):
    meta = data["meta"]
    fws = meta["frameworks"]
    scen = [s for s in THROUGHPUT if s in meta["scenarios"]]
    vals = {}
    for m in data["metrics"]:
        if m["metric"] == "rps":
            vals[m["scenario"]] = m["values"]
    nums = [v for s in scen for v in vals.get(s, {}).values() if isinstance(v, (int, float)) and v > 0]
    W, H = 960, 540
    left, right, top, bottom = 90, 30, 70, 110
    pw, ph = W - left - right, H - top - bottom
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" '
           f'viewBox="0 0 {W} {H}" font-family="DejaVu Sans, Helvetica, Arial, sans-serif">',
           f'<rect width="{W}" height="{H}" fill="white"/>',
           f'<text x="{W / 2}" y="30" text-anchor="middle" font-size="20" font-weight="bold">'
           'Requests per second (higher is better, log scale)</text>',
           f'<text x="{W / 2}" y="52" text-anchor="middle" font-size="13" fill="#444">'
           f'{escape(meta["date"])} · {meta["machine"]["nproc"]} cores · wrk -t1 -c{meta["connections"]} · '
           f'median of {meta["reps"]} × {meta["duration_s"]} s</text>']
    if not nums or not scen:
        out.append(f'<text x="{W / 2}" y="{H / 2}" text-anchor="middle" font-size="16">'
                   'no throughput results in this run</text></svg>')
        open(path, "w").write("\n".join(out))
        return
    lo = 10 ** math.floor(math.log10(min(nums)))
    hi = None
    d = lo
    while hi is None:
        for k in (1, 2, 5):
            if d * k >= max(nums) * 1.15:
                hi = d * k
                break
        d *= 10
    if hi / lo < 10:
        hi = lo * 10

    def y(v):
        return top + ph - (math.log10(v) - math.log10(lo)) / (math.log10(hi) - math.log10(lo)) * ph

    # grid
    d = lo
    while d <= hi * 1.0001:
        for k in (1, 2, 5):
            g = d * k
            if g > hi * 1.0001:
                break
            yy = y(g)
            major = k == 1
            out.append(f'<line x1="{left}" x2="{left + pw}" y1="{yy:.1f}" y2="{yy:.1f}" '
                       f'stroke="{"#bbb" if major else "#e5e5e5"}" stroke-width="1"/>')
            out.append(f'<text x="{left - 8}" y="{yy + 4:.1f}" text-anchor="end" font-size="12" '
                       f'fill="{"#333" if major else "#888"}">{short_rps(g)}</text>')
        d *= 10
    out.append(f'<text x="22" y="{top + ph / 2}" text-anchor="middle" font-size="13" '
               f'transform="rotate(-90 22 {top + ph / 2})">requests / s</text>')
    gw = pw / len(scen)
    bw = min(36, (gw - 30) / len(fws))
    for i, s in enumerate(scen):
        gx = left + i * gw + (gw - bw * len(fws)) / 2
        for j, fw in enumerate(fws):
            v = vals.get(s, {}).get(fw)
            x = gx + j * bw
            if isinstance(v, (int, float)) and v > 0:
                yy = y(v)
                out.append(f'<rect x="{x + 2:.1f}" y="{yy:.1f}" width="{bw - 4:.1f}" '
                           f'height="{top + ph - yy:.1f}" fill="{COLORS[fw]}"/>')
                out.append(f'<text x="{x + bw / 2:.1f}" y="{yy - 5:.1f}" text-anchor="middle" '
                           f'font-size="11">{short_rps(v)}</text>')
            else:
                out.append(f'<text x="{x + bw / 2:.1f}" y="{top + ph - 6}" text-anchor="middle" '
                           f'font-size="11" fill="#888">n/a</text>')
        label = {"hello": "hello  GET /", "params": "params  GET /items/5",
                 "body": "body  POST /items 1 KB", "sync": "sync  GET /sync",
                 "middleware": "middleware  GET /big"}[s]
        out.append(f'<text x="{left + i * gw + gw / 2:.1f}" y="{top + ph + 22}" '
                   f'text-anchor="middle" font-size="14" font-weight="bold">{escape(label)}</text>')
    out.append(f'<line x1="{left}" x2="{left + pw}" y1="{top + ph}" y2="{top + ph}" stroke="#333"/>')
    # legend
    lx = left
    ly = H - 40
    for fw in fws:
        st = next(f for f in data["frameworks"] if f["key"] == fw)
        name = LABELS[fw] + ("" if st["status"] == "ok" else " (n/a)")
        out.append(f'<rect x="{lx}" y="{ly - 12}" width="16" height="16" fill="{COLORS[fw]}"/>')
        out.append(f'<text x="{lx + 22}" y="{ly + 1}" font-size="14">{escape(name)}</text>')
        lx += 40 + 9 * len(name)
    out.append("</svg>")
    open(path, "w").write("\n".join(out))


def fill_readme(data, readme, md_name):
    """Replace the machine block of bench/README.md with this run's machine."""
    meta = data["meta"]
    mach, v = meta["machine"], meta["versions"]
    try:
        text = open(readme).read()
    except OSError:
        return
    begin = text.find("<!-- machine:begin")
    end = text.find("<!-- machine:end -->")
    if begin < 0 or end < 0:
        return
    begin = text.index("\n", begin) + 1
    block = "\n".join([
        f"Last `{meta['command']}` ({meta['date']}, results in "
        f"[`results/{md_name}`](results/{md_name})):",
        "",
        f"- CPU: {mach['nproc']} cores, {mach['cpu_model']}; RAM {mach['mem_total']}",
        f"- Kernel: {mach['kernel']}; open-files limit {meta['nofile_limit']}",
        f"- Toolchain: {v['rustc']}; Python {v['python']}; wrk {v['wrk']}",
        f"- Run time: {meta['total_s']} s (setup/builds {meta['build_s']} s, "
        f"measurement {meta['measure_s']} s)",
        "",
    ])
    open(readme, "w").write(text[:begin] + block + text[end:])


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--raw", required=True)
    p.add_argument("--out", required=True, help="path prefix, e.g. bench/results/latest")
    p.add_argument("--readme", help="README whose machine block to refresh")
    a = p.parse_args()
    data = build(a.raw)
    with open(os.path.join(a.raw, "all.json"), "w") as f:
        json.dump(data, f, indent=1)
    summary = {k: v for k, v in data.items() if k != "raw"}
    with open(a.out + ".json", "w") as f:
        json.dump(summary, f, indent=1)
    write_svg(data, a.out + ".svg")
    write_md(data, a.out + ".md", os.path.basename(a.out) + ".svg")
    if a.readme:
        fill_readme(data, a.readme, os.path.basename(a.out) + ".md")


if __name__ == "__main__":
    main()
