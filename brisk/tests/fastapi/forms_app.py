"""Forms, file uploads and security flows in one app: the FastAPI twin of the
brisk app that replays ../fixtures/fastapi_forms.json. record_forms.py sends
requests to it and records the answers and its OpenAPI document; the Rust
test replays them against brisk and compares.

The OAuth2 part is FastAPI's "Simple OAuth2 with Password and Bearer"
tutorial (docs_src/security/tutorial003_an_py310.py) unchanged, including
`/users/me` returning the UserInDB as is (so `hashed_password` is in the
answer, exactly as the tutorial and its tests show)."""
from typing import Annotated

from fastapi import Depends, FastAPI, File, Form, HTTPException, UploadFile, status
from fastapi.security import HTTPBasic, HTTPBasicCredentials, OAuth2PasswordBearer, OAuth2PasswordRequestForm
from pydantic import BaseModel, Field

app = FastAPI(title="Forms", version="1.0.0")


# ---- form fields ------------------------------------------------------------
@app.post("/login/")
async def login_form(
    username: Annotated[str, Form()],
    password: Annotated[str, Form(min_length=3)],
    remember: Annotated[bool, Form()] = False,
):
    return {"username": username, "remember": remember}


# ---- a pydantic model read from form fields -----------------------------------
class Profile(BaseModel):
    name: str = Field(max_length=20)
    age: int = Field(ge=0, le=150)
    tags: list[str] = []


@app.post("/profile/")
async def profile_form(profile: Annotated[Profile, Form()]):
    return profile.model_dump()


# ---- files --------------------------------------------------------------------
@app.post("/files/")
async def create_file(file: Annotated[bytes, File()]):
    return {"file_size": len(file)}


@app.post("/uploadfile/")
async def create_upload_file(file: UploadFile, note: Annotated[str, Form()] = ""):
    return {
        "filename": file.filename,
        "content_type": file.content_type,
        "size": file.size,
        "note": note,
        "head": (await file.read(10)).decode("latin-1"),
    }


@app.post("/uploadfiles/")
async def create_upload_files(files: list[UploadFile]):
    return {"filenames": [f.filename for f in files], "sizes": [f.size for f in files]}


@app.post("/optional-file/")
async def optional_file(file: UploadFile | None = None):
    return {"filename": file.filename if file else None}


# ---- Simple OAuth2 with Password and Bearer (the tutorial, verbatim) ------------
fake_users_db = {
    "johndoe": {
        "username": "johndoe",
        "full_name": "John Doe",
        "email": "johndoe@example.com",
        "hashed_password": "fakehashedsecret",
        "disabled": False,
    },
    "alice": {
        "username": "alice",
        "full_name": "Alice Wonderson",
        "email": "alice@example.com",
        "hashed_password": "fakehashedsecret2",
        "disabled": True,
    },
}


def fake_hash_password(password: str):
    return "fakehashed" + password


oauth2_scheme = OAuth2PasswordBearer(tokenUrl="token")


class User(BaseModel):
    username: str
    email: str | None = None
    full_name: str | None = None
    disabled: bool | None = None


class UserInDB(User):
    hashed_password: str


def get_user(db, username: str):
    if username in db:
        user_dict = db[username]
        return UserInDB(**user_dict)


def fake_decode_token(token):
    # This doesn't provide any security at all
    return get_user(fake_users_db, token)


async def get_current_user(token: Annotated[str, Depends(oauth2_scheme)]):
    user = fake_decode_token(token)
    if not user:
        raise HTTPException(
            status_code=status.HTTP_401_UNAUTHORIZED,
            detail="Invalid authentication credentials",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return user


async def get_current_active_user(current_user: Annotated[User, Depends(get_current_user)]):
    if current_user.disabled:
        raise HTTPException(status_code=400, detail="Inactive user")
    return current_user


@app.post("/token")
async def login(form_data: Annotated[OAuth2PasswordRequestForm, Depends()]):
    user_dict = fake_users_db.get(form_data.username)
    if not user_dict:
        raise HTTPException(status_code=400, detail="Incorrect username or password")
    user = UserInDB(**user_dict)
    hashed_password = fake_hash_password(form_data.password)
    if not hashed_password == user.hashed_password:
        raise HTTPException(status_code=400, detail="Incorrect username or password")
    return {"access_token": user.username, "token_type": "bearer"}


@app.get("/users/me")
async def read_users_me(current_user: Annotated[User, Depends(get_current_active_user)]):
    return current_user


# ---- HTTP Basic ---------------------------------------------------------------------
security = HTTPBasic()


@app.get("/basic/")
async def basic(credentials: Annotated[HTTPBasicCredentials, Depends(security)]):
    return {"username": credentials.username, "password": credentials.password}
