"""Drives the websocket_chat example with the Python `websockets` client:
echo (text and binary), JSON validation, broadcast between two members,
close codes (an app-chosen one, 1008 on a bad parameter, 1009 on an
oversized message). Prints "ok" when every check passed.

    python3 chat_client.py 127.0.0.1:8000   # server started with --ws-max-message-size 65536
"""
import asyncio
import json
import sys

import websockets
from websockets.exceptions import ConnectionClosed

BASE = f"ws://{sys.argv[1]}"


async def closed_with(ws):
    """The close frame the server sent (waiting for it)."""
    try:
        while True:
            await ws.recv()
    except ConnectionClosed as closed:
        return closed.rcvd


async def main():
    async with websockets.connect(BASE + "/echo") as ws:
        await ws.send("hello")
        assert await ws.recv() == "hello"
        await ws.send(b"\x00\xff")
        assert await ws.recv() == b"\x00\xff"
        await ws.send("close 4321")
        frame = await closed_with(ws)
        assert (frame.code, frame.reason) == (4321, "asked to close"), frame

    async with websockets.connect(BASE + "/sum") as ws:
        await ws.send(json.dumps({"a": 2, "b": 40}))
        assert json.loads(await ws.recv()) == {"sum": 42}
        await ws.send(json.dumps({"a": "x"}))
        errors = json.loads(await ws.recv())["detail"]
        assert [e["type"] for e in errors] == ["int_parsing", "missing"], errors
        await ws.send(json.dumps({"a": 1, "b": 1}))
        assert json.loads(await ws.recv()) == {"sum": 2}

    # A missing query parameter: accepted, then closed with 1008 and the errors.
    async with websockets.connect(BASE + "/ws/lobby") as ws:
        frame = await closed_with(ws)
        assert frame.code == 1008, frame
        assert json.loads(frame.reason)[0]["loc"] == ["query", "name"], frame.reason

    async with websockets.connect(BASE + "/ws/room1?name=ann") as ann:
        assert json.loads(await ann.recv()) == {"type": "join", "name": "ann", "members": 1}
        async with websockets.connect(BASE + "/ws/room1?name=bob") as bob:
            assert json.loads(await ann.recv())["name"] == "bob"
            assert json.loads(await bob.recv())["members"] == 2
            await ann.send("hi bob")
            for member in (ann, bob):
                got = json.loads(await member.recv())
                assert got == {"type": "message", "name": "ann", "text": "hi bob"}, got
        left = json.loads(await ann.recv())
        assert left == {"type": "leave", "name": "bob", "members": 1}, left

    # Just under --ws-max-message-size, and many times the server's 16 KiB
    # read: echoed whole, in one message.
    async with websockets.connect(BASE + "/echo", max_size=None) as ws:
        big = "".join(chr(ord("a") + i % 26) for i in range(65_000))
        await ws.send(big)
        echoed = await ws.recv()
        assert echoed == big, (len(echoed), echoed[:40])

    # Over --ws-max-message-size: closed with 1009.
    async with websockets.connect(BASE + "/echo", max_size=None) as ws:
        try:
            await ws.send("x" * 100_000)
            frame = await closed_with(ws)
        except ConnectionClosed as closed:
            frame = closed.rcvd
        assert frame is not None and frame.code == 1009, frame

    print("ok")


asyncio.run(main())
