#!/usr/bin/env python3
"""Record real FastAPI responses for brisk's validation-compatibility tests.

Runs every case below against validation_app.app through
fastapi.testclient.TestClient (in-process, no socket) and writes
../fixtures/fastapi_validation.json (relative to this file).

Each case is (name, method, path, headers, body):
  * headers: extra request headers (lower-case names), recorded as sent.
  * body: raw request body string, or None for no body, or
    {"repeat": s, "times": n} for s repeated n times (a huge body without a
    huge fixture).  When not None the request is sent with
    "content-type: application/json" (added to the recorded headers unless
    the case already sets a content-type), so invalid JSON can be exercised.

Re-record with:
    pip install -r brisk/tests/fastapi/requirements.txt
    python brisk/tests/fastapi/record_fixtures.py
"""

import json
import platform
import sys
from importlib.metadata import version
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from fastapi.testclient import TestClient  # noqa: E402

from validation_app import app  # noqa: E402

OUT = HERE.parent / "fixtures" / "fastapi_validation.json"

TOKEN = {"x-token": "secret-token"}

# fmt: off
CASES = [
    # ---- success cases -------------------------------------------------
    ("success_item_defaults",            "GET",  "/items/5", {}, None),
    ("success_item_all_query",           "GET",  "/items/5?q=abc&limit=20&price=9.5&flag=true", {}, None),
    ("success_search_repeated_tag",      "GET",  "/search?name=x&tag=a&tag=b", {}, None),
    ("success_search_no_tag",            "GET",  "/search?name=x", {}, None),
    ("success_create_item_full",         "POST", "/items", {},
        '{"name": "widget", "price": 9.99, "quantity": 3, "in_stock": false, "tags": ["a", "b"]}'),
    ("success_create_item_defaults",     "POST", "/items", {}, '{"name": "widget", "price": 2}'),
    ("success_headers",                  "GET",  "/headers", dict(TOKEN), None),
    ("success_cookies",                  "GET",  "/cookies", {"cookie": "session=abc"}, None),
    ("success_bool_flag_1",              "GET",  "/items/5?flag=1", {}, None),
    ("success_bool_flag_yes",            "GET",  "/items/5?flag=yes", {}, None),
    ("success_bool_flag_on",             "GET",  "/items/5?flag=on", {}, None),
    ("success_bool_flag_False",          "GET",  "/items/5?flag=False", {}, None),
    ("success_bool_flag_off",            "GET",  "/items/5?flag=off", {}, None),

    # ---- missing ---------------------------------------------------------
    ("missing_query",                    "GET",  "/search", {}, None),
    ("missing_header",                   "GET",  "/headers", {}, None),
    ("missing_cookie",                   "GET",  "/cookies", {}, None),
    ("missing_body_field_name",          "POST", "/items", {}, '{"price": 1}'),
    ("missing_body_two_fields",          "POST", "/items", {}, '{}'),
    ("missing_body_absent",              "POST", "/items", {}, None),
    ("missing_body_null",                "POST", "/items", {}, 'null'),
    ("missing_body_empty_string",        "POST", "/items", {}, ''),

    # ---- int_parsing -----------------------------------------------------
    ("int_parsing_path",                 "GET",  "/items/abc", {}, None),
    ("int_parsing_path_fractional",      "GET",  "/items/5.5", {}, None),
    ("int_parsing_query",                "GET",  "/items/5?limit=abc", {}, None),
    ("int_parsing_body_field",           "POST", "/items", {}, '{"name": "a", "price": 1, "quantity": "x"}'),

    # ---- float_parsing ---------------------------------------------------
    ("float_parsing_query",              "GET",  "/items/5?price=abc", {}, None),
    ("float_parsing_body_field",         "POST", "/items", {}, '{"name": "a", "price": "abc"}'),

    # ---- bool_parsing ----------------------------------------------------
    ("bool_parsing_query",               "GET",  "/items/5?flag=maybe", {}, None),

    # ---- json_invalid ----------------------------------------------------
    ("json_invalid_truncated",           "POST", "/items", {}, '{"name": "a", "price"'),
    ("json_invalid_trailing_comma",      "POST", "/items", {}, '{"name": "a",}'),
    ("json_invalid_single_quotes",       "POST", "/items", {}, "{'name': 'a'}"),
    ("json_invalid_unquoted_key",        "POST", "/items", {}, '{name: 1}'),
    ("json_invalid_garbage",             "POST", "/items", {}, 'hello'),
    # Nested past any parser's depth limit (brisk must neither crash nor 422).
    ("json_nested_100000_brackets",      "POST", "/items", {}, {"repeat": "[", "times": 100000}),
    ("json_nested_5000_objects",         "POST", "/items", {}, {"repeat": '{"a": ', "times": 5000}),

    # ---- query constraints ----------------------------------------------
    ("string_too_short_query",           "GET",  "/items/5?q=ab", {}, None),
    ("string_too_long_query",            "GET",  "/items/5?q=abcdefghijk", {}, None),
    ("string_pattern_mismatch_query",    "GET",  "/items/5?q=ABC", {}, None),
    ("greater_than_query",               "GET",  "/items/5?price=0", {}, None),
    ("less_than_query",                  "GET",  "/items/5?price=1000", {}, None),
    ("greater_than_equal_query",         "GET",  "/items/5?limit=0", {}, None),
    ("less_than_equal_query",            "GET",  "/items/5?limit=101", {}, None),

    # ---- wrong types in the body ----------------------------------------
    ("body_name_int_string_type",        "POST", "/items", {}, '{"name": 123, "price": 1}'),
    ("body_price_bool",                  "POST", "/items", {}, '{"name": "a", "price": true}'),
    ("body_price_null",                  "POST", "/items", {}, '{"name": "a", "price": null}'),
    ("body_quantity_fractional_float",   "POST", "/items", {}, '{"name": "a", "price": 1, "quantity": 1.5}'),
    ("body_quantity_numeric_string_lax", "POST", "/items", {}, '{"name": "a", "price": 1, "quantity": "3"}'),
    ("body_in_stock_bad_bool",           "POST", "/items", {}, '{"name": "a", "price": 1, "in_stock": "maybe"}'),
    ("body_tags_not_list",               "POST", "/items", {}, '{"name": "a", "price": 1, "tags": "x"}'),
    ("body_tags_int_element",            "POST", "/items", {}, '{"name": "a", "price": 1, "tags": [1]}'),
    ("body_is_array",                    "POST", "/items", {}, '[1, 2]'),
    ("body_is_string",                   "POST", "/items", {}, '"x"'),

    # ---- several errors in one request ----------------------------------
    ("multi_path_and_two_query_errors",  "GET",  "/items/abc?limit=0&q=A", {}, None),
    ("multi_three_bad_body_fields",      "POST", "/items", {}, '{"name": 123, "price": "abc", "quantity": 1.5}'),

    # ---- routing ---------------------------------------------------------
    ("unknown_path_404",                 "GET",  "/nope", {}, None),
    ("wrong_method_405",                 "DELETE", "/items", {}, None),

    # ---- security schemes ------------------------------------------------
    ("bearer_missing_401",               "GET",  "/secure", {}, None),
    ("bearer_wrong_scheme_401",          "GET",  "/secure", {"Authorization": "Basic abc"}, None),
    ("bearer_ok",                        "GET",  "/secure", {"Authorization": "Bearer t0k3n"}, None),
    ("api_key_missing_401",              "GET",  "/keyed", {}, None),
    ("api_key_ok",                       "GET",  "/keyed", {"X-API-Key": "k3y"}, None),
]
# fmt: on


