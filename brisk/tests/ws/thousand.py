"""Opens 1,000 WebSocket connections to the websocket_chat example at once,
sends a message on each and checks each gets its own echo back. Prints
"1000 ok" and how long it took.

    python3 thousand.py 127.0.0.1:8000
"""
import asyncio
import resource
import sys
import time

import websockets

BASE = f"ws://{sys.argv[1]}/echo"
N = 1000


async def one(i, opened, go):
    async with websockets.connect(BASE, open_timeout=30) as ws:
        opened.append(i)
        await go.wait()
        await ws.send(f"message {i}")
        got = await asyncio.wait_for(ws.recv(), 30)
        assert got == f"message {i}", got
        return True


async def main():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 4096:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(4096, hard), hard))
    opened = []
    go = asyncio.Event()
    start = time.monotonic()
    tasks = [asyncio.create_task(one(i, opened, go)) for i in range(N)]
    while len(opened) < N:
        failed = [t for t in tasks if t.done() and t.exception()]
        if failed:
            raise failed[0].exception()
        await asyncio.sleep(0.05)
        assert time.monotonic() - start < 60, f"only {len(opened)} opened"
    # All 1,000 are open at the same time before any message is sent.
    go.set()
    results = await asyncio.gather(*tasks)
    print(f"{sum(results)} ok in {time.monotonic() - start:.2f} s")


asyncio.run(main())
