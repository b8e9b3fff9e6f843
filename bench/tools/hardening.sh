#!/usr/bin/env bash
# The hardening issue's scenarios from outside, against the release examples:
# prints one line of figures per scenario. Needs wrk and curl; run after
# `cargo build --release --examples -p brisk`. (The same scenarios, with
# assertions, are `cargo test --test hardening` and tests/workers.rs.)
set -uo pipefail
cd "$(dirname "$0")/../.."
EX=target/release/examples
PORT=${PORT:-18700}
url="http://127.0.0.1:$PORT"

wait_up() { for _ in $(seq 100); do curl -s -o /dev/null "$url/" && return 0; sleep 0.1; done; return 1; }
stop() { kill -TERM "$1" 2>/dev/null; wait "$1" 2>/dev/null; }

echo "== 1. nested JSON (100,000 '[') to POST /items (bench example)"
$EX/bench --port $PORT --no-access-log 2>/dev/null & pid=$!; wait_up
python3 -c "print('['*100000, end='')" > /tmp/nested.json
for proto in --http1.1 --http2-prior-knowledge; do
  printf '%s: ' "$proto"
  curl -s $proto -w ' -> %{http_code}\n' -H 'content-type: application/json' --data-binary @/tmp/nested.json "$url/items"
done
printf 'alive: '; curl -s "$url/"; echo; stop $pid

echo "== 2. stderr nobody reads (hello, 20,000 keep-alive requests)"
rm -f /tmp/brisk.fifo; mkfifo /tmp/brisk.fifo; exec 3<>/tmp/brisk.fifo
$EX/hello --port $PORT 2>&3 & pid=$!; wait_up
start=$(date +%s.%N)
wrk -t1 -c1 -d8s "$url/" | grep -E "requests in|Socket errors|Non-2xx" | sed 's/^/   /'
echo "   (stderr stalled after ~580 lines before the fix; now it keeps serving)"
stop $pid; exec 3>&-; rm -f /tmp/brisk.fifo

echo "== 3. 500 silent connections (hello, --timeout-keep-alive 5)"
$EX/hello --port $PORT --no-access-log 2>/dev/null & pid=$!; wait_up
python3 - "$PORT" <<'PY'
import socket, sys, time
port = int(sys.argv[1]); start = time.time()
conns = [socket.create_connection(("127.0.0.1", port)) for _ in range(500)]
for c in conns: c.settimeout(30)
last = 0.0; open_ = 0
for c in conns:
    try:
        c.recv(1); last = max(last, time.time() - start)
    except socket.timeout:
        open_ += 1
print(f"   all closed after {last:.1f} s (still open at 30 s: {open_})")
PY
stop $pid

echo "== 4. 300 bodies trickled at 1 byte / 2 s (production /echo)"
$EX/production --port $PORT --no-access-log 2>/dev/null & pid=$!; wait_up
python3 - "$PORT" <<'PY'
import socket, sys, time, threading
port = int(sys.argv[1]); start = time.time(); cut = []
def client():
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n")
    s.settimeout(0.1)
    while time.time() - start < 60:
        try:
            if s.recv(65536) == b"": break
            data = True
        except socket.timeout:
            pass
        except OSError:
            break
        try: s.send(b" ")
        except OSError: break
        time.sleep(2)
    cut.append(time.time() - start)
ts = [threading.Thread(target=client) for _ in range(300)]
[t.start() for t in ts]; [t.join() for t in ts]
cut.sort()
print(f"   cut: first after {cut[0]:.1f} s, median {cut[len(cut)//2]:.1f} s, last {cut[-1]:.1f} s (of {len(cut)})")
PY
stop $pid

echo "== 5. 30 clients POST 12 MB to /echo and never read (production)"
$EX/production --port $PORT --no-access-log 2>/dev/null & pid=$!; wait_up
python3 - "$PORT" "$pid" <<'PY'
import socket, sys, time, threading
port, pid = int(sys.argv[1]), sys.argv[2]
rss = lambda: int([l for l in open(f"/proc/{pid}/status") if l.startswith("VmRSS")][0].split()[1]) // 1024
base = rss(); body = b'"' + b"x" * (12 << 20) + b'"'
head = b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body)
socks = []
def send():
    s = socket.create_connection(("127.0.0.1", port)); s.sendall(head + body); socks.append(s)
