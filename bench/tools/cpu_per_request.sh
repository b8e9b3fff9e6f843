#!/usr/bin/env bash
# Server CPU per request for one or more server binaries, measured
# alternately: the quick check behind the commit-by-commit figures in
# README.md's performance section (bench/run does the same per cell).
#
#   bench/tools/cpu_per_request.sh [--log] [--reps N] [--path P] BIN...
#
# Each BIN is started with `--port P --timeout-keep-alive 300` and
# `--no-access-log` (or, with --log, its access log on and stderr to a
# file), warmed up for 2 s, then loaded with `wrk -t1 -c64 -d5s`; utime +
# stime from /proc/PID/stat over the run, divided by the requests wrk
# counted, is printed per run and as a median per binary. An axum or
# actix-web peer binary from bench/peers works too (without --log).
set -euo pipefail
log=0 reps=3 path=/ port=18390
while [[ $# -gt 0 ]]; do
  case $1 in
    --log) log=1 ;;
    --reps) reps=$2; shift ;;
    --path) path=$2; shift ;;
    *) break ;;
  esac
  shift
done
[[ $# -gt 0 ]] || { sed -n 2,13p "$0"; exit 2; }
hz=$(getconf CLK_TCK)
ticks() { awk '{s=$0; sub(/^.*\) /,"",s); split(s,f," "); print f[12]+f[13]}' "/proc/$1/stat"; }
declare -A runs
for r in $(seq "$reps"); do
  for bin in "$@"; do
    args=(--port "$port" --timeout-keep-alive 300)
    case $(basename "$bin") in axum-bench|actix-bench) args=(--port "$port") ;; esac
    err=/dev/null
    if [[ $log == 1 ]]; then err=$(mktemp); else
      [[ ${args[*]} == *keep-alive* ]] && args+=(--no-access-log); fi
    setsid "$bin" "${args[@]}" >/dev/null 2>>"$err" </dev/null &
    pid=$!
    for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$port$path" && break; sleep 0.1; done
    wrk -t1 -c64 -d2s "http://127.0.0.1:$port$path" >/dev/null 2>&1
    t0=$(ticks "$pid")
    out=$(wrk -t1 -c64 -d5s "http://127.0.0.1:$port$path" 2>&1)
    sleep 0.2
    t1=$(ticks "$pid")
    kill -- "-$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true
    [[ $err != /dev/null ]] && rm -f "$err"
    n=$(grep -oE '[0-9]+ requests in' <<<"$out" | cut -d' ' -f1)
    us=$(awk -v a="$t0" -v b="$t1" -v n="$n" -v hz="$hz" 'BEGIN{printf "%.2f", (b-a)/hz*1e6/n}')
    printf '%-40s run %d: %8.0f req/s  %6s µs/request\n' "$bin" "$r" "$(awk -v n="$n" 'BEGIN{print n/5}')" "$us"
    runs[$bin]+="$us "
  done
done
for bin in "$@"; do
  printf '%-40s median %s µs/request\n' "$bin" \
    "$(tr ' ' '\n' <<<"${runs[$bin]}" | grep . | sort -n | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}')"
done
