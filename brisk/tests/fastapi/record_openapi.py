"""Writes FastAPI's OpenAPI document for tutorial_app.py to
../fixtures/fastapi_openapi.json (run from anywhere)."""
import json
import pathlib
import sys

here = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(here))

import fastapi  # noqa: E402
import pydantic  # noqa: E402
from tutorial_app import app  # noqa: E402

out = here.parent / "fixtures" / "fastapi_openapi.json"
doc = {"recorded_with": {"fastapi": fastapi.__version__, "pydantic": pydantic.VERSION}, "openapi": app.openapi()}
out.write_text(json.dumps(doc, indent=2) + "\n")
print(f"wrote {out}")
