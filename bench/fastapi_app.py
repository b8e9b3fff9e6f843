"""FastAPI peer for the brisk side-by-side benchmark (bench/run).

Run: uvicorn fastapi_app:app --host 127.0.0.1 --port 8000 --no-access-log
Same endpoints and JSON bodies as bench/peers/{axum,actix}-bench: the seven
of the throughput scenarios, and three for streaming (`GET /sse`, the
WebSocket `/ws`, `POST /upload`).

With BENCH_MIDDLEWARE=1 in the environment (the `middleware` scenario) the
app gets Starlette's and small pure-ASGI equivalents of the tower-http stack
in brisk/examples/bench.rs, outermost first: a request id (generated as a
UUID v4 unless the client sent one, set on the request and copied onto the
response: SetRequestIdLayer + PropagateRequestIdLayer), a request trace
(what TraceLayer::new_for_http() does by default: DEBUG records when the
request starts and when the response starts, with latency and status, on a
logger whose level stays at the default WARNING, so — like TraceLayer's
DEBUG spans under an INFO filter — nothing is printed), CORSMiddleware and
GZipMiddleware (compresslevel 6, tower-http's default, instead of
Starlette's 9).
"""
import asyncio
import logging
import os
import time
import uuid
from typing import List, Optional, Union

from fastapi import FastAPI, Query, UploadFile, WebSocket, WebSocketDisconnect
from fastapi.responses import StreamingResponse
from pydantic import BaseModel

app = FastAPI()


class Item(BaseModel):
    name: str
    description: Union[str, None] = None
    price: float
    tax: Union[float, None] = None
    tags: List[str] = []


@app.get("/")
async def root():
    return {"message": "Hello World"}


@app.get("/sync")
def sync_root():
    # A plain `def` handler: FastAPI runs it in its threadpool.
    return {"message": "Hello World"}


@app.get("/items/{item_id}")
async def read_item(
    item_id: int,
    q: Optional[str] = Query(None, max_length=50),
    limit: int = Query(10, ge=1, le=100),
):
    return {"item_id": item_id, "q": q, "limit": limit}


@app.post("/items")
async def create_item(item: Item):
    return item


@app.post("/delay")
async def delay():
    # The pitfall, on purpose: a blocking call inside `async def`
    # freezes the event loop for every other request on this worker.
    time.sleep(1)
    return {"message": "done"}


@app.get("/sleep")
async def sleep():
    await asyncio.sleep(1)
    return {"message": "done"}


@app.get("/big")
async def big():
    # About 5 KB of JSON, big enough to be worth compressing.
    return {
        "items": [
            {"id": i, "name": f"item {i}", "description": "a thing that is for sale",
             "price": i * 1.25}
            for i in range(64)
        ]
    }


# `sse`: one publisher, many subscribers. A ticker started by the first
# subscriber publishes {"seq": k} every 20 ms to every open subscription;
# `GET /sse?n=N` streams the next N events and ends.
SSE_INTERVAL = 0.02
_subscribers: "set[asyncio.Queue]" = set()
_ticker: "asyncio.Task | None" = None


async def _publish_forever():
    seq = 0
    while True:
        await asyncio.sleep(SSE_INTERVAL)
        payload = f'{{"seq":{seq}}}'
        for queue in _subscribers:
            queue.put_nowait(payload)
        seq += 1


@app.get("/sse")
async def sse(n: int = Query(50, ge=1, le=100_000)):
    global _ticker
    if _ticker is None:
        _ticker = asyncio.create_task(_publish_forever())
    queue: asyncio.Queue = asyncio.Queue()
    _subscribers.add(queue)

    async def events():
        try:
            for _ in range(n):
                payload = await queue.get()
                yield f"data: {payload}\n\n"
        finally:
            _subscribers.discard(queue)

    return StreamingResponse(
        events(),
        media_type="text/event-stream",
        headers={"cache-control": "no-cache", "x-accel-buffering": "no"},
    )


@app.websocket("/ws")
async def ws_echo(websocket: WebSocket):
    # `ws`: echo every text and binary message.
    await websocket.accept()
    try:
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            if message.get("text") is not None:
                await websocket.send_text(message["text"])
            elif message.get("bytes") is not None:
                await websocket.send_bytes(message["bytes"])
    except WebSocketDisconnect:
        return


@app.post("/upload")
async def upload(file: UploadFile):
    # `upload`: Starlette spools the part to a temporary file beyond 1 MiB.
    return {"filename": file.filename, "size": file.size}


class RequestIdMiddleware:
    """Pure ASGI: SetRequestIdLayer + PropagateRequestIdLayer."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        rid = None
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                rid = value
                break
        if rid is None:
            rid = str(uuid.uuid4()).encode()
            scope["headers"] = [*scope["headers"], (b"x-request-id", rid)]

        async def send_with_id(message):
            if message["type"] == "http.response.start":
                headers = message.setdefault("headers", [])
                if not any(k.lower() == b"x-request-id" for k, _ in headers):
                    headers.append((b"x-request-id", rid))
            await send(message)

        await self.app(scope, receive, send_with_id)


trace_log = logging.getLogger("bench.trace")


class TraceMiddleware:
    """Pure ASGI: TraceLayer::new_for_http()'s default events (DEBUG)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = time.perf_counter()
        trace_log.debug("started processing request %s %s", scope["method"], scope["path"])

        async def send_traced(message):
            if message["type"] == "http.response.start":
                latency_ms = (time.perf_counter() - started) * 1000
                status = message["status"]
                if status >= 500:
                    trace_log.error("response failed: status %d, latency %.3f ms",
                                    status, latency_ms)
                else:
                    trace_log.debug("finished processing request: status %d, latency %.3f ms",
                                    status, latency_ms)
            await send(message)

        await self.app(scope, receive, send_traced)


if os.environ.get("BENCH_MIDDLEWARE") == "1":
    from starlette.middleware.cors import CORSMiddleware
    from starlette.middleware.gzip import GZipMiddleware

    # add_middleware puts each new one outside the others: the one added last
    # runs first (request id, trace, CORS, gzip).
    app.add_middleware(GZipMiddleware, compresslevel=6)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=["http://localhost:3000"],
        allow_methods=["GET", "POST"],
        allow_headers=["content-type", "x-request-id"],
        expose_headers=["x-request-id"],
        max_age=600,
    )
    app.add_middleware(TraceMiddleware)
    app.add_middleware(RequestIdMiddleware)
