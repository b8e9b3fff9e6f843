from fastapi import Cookie, Depends, FastAPI, Header, Query
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel

app = FastAPI()

class Item(BaseModel):
    name: str
    price: float
    quantity: int = 1
    in_stock: bool = True
    tags: list[str] = []

@app.get("/items/{item_id}")
async def read_item(item_id: int,
                    q: str | None = Query(None, min_length=3, max_length=10, pattern="^[a-z]+$"),
                    limit: int = Query(10, ge=1, le=100),
                    price: float | None = Query(None, gt=0, lt=1000),
                    flag: bool = False):
    return {"item_id": item_id, "q": q, "limit": limit, "price": price, "flag": flag}

@app.get("/search")
async def search(name: str, tag: list[str] = Query([])):
    return {"name": name, "tag": tag}

@app.post("/items", status_code=201)
async def create_item(item: Item):
    return item

@app.get("/headers")
async def headers(x_token: str = Header(), user_agent: str | None = Header(None)):
    return {"x_token": x_token}

@app.get("/cookies")
async def cookies(session: str = Cookie()):
    return {"session": session}


bearer = HTTPBearer()
api_key = APIKeyHeader(name="X-API-Key")


@app.get("/secure")
async def secure(credentials: HTTPAuthorizationCredentials = Depends(bearer)):
    return {"token": credentials.credentials}


@app.get("/keyed")
async def keyed(key: str = Depends(api_key)):
    return {"key": key}
