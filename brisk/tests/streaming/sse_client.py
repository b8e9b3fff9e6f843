"""A Server-Sent Events client against the streaming example's /clock:
parses events (event, id, data as JSON), sees keep-alive pings between
them, hangs up, and checks the server stopped producing events for it (the
/produced counter stands still). Prints "ok".

    python3 sse_client.py 127.0.0.1:8000
"""
import http.client
import json
import sys
import time

host, port = sys.argv[1].rsplit(":", 1)


def produced():
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    conn.request("GET", "/produced")
    return json.loads(conn.getresponse().read())["events"]


conn = http.client.HTTPConnection(host, int(port), timeout=10)
conn.request("GET", "/clock?interval_ms=200&ping_ms=50", headers={"Last-Event-ID": "41"})
resp = conn.getresponse()
assert resp.status == 200, resp.status
assert resp.getheader("content-type") == "text/event-stream", resp.getheader("content-type")
assert resp.getheader("cache-control") == "no-cache"

events, pings, fields = [], 0, {}
while len(events) < 4:
    line = resp.readline().decode().rstrip("\n")
    if line.startswith(":"):
        pings += 1
    elif line == "":
        if fields:
            events.append(fields)
        fields = {}
    else:
        name, _, value = line.partition(": ")
        fields[name] = value
assert [e["event"] for e in events] == ["tick"] * 4, events
assert [e["id"] for e in events] == ["42", "43", "44", "45"], events
assert all("unix_ms" in json.loads(e["data"]) for e in events), events
assert pings >= 4, pings

# Hang up; the producer must stop with the connection.
resp.close()
conn.close()
time.sleep(0.5)
after_close = produced()
time.sleep(1.0)
later = produced()
assert later == after_close, (after_close, later)
print(f"ok: {len(events)} events, {pings} pings, producer stopped at {later}")
