#!/usr/bin/env bash
# Server CPU per request for one or more server binaries, measured
# alternately: the quick check behind the commit-by-commit figures in
# README.md's performance section and bench/README.md (bench/run does the
# same per cell).
#
#   bench/tools/cpu_per_request.sh [--log] [--pin] [--reps N] [--path P] [--data FILE] BIN [-- ARGS...]...
#
# Each BIN is started with `--port P --timeout-keep-alive 300` and
# `--no-access-log` (or, with --log, its access log on and stderr to a
# file), warmed up for 2 s, then loaded with `wrk -t1 -c64 -d5s`; utime +
# stime from /proc/PID/stat over the run (read 0.3 s after it, as bench/run
# does), divided by the requests wrk counted, is printed per run (with the
# user and system parts) and as a median per binary. An axum or actix-web
# peer binary from bench/peers works too (started with `--port P` only).
# With --pin the server runs on CPU 0 and wrk on CPU 1 (taskset), so neither
# competes with the other for a core. Extra flags for a brisk binary follow
# it after `--`, up to the next BIN (e.g. `--event-loop-threads 1`).
# With --data FILE every request POSTs FILE as JSON, as bench/run's body
# cell does (e.g. --path /items --data bench/tools/item_1k.json).
set -euo pipefail
log=0 pin=0 reps=3 path=/ port=18390 secs=5 script=()
while [[ $# -gt 0 ]]; do
  case $1 in
    --log) log=1 ;;
    --pin) pin=1 ;;
    --reps) reps=$2; shift ;;
    --path) path=$2; shift ;;
    --data)
      export BENCH_BODY_FILE=$2
      script=(-s "$(dirname "$0")/wrk_report.lua"); shift ;;
    *) break ;;
  esac
  shift
done
[[ $# -gt 0 ]] || { sed -n 2,20p "$0"; exit 2; }
# BIN [-- ARGS...] groups: each entry is "BIN<TAB>ARGS".
bins=()
while [[ $# -gt 0 ]]; do
  bin=$1; shift; extra=()
  if [[ ${1:-} == -- ]]; then
    shift
    while [[ $# -gt 0 && ! -x $1 ]]; do extra+=("$1"); shift; done
  fi
  bins+=("$bin"$'\t'"${extra[*]}")
done
hz=$(getconf CLK_TCK)
ticks() { awk '{s=$0; sub(/^.*\) /,"",s); split(s,f," "); print f[12], f[13]}' "/proc/$1/stat"; }
# Not a function: a function started with `&` runs in a subshell, and $!
# would be that subshell's pid instead of the server's.
server_cpu=() wrk_cpu=()
[[ $pin == 1 ]] && server_cpu=(taskset -c 0) wrk_cpu=(taskset -c 1)
declare -A runs
for r in $(seq "$reps"); do
  for entry in "${bins[@]}"; do
    bin=${entry%%$'\t'*} extra=${entry#*$'\t'}
    case $(basename "$bin") in
      axum-bench|actix-bench) args=(--port "$port") ;;
      *) args=(--port "$port" --timeout-keep-alive 300)
         [[ $log == 1 ]] || args+=(--no-access-log)
         # shellcheck disable=SC2206 # extra flags are split on purpose
         args+=($extra) ;;
    esac
    err=/dev/null
    [[ $log == 1 ]] && err=$(mktemp)
    "${server_cpu[@]}" setsid "$bin" "${args[@]}" >/dev/null 2>>"$err" </dev/null &
    pid=$!
    for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$port$path" && break; sleep 0.1; done
    "${wrk_cpu[@]}" wrk -t1 -c64 -d2s "${script[@]}" "http://127.0.0.1:$port$path" >/dev/null 2>&1
    read -r u0 s0 < <(ticks "$pid")
    out=$("${wrk_cpu[@]}" wrk -t1 -c64 -d"${secs}s" "${script[@]}" "http://127.0.0.1:$port$path" 2>&1)
    sleep 0.3
    read -r u1 s1 < <(ticks "$pid")
    kill -- "-$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true
    [[ $err != /dev/null ]] && rm -f "$err"
    n=$(grep -oE '[0-9]+ requests in' <<<"$out" | cut -d' ' -f1)
    us=$(awk -v t=$((u1 - u0 + s1 - s0)) -v n="$n" -v hz="$hz" 'BEGIN{printf "%.2f", t/hz*1e6/n}')
    split=$(awk -v u=$((u1 - u0)) -v s=$((s1 - s0)) -v n="$n" -v hz="$hz" \
      'BEGIN{printf "user %.2f + system %.2f", u/hz*1e6/n, s/hz*1e6/n}')
    printf '%-40s run %d: %8.0f req/s  %6s µs/request (%s)\n' "$bin $extra" "$r" \
      "$(awk -v n="$n" -v d="$secs" 'BEGIN{print n/d}')" "$us" "$split"
    runs[$entry]+="$us "
  done
done
for entry in "${bins[@]}"; do
  printf '%-40s median %s µs/request\n' "${entry%%$'\t'*} ${entry#*$'\t'}" \
    "$(tr ' ' '\n' <<<"${runs[$entry]}" | grep . | sort -n | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}')"
done
