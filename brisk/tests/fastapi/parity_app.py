"""FastAPI's tutorial topics in one app: the FastAPI twin of the brisk app in
brisk/tests/fastapi_parity.rs (`parity_app`). record_parity.py sends the same
requests to it and records the answers and its OpenAPI document; the Rust
test replays them against brisk and compares."""
from enum import Enum
from typing import Annotated

from fastapi import APIRouter, Body, Cookie, Depends, FastAPI, Header, HTTPException, Path, Query
from pydantic import BaseModel

app = FastAPI(title="Parity", version="1.0.0")


class ModelName(str, Enum):
    alexnet = "alexnet"
    resnet = "resnet"
    lenet = "lenet"


class Image(BaseModel):
    url: str
    name: str


class Item(BaseModel):
    name: str
    description: str | None = None
    price: float
    tax: float | None = None
    tags: set[str] = set()
    images: list[Image] | None = None


class User(BaseModel):
    username: str
    full_name: str | None = None


# Path and query numbers, as pydantic parses them (lax mode).
@app.get("/numbers/{item_id}")
async def numbers(
    item_id: int,
    size: Annotated[float, Query(gt=0, lt=10.5)] = 1.0,
    count: int = 0,
    big: int | None = None,
):
    return {"item_id": item_id, "size": size, "count": count, "big": big}


# An enum path parameter (the path-parameter tutorial's ModelName).
@app.get("/models/{model_name}")
async def get_model(model_name: ModelName):
    return {"model_name": model_name}


# A path parameter spanning segments.
@app.get("/files/{file_path:path}")
async def read_file(file_path: str):
    return {"file_path": file_path}


# Error order: dependencies first, then path, query, header, cookie, body,
# whatever order the signature lists them in.
async def dep_limit(dep_limit: int):
    return dep_limit


@app.put("/order/{item_id}")
async def order(
    item: Item,
    session: Annotated[int, Cookie()],
    x_count: Annotated[int, Header()],
    q: int,
    item_id: int,
    limit: Annotated[int, Depends(dep_limit)],
):
    return {"item_id": item_id}


# JSON bodies and content types.
@app.post("/items/", status_code=201)
async def create_item(item: Item) -> Item:
    return item


@app.get("/items/")
async def list_items():
    return []


@app.get("/users/me")
async def read_user_me() -> User:
    return User(username="me")


# Lists: optional lists in query and headers, list defaults.
@app.get("/lists")
async def lists(
    q: Annotated[list[str] | None, Query()] = None,
    x_tag: Annotated[list[str] | None, Header()] = None,
    ids: Annotated[list[int], Query()] = [1, 2],
):
    return {"q": q, "x_tag": x_tag, "ids": ids}


# A map body: pydantic validates keys and values.
@app.post("/index-weights/")
async def create_index_weights(weights: dict[int, float]) -> dict[int, float]:
    return weights


# Two body parameters are embedded under their names; Body(embed=True) too.
@app.put("/multi/{item_id}")
async def update_multi(item_id: int, item: Item, user: User, importance: Annotated[int, Body()]):
    return {"item_id": item_id, "item": item, "user": user, "importance": importance}


@app.put("/embed")
async def embed(item: Annotated[Item, Body(embed=True)]):
    return {"item": item}


# Status codes, errors with headers, extra documented responses.
@app.delete("/items/{item_id}", status_code=204)
async def delete_item(item_id: int):
    return None


@app.get(
    "/stock/{item_id}",
    responses={404: {"description": "Item not found"}, 409: {"description": "Conflict"}},
)
async def read_stock(item_id: int):
    if item_id == 0:
        raise HTTPException(status_code=404, detail="Item not found", headers={"X-Error": "There goes my error"})
    return {"item_id": item_id}


# Parameter titles, aliases, deprecation.
@app.get("/titled")
async def titled(
    q: Annotated[str | None, Query(title="Query string", description="What to search for", min_length=3)] = None,
    item_query: Annotated[str | None, Query(alias="item-query", deprecated=True)] = None,
):
    return {"q": q, "item_query": item_query}


# Routers: a prefix with a "/" route, tags.
router = APIRouter(prefix="/things", tags=["things"])


@router.get("/")
async def list_things():
    return ["a", "b"]


@router.get("/{thing_id}")
async def read_thing(thing_id: int):
    return {"thing_id": thing_id}


app.include_router(router)
