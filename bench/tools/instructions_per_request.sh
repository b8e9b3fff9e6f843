#!/usr/bin/env bash
# User-space instructions per request of one or more server binaries, counted
# by valgrind's callgrind: a figure that does not move with the host's load,
# unlike CPU time on this shared 2-core machine (where two runs of the same
# binary differ by 15-25 %). It counts only instructions executed in the
# server's own process (no kernel time, no cache misses, no wake-ups), so it
# tells whether a change to the request path did less work; whether that
# work was what cost the time, the CPU measurements still decide
# (cpu_per_request.sh, bench/run).
#
#   bench/tools/instructions_per_request.sh [--n N] [--path P] [--data FILE] [--top K] BIN [-- ARGS...]...
#
# Each BIN runs under `valgrind --tool=callgrind` on port 18476 (a brisk
# binary with `--no-access-log` unless ARGS give its flags; an axum or
# actix-web peer from bench/peers with `--port` only). h2load (nghttp2-client)
# sends 3,000 warm-up requests, the counters are zeroed, then N more
# (default 10,000) over 8 keep-alive HTTP/1.1 connections are counted and
# divided by N. With --data FILE, every request is a POST of FILE as
# `application/json` (e.g. bench/tools/item_1k.json on /items, the body
# cell). Two runs of one binary agree to about 0.1 %. With --top K,
# the K functions with the most inclusive instructions per request follow.
# Needs valgrind and nghttp2-client (Debian packages).
set -euo pipefail
n=10000 path=/ top=0 port=18476 post=()
while [[ $# -gt 0 ]]; do
  case $1 in
    --n) n=$2; shift ;;
    --path) path=$2; shift ;;
    --top) top=$2; shift ;;
    --data) post=(-d "$2" -H 'content-type: application/json'); shift ;;
    *) break ;;
  esac
  shift
done
[[ $# -gt 0 ]] || { sed -n 2,22p "$0"; exit 2; }
for tool in valgrind callgrind_annotate callgrind_control h2load; do
  command -v "$tool" >/dev/null || { echo "needs $tool (apt-get install valgrind nghttp2-client)" >&2; exit 2; }
done
out=$(mktemp -d)
trap 'pkill -f -- "--port $port" 2>/dev/null || true; rm -rf "$out"' EXIT
while [[ $# -gt 0 ]]; do
  bin=$1; shift; extra=()
  if [[ ${1:-} == -- ]]; then
    shift
    while [[ $# -gt 0 && ! -x $1 ]]; do extra+=("$1"); shift; done
  fi
  case $(basename "$bin") in
    axum-bench|actix-bench) args=() ;;
    *) args=(--no-access-log) ;;
  esac
  [[ ${#extra[@]} -gt 0 ]] && args=("${extra[@]}")
  setsid valgrind --tool=callgrind --callgrind-out-file="$out/cg.%p" \
    "$bin" "${args[@]}" --port "$port" >/dev/null 2>"$out/valgrind.log" </dev/null &
  up=0
  for _ in $(seq 200); do
    curl -s -o /dev/null "http://127.0.0.1:$port$path" && { up=1; break; }
    sleep 0.3
  done
  [[ $up == 1 ]] || { echo "$bin did not start; valgrind said:" >&2; cat "$out/valgrind.log" >&2; exit 1; }
  h2load --h1 -n 3000 -c 8 "${post[@]}" "http://127.0.0.1:$port$path" >/dev/null
  callgrind_control -z >/dev/null 2>&1
  done_line=$(h2load --h1 -n "$n" -c 8 "${post[@]}" "http://127.0.0.1:$port$path" | grep -E '^requests:')
  callgrind_control -d >/dev/null 2>&1
  pkill -f -- "--port $port"
  sleep 2
  # The dump taken by `callgrind_control -d` is part 1 (`.1`); the part
  # written at exit holds only the shutdown.
  dump=$(ls -t "$out"/cg.*.1 | head -1)
  total=$(callgrind_annotate "$dump" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1}')
  printf '%-50s %8d instructions per request   (%s)\n' "$(basename "$bin") ${args[*]}" $((total / n)) "$done_line"
  if [[ $top -gt 0 ]]; then
    callgrind_annotate --threshold=100 --inclusive=yes "$dump" 2>/dev/null \
      | awk -v n="$n" -v k="$top" '/^ *[0-9,]+ \(/ && !/PROGRAM TOTALS/ {
          c=$1; gsub(",", "", c); $1=""; $2=""; sub(/^ +/, "");
          # Thread start-up frames: every request is under them.
          if ($0 ~ /clone|start_thread|thread_start|call_once|__rust_begin_short_backtrace/) next;
          sub(/ \[[^]]*\]$/, ""); sub(/^\?\?\?:/, "");
          if (++shown <= k) printf "  %8.0f  %s\n", c / n, substr($0, 1, 150) }'
  fi
  rm -f "$out"/cg.*
done
