#!/usr/bin/env python3
"""Record real Starlette/FastAPI answers for brisk's middleware tests:

* ../fixtures/starlette_cors.json: Starlette's CORSMiddleware under four
  configurations (the ones brisk/tests/middleware.rs configures brisk's
  `Cors` with), for preflights and simple requests, allowed and not.
* ../fixtures/fastapi_errors.json: errors_app.py, FastAPI's "Handling
  Errors" tutorial (the twin of brisk's `errors` example).

Re-record with:
    pip install -r brisk/tests/fastapi/requirements.txt
    python brisk/tests/fastapi/record_middleware.py
"""
import json
import platform
import sys
from importlib.metadata import version
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from fastapi import FastAPI  # noqa: E402
from fastapi.middleware.cors import CORSMiddleware  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402

from errors_app import app as errors_app  # noqa: E402

FIXTURES = HERE.parent / "fixtures"

# The CORS configurations; brisk/tests/middleware.rs builds the same ones.
CORS_CONFIGS = {
    "one_origin": dict(allow_origins=["http://localhost:3000"]),
    "everything": dict(allow_origins=["*"], allow_methods=["*"], allow_headers=["*"]),
    "credentials": dict(
        allow_origins=["http://localhost:3000"],
        allow_credentials=True,
        allow_methods=["*"],
        allow_headers=["*"],
        expose_headers=["x-request-id"],
        max_age=1200,
    ),
    "regex": dict(
        allow_origin_regex=r"https://.*\.example\.org",
        allow_methods=["GET", "POST"],
        allow_headers=["X-Token"],
    ),
}

LOCAL = "http://localhost:3000"
# fmt: off
CORS_CASES = [
    ("preflight_allowed",          "OPTIONS", "/items", {"origin": LOCAL, "access-control-request-method": "GET"}),
    ("preflight_post",             "OPTIONS", "/items", {"origin": LOCAL, "access-control-request-method": "POST"}),
    ("preflight_headers",          "OPTIONS", "/items", {"origin": LOCAL, "access-control-request-method": "GET", "access-control-request-headers": "X-Token, Content-Type"}),
    ("preflight_odd_header",       "OPTIONS", "/items", {"origin": LOCAL, "access-control-request-method": "GET", "access-control-request-headers": "X-Other"}),
    ("preflight_other_origin",     "OPTIONS", "/items", {"origin": "http://evil.com", "access-control-request-method": "GET"}),
    ("preflight_regex_origin",     "OPTIONS", "/items", {"origin": "https://api.example.org", "access-control-request-method": "POST", "access-control-request-headers": "x-token"}),
    ("preflight_everything_wrong", "OPTIONS", "/items", {"origin": "http://evil.com", "access-control-request-method": "DELETE", "access-control-request-headers": "X-Other"}),
    ("options_without_method",     "OPTIONS", "/items", {"origin": LOCAL}),
    ("simple_allowed",             "GET",     "/items", {"origin": LOCAL}),
    ("simple_other_origin",        "GET",     "/items", {"origin": "http://evil.com"}),
    ("simple_regex_origin",        "GET",     "/items", {"origin": "https://api.example.org"}),
    ("simple_no_origin",           "GET",     "/items", {}),
    ("simple_with_cookie",         "GET",     "/items", {"origin": LOCAL, "cookie": "a=1"}),
    ("not_found_with_origin",      "GET",     "/nope",  {"origin": LOCAL}),
]
# fmt: on

ERRORS_CASES = [
    ("item_found", "GET", "/items/foo", {}, None),
    ("item_not_found", "GET", "/items/bar", {}, None),
    ("item_header_not_found", "GET", "/items-header/bar", {}, None),
    ("unicorn_ok", "GET", "/unicorns/sparkle", {}, None),
    ("unicorn_raised", "GET", "/unicorns/yolo", {}, None),
    ("number_ok", "GET", "/numbers/5", {}, None),
    ("number_teapot", "GET", "/numbers/3", {}, None),
    ("number_invalid", "GET", "/numbers/three", {}, None),
    ("create_ok", "POST", "/items/", {"content-type": "application/json"}, '{"title": "towel", "size": 5}'),
    ("create_invalid", "POST", "/items/", {"content-type": "application/json"}, '{"title": "towel", "size": "XL"}'),
    ("create_missing", "POST", "/items/", {"content-type": "application/json"}, '{"size": 5}'),
    ("route_not_found", "GET", "/nope", {}, None),
    ("method_not_allowed", "DELETE", "/items/foo", {}, None),
]

KEPT = ("allow", "x-error", "content-type", "content-length", "vary")


def record(client, name, method, path, headers, body=None):
    resp = client.request(method, path, headers=headers, content=body.encode() if body else None)
    kept = {k: v for k, v in resp.headers.items() if k.startswith("access-control-") or k in KEPT}
    return {
        "name": name,
        "method": method,
        "path": path,
        "headers": headers,
        "body": body,
        "status": resp.status_code,
        "text": resp.text,
        "response_headers": kept,
    }


def versions():
    return {
        "fastapi": version("fastapi"),
        "starlette": version("starlette"),
        "pydantic": version("pydantic"),
        "python": platform.python_version(),
    }


def main():
    cors = {}
    for config_name, config in CORS_CONFIGS.items():
        app = FastAPI()

        @app.get("/items")
        async def items():
            return [{"name": "Foo"}]

        app.add_middleware(CORSMiddleware, **config)
        client = TestClient(app)
        cors[config_name] = {
            "config": config,
            "cases": [record(client, *case) for case in CORS_CASES],
        }
    (FIXTURES / "starlette_cors.json").write_text(
        json.dumps({"recorded_with": versions(), "configs": cors}, indent=2) + "\n"
    )
    client = TestClient(errors_app)
    cases = [record(client, *case) for case in ERRORS_CASES]
    (FIXTURES / "fastapi_errors.json").write_text(
        json.dumps({"recorded_with": versions(), "cases": cases}, indent=2) + "\n"
    )
    for config_name, data in cors.items():
        for c in data["cases"]:
            print(f"cors {config_name:<12} {c['name']:<28} {c['status']} {c['text'][:40]!r}")
    for c in cases:
        print(f"errors {c['name']:<22} {c['status']} {c['text'][:70]}")


if __name__ == "__main__":
    main()