ts = [threading.Thread(target=send) for _ in range(30)]
[t.start() for t in ts]; [t.join() for t in ts]
start = time.time(); peak = rss()
while time.time() - start < 60 and rss() > base + 50:
    time.sleep(0.5); peak = max(peak, rss())
print(f"   RSS: {base} MiB idle, {peak} MiB with 30 slow readers, {rss()} MiB {time.time()-start:.0f} s later (--timeout-write-idle 30)")
PY
stop $pid

echo "== 6. Content-Length 1 GiB against --max-body-size 1024 (production)"
$EX/production --port $PORT --no-access-log --max-body-size 1024 2>/dev/null & pid=$!; wait_up
python3 - "$PORT" <<'PY'
import socket, sys, time
port = int(sys.argv[1]); t = time.time()
s = socket.create_connection(("127.0.0.1", port)); s.settimeout(10)
s.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 1073741824\r\n\r\n")
line = s.recv(200).split(b"\r\n")[0].decode()
print(f"   HTTP/1.1 with Expect: 100-continue: {line} after {1000*(time.time()-t):.1f} ms")
PY
head -c $((17*1024*1024)) /dev/zero | tr '\0' 'x' > /tmp/17m.bin
printf '   h2c 17 MiB (limit 16 MiB default): '
stop $pid
$EX/production --port $PORT --no-access-log 2>/dev/null & pid=$!; wait_up
curl -s --http2-prior-knowledge -o /dev/null -w '%{http_code} after %{time_total} s\n' --data-binary @/tmp/17m.bin "$url/echo"
stop $pid; rm -f /tmp/17m.bin /tmp/nested.json

for mode in sighup recycle; do
  echo "== 7. wrk -c50 20 s on main_worker --workers 4: $mode"
  extra=(); [ $mode = recycle ] && extra=(--limit-max-requests 50000 --limit-max-requests-jitter 5000)
  $EX/main_worker --port $PORT --workers 4 --no-access-log "${extra[@]}" 2>/tmp/brisk-$mode.log & pid=$!; wait_up
  [ $mode = sighup ] && (sleep 5; kill -HUP $pid) &
  wrk -t2 -c50 -d20s "$url/" | grep -E "requests in|Socket errors|Non-2xx" | sed 's/^/   /'
  [ $mode = sighup ] && echo "   workers replaced: $(grep -c 'old worker drained' /tmp/brisk-$mode.log)"
  [ $mode = recycle ] && echo "   workers recycled: $(grep -c 'retiring this process' /tmp/brisk-$mode.log)"
  stop $pid
done
echo "   (no 'Socket errors' line means none)"

echo "== 8. watchdog with 8 CPU hogs beside main_simple: GET / under wrk, then one blocking POST /delay"
hogs=(); for _ in $(seq 8); do (while :; do :; done) & hogs+=($!); done
$EX/main_simple --port $PORT --no-access-log 2>/tmp/brisk-hog.log & pid=$!; wait_up
wrk -t1 -c16 -d10s "$url/" | grep -E "requests in" | sed 's/^/   /'
curl -s -X POST "$url/delay" -o /dev/null
kill "${hogs[@]}" 2>/dev/null; wait "${hogs[@]}" 2>/dev/null
echo "   routes reported as blocking: $(grep -o 'async handler [A-Z]* [^ ]*' /tmp/brisk-hog.log | sort -u | tr '\n' ' ')"
stop $pid

echo "== 9. supervisor killed with SIGKILL (main_worker --workers 2 --timeout-graceful-shutdown 3)"
$EX/main_worker --port $PORT --workers 2 --timeout-graceful-shutdown 3 --no-access-log 2>/dev/null & pid=$!; wait_up
sleep 0.5; children=$(cat /proc/$pid/task/$pid/children)
kill -KILL $pid; t0=$(date +%s.%N)
for _ in $(seq 100); do alive=0; for c in $children; do kill -0 $c 2>/dev/null && alive=1; done; [ $alive = 0 ] && break; sleep 0.1; done
echo "   workers $children: all gone after $(echo "$(date +%s.%N) - $t0" | bc | cut -c1-4) s"
