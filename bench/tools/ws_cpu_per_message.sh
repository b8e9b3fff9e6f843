#!/usr/bin/env bash
# Server CPU per echoed WebSocket message for one or more server binaries,
# measured alternately: the quick check behind the WebSocket figures in
# bench/README.md ("WebSocket messages, and one event loop per thread");
# bench/run's `ws` scenario does the same per cell.
#
#   bench/tools/ws_cpu_per_message.sh [--reps N] BIN...
#
# Each BIN (the brisk `bench` example, or the axum / actix-web peer) is
# started on a free port, warmed up for 2 s, then loaded with
# `loadgen ws --conns 64 --duration 5 --size 32` (bench/peers/loadgen,
# built by `cargo build --release` in bench/peers); utime + stime from
# /proc/PID/stat over the run (read 0.3 s after it), divided by the
# messages echoed, is printed per run.
set -euo pipefail
reps=3 port=18411
if [[ ${1:-} == --reps ]]; then reps=$2; shift 2; fi
[[ $# -gt 0 ]] || { sed -n 2,14p "$0"; exit 2; }
loadgen=$(dirname "$0")/../peers/target/release/loadgen
[[ -x $loadgen ]] || { echo "build it first: (cd bench/peers && cargo build --release -p loadgen)"; exit 2; }
hz=$(getconf CLK_TCK)
ticks() { awk '{s=$0; sub(/^.*\) /,"",s); split(s,f," "); print f[12]+f[13]}' "/proc/$1/stat"; }
for r in $(seq "$reps"); do
  for bin in "$@"; do
    case $(basename "$bin") in
      axum-bench|actix-bench) args=(--port "$port") ;;
      *) args=(--port "$port" --no-access-log) ;;
    esac
    "$bin" "${args[@]}" >/dev/null 2>&1 &
    pid=$!
    sleep 1
    "$loadgen" ws --addr "127.0.0.1:$port" --conns 64 --duration 2 --size 32 >/dev/null
    before=$(ticks "$pid")
    out=$("$loadgen" ws --addr "127.0.0.1:$port" --conns 64 --duration 5 --size 32)
    sleep 0.3
    after=$(ticks "$pid")
    kill "$pid"; wait "$pid" 2>/dev/null || true
    python3 - "$bin" "$out" "$before" "$after" "$hz" "$r" <<'PY'
import json, sys
bin, out, before, after, hz, r = sys.argv[1:]
report = json.loads(out)
messages = report["messages"]
cpu_us = (int(after) - int(before)) / int(hz) * 1e6
print(f"{bin:40s} run {r}: {report['messages_per_s']:9.0f} msg/s  {cpu_us / max(messages, 1):6.2f} µs/message"
      + (f"  ({report['errors']} errors)" if report.get("errors") else ""))
PY
  done
done
