#!/usr/bin/env bash
# A CPU flame graph of one server under the benchmark's load: behind the
# profiles in bench/results/profiles/ and the explanation in bench/README.md.
#
#   bench/tools/flamegraph.sh NAME SCENARIO BIN [ARGS...]
#
# SCENARIO is `hello` (GET /) or `body` (POST /items, 1 KB JSON). BIN is
# started with `--port 18460 ARGS...`, warmed up for 2 s, then loaded with
# `wrk -t1 -c64` while `perf record --call-graph dwarf` samples it for 4 s
# (DWARF unwinding: no frame pointers needed, so the axum and actix-web
# peers profile as they are built). Writes bench/results/profiles/NAME.svg
# (frames under 0.2% of the samples left out). Needs Debian's linux-perf and
# inferno (`cargo install inferno`).
set -euo pipefail
[[ $# -ge 3 ]] || { sed -n 2,13p "$0"; exit 2; }
name=$1 scenario=$2 bin=$3; shift 3
here=$(cd "$(dirname "$0")" && pwd)
out="$here/../results/profiles"
mkdir -p "$out"
port=18460
case $scenario in
  hello) path=/ body= ;;
  body) path=/items body="$here/item_1k.json" ;;
  *) echo "unknown scenario $scenario" >&2; exit 2 ;;
esac
setsid "$bin" --port "$port" "$@" >/dev/null 2>&1 </dev/null &
pid=$!
trap 'kill -- "-$pid" 2>/dev/null || true' EXIT
for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$port/" && break; sleep 0.1; done
load() { BENCH_BODY_FILE="$body" wrk -t1 -c64 -d"$1" -s "$here/wrk_report.lua" "http://127.0.0.1:$port$path" >/dev/null 2>&1; }
load 2s
load 6s &
loader=$!
sleep 1
perf record -F 499 --call-graph dwarf,16384 -p "$pid" -o "/tmp/flame.$name.data" -- sleep 4 >/dev/null 2>&1
wait "$loader"
perf script -i "/tmp/flame.$name.data" 2>/dev/null | inferno-collapse-perf >"/tmp/flame.$name.folded"
inferno-flamegraph --minwidth 0.2 --title "$name: CPU under wrk -t1 -c64 ($scenario)" \
  <"/tmp/flame.$name.folded" >"$out/$name.svg"
rm -f "/tmp/flame.$name.data" "/tmp/flame.$name.folded"
echo "$out/$name.svg"