def run_case(client, name, method, path, headers, body):
    headers = dict(headers)
    if body is not None and not any(k.lower() == "content-type" for k in headers):
        headers["content-type"] = "application/json"
    content = body
    if isinstance(body, dict):
        content = body["repeat"] * body["times"]
    resp = client.request(
        method,
        path,
        headers=headers,
        content=content.encode("utf-8") if content is not None else None,
    )
    ctype = resp.headers.get("content-type", "")
    if ctype.startswith("application/json"):
        payload = resp.json()
    else:
        payload = resp.text
    case = {
        "name": name,
        "method": method,
        "path": path,
        "headers": headers,
        "body": body,
        "status": resp.status_code,
        "response": payload,
    }
    recorded = {}
    for header in ("allow", "www-authenticate"):
        value = resp.headers.get(header)
        if value is not None:
            recorded[header] = value
    if recorded:
        case["response_headers"] = recorded
    return case


def error_types(payload):
    if isinstance(payload, dict) and isinstance(payload.get("detail"), list):
        return ",".join(str(e.get("type")) for e in payload["detail"])
    if isinstance(payload, dict) and "detail" in payload:
        return "detail=" + json.dumps(payload["detail"])
    return "-"


def main():
    names = [c[0] for c in CASES]
    dupes = {n for n in names if names.count(n) > 1}
    if dupes:
        raise SystemExit(f"duplicate case names: {sorted(dupes)}")

    client = TestClient(app, raise_server_exceptions=True)
    cases = [run_case(client, *c) for c in CASES]

    doc = {
        "recorded_with": {
            "fastapi": version("fastapi"),
            "pydantic": version("pydantic"),
            "pydantic_core": version("pydantic_core"),
            "starlette": version("starlette"),
            "python": platform.python_version(),
        },
        "cases": cases,
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")

    width = max(len(c["name"]) for c in cases)
    print(f"{'name':<{width}}  status  error types")
    print(f"{'-' * width}  ------  -----------")
    for c in cases:
        print(f"{c['name']:<{width}}  {c['status']:>6}  {error_types(c['response'])}")
    print(f"\n{len(cases)} cases written to {OUT}")
    print("recorded_with:", json.dumps(doc["recorded_with"]))


if __name__ == "__main__":
    main()
