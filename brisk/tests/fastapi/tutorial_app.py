"""The FastAPI twin of brisk's `tutorial` example (same routes, models and
docstrings); brisk/tests/openapi.rs compares the two OpenAPI documents."""
from typing import Annotated

from fastapi import Depends, FastAPI, Header, HTTPException, Path, Query
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel

app = FastAPI(title="Tutorial", version="1.0.0")


class Item(BaseModel):
    """An item for sale."""

    name: str
    description: str | None = None
    price: float
    tax: float | None = None
    tags: list[str] = []


class User(BaseModel):
    """A user."""

    username: str
    full_name: str | None = None


async def common_parameters(q: str | None = None, skip: int = 0, limit: int = 100):
    return {"q": q, "skip": skip, "limit": limit}


async def verify_token(x_token: Annotated[str, Header()]):
    if x_token != "fake-super-secret-token":
        raise HTTPException(status_code=400, detail="X-Token header invalid")


@app.get("/items/", tags=["items"])
async def read_items(commons: Annotated[dict, Depends(common_parameters)]):
    """Lists items, paginated."""
    return commons


@app.get("/items/{item_id}", tags=["items"])
async def read_item(
    item_id: Annotated[int, Path(ge=1, le=1000)],
    q: Annotated[str | None, Query(min_length=3, max_length=50, pattern="^[a-z]+$")] = None,
    size: Annotated[float, Query(gt=0, lt=10.5)] = 1.0,
):
    """Reads one item."""
    return {"item_id": item_id, "q": q, "size": size}


@app.post("/items/", tags=["items"], status_code=201)
async def create_item(item: Item) -> Item:
    """Creates an item."""
    return item


@app.get("/users/me", tags=["users"], dependencies=[Depends(verify_token)])
async def read_user_me() -> User:
    """The current user (requires the X-Token header)."""
    return User(username="me")


@app.put("/users/{username}", tags=["users"])
def update_user(username: str, user: User, x_request_id: Annotated[str | None, Header()] = None) -> User:
    """Replaces a user (a plain `fn`: runs on the thread pool)."""
    return user


bearer = HTTPBearer()


@app.get("/secure/items", tags=["items"])
async def read_secure_items(credentials: Annotated[HTTPAuthorizationCredentials, Depends(bearer)]):
    """Items for holders of a bearer token (the `HTTPBearer` security scheme)."""
    return {"token": credentials.credentials}
