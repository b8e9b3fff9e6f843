"""FastAPI peer for the brisk side-by-side benchmark (bench/run).

Run: uvicorn fastapi_app:app --host 127.0.0.1 --port 8000 --no-access-log
Same six endpoints and JSON bodies as bench/peers/{axum,actix}-bench.
"""
import asyncio
import time
from typing import List, Optional, Union

from fastapi import FastAPI, Query
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
