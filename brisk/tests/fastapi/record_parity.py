#!/usr/bin/env python3
"""Record real FastAPI answers for parity_app.py (FastAPI's tutorial topics)
into ../fixtures/fastapi_parity.json, and its OpenAPI document into
../fixtures/fastapi_parity_openapi.json. brisk/tests/fastapi_parity.rs
replays every request against the brisk twin and compares.

Each case is (name, method, path, headers, body):
  * headers: request headers; a value of None means "do not send it" (used
    to leave out the content-type this script otherwise adds to bodies).
  * body: None, a str, {"hex": "..."} for raw bytes, or
    {"repeat": s, "times": n}. A body gets "content-type: application/json"
    unless the case says otherwise.

Re-record with:
    pip install -r brisk/tests/fastapi/requirements.txt
    python brisk/tests/fastapi/record_parity.py
"""

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from fastapi.testclient import TestClient  # noqa: E402

import recording  # noqa: E402
from parity_app import app  # noqa: E402

OUT = HERE.parent / "fixtures" / "fastapi_parity.json"
OUT_OPENAPI = HERE.parent / "fixtures" / "fastapi_parity_openapi.json"

ITEM = '{"name": "Foo", "price": 35.4}'
USER = '{"username": "dave"}'

# The response headers worth comparing, when present.
HEADERS = ("allow", "www-authenticate", "location", "x-error", "content-type", "content-length")

# fmt: off
CASES = [
    # ---- 1. numbers as pydantic parses them ------------------------------
    ("int_path_ok",                "GET", "/numbers/5", {}, None),
    ("int_path_underscore",        "GET", "/numbers/5_000", {}, None),
    ("int_path_float_string",      "GET", "/numbers/5.0", {}, None),
    ("int_path_fractional",        "GET", "/numbers/5.5", {}, None),
    ("int_path_negative",          "GET", "/numbers/-3", {}, None),
    ("int_path_plus",              "GET", "/numbers/+3", {}, None),
    ("int_path_beyond_i64",        "GET", "/numbers/99999999999999999999", {}, None),
    ("int_query_beyond_i64",       "GET", "/numbers/5?big=99999999999999999999", {}, None),
    ("int_query_spaces",           "GET", "/numbers/5?count=%205%20", {}, None),
    ("int_query_exponent",         "GET", "/numbers/5?count=1e3", {}, None),
    ("int_query_float_string",     "GET", "/numbers/5?count=2.0", {}, None),
    ("int_query_bool",             "GET", "/numbers/5?count=true", {}, None),
    ("int_query_double_underscore", "GET", "/numbers/5?count=1__0", {}, None),
    ("float_query_nan",            "GET", "/numbers/5?size=nan", {}, None),
    ("float_query_inf",            "GET", "/numbers/5?size=inf", {}, None),
    ("float_query_neg_inf",        "GET", "/numbers/5?size=-inf", {}, None),
    ("float_query_underscore",     "GET", "/numbers/5?size=1_5", {}, None),
    ("float_query_zero",           "GET", "/numbers/5?size=0", {}, None),
    ("float_query_too_big",        "GET", "/numbers/5?size=11", {}, None),
    ("float_query_ok",             "GET", "/numbers/5?size=2.5", {}, None),

    # ---- enums and path converters ----------------------------------------
    ("enum_ok",                    "GET", "/models/alexnet", {}, None),
    ("enum_bad",                   "GET", "/models/foo", {}, None),
    ("enum_wrong_case",            "GET", "/models/AlexNet", {}, None),
    ("path_converter",             "GET", "/files/home/johndoe/myfile.txt", {}, None),
    ("path_converter_encoded",     "GET", "/files/a%2Fb", {}, None),
    ("encoded_slash_in_segment",   "GET", "/numbers/1%2F2", {}, None),

    # ---- 2. error order ---------------------------------------------------
    ("order_everything_wrong",     "PUT", "/order/abc?q=x", {"x-count": "y", "cookie": "session=z"}, '{"price": "no"}'),
    ("order_everything_missing",   "PUT", "/order/abc", {}, None),
    ("order_ok",                   "PUT", "/order/3?q=1&dep_limit=2", {"x-count": "4", "cookie": "session=5"}, ITEM),

    # ---- 3. content types and encodings ------------------------------------
    ("ct_json",                    "POST", "/items/", {}, ITEM),
    ("ct_missing",                 "POST", "/items/", {"content-type": None}, ITEM),
    ("ct_text_plain",              "POST", "/items/", {"content-type": "text/plain"}, ITEM),
    ("ct_form_urlencoded",         "POST", "/items/", {"content-type": "application/x-www-form-urlencoded"}, ITEM),
    ("ct_json_charset",            "POST", "/items/", {"content-type": "application/json; charset=utf-8"}, ITEM),
    ("ct_vendor_json",             "POST", "/items/", {"content-type": "application/vnd.api+json"}, ITEM),
    ("body_invalid_utf8",          "POST", "/items/", {}, {"hex": "7b226e616d65223a2022ff222c20227072696365223a20317d"}),
    ("body_set_type",              "POST", "/items/", {}, '{"name": "a", "price": 1, "tags": 5}'),
    ("body_set_dedup",             "POST", "/items/", {}, '{"name": "a", "price": 1, "tags": ["x", "x"]}'),
    ("body_nested_missing",        "POST", "/items/", {}, '{"name": "a", "price": 1, "images": [{"url": "u"}]}'),
    ("body_nested_wrong_list",     "POST", "/items/", {}, '{"name": "a", "price": 1, "images": {"url": "u"}}'),

    # ---- 4. trailing slashes -----------------------------------------------
    ("slash_redirect_to_slash",    "GET",  "/items", {}, None),
    ("slash_redirect_post",        "POST", "/items", {}, ITEM),
    ("slash_redirect_from_slash",  "GET",  "/users/me/", {}, None),
    ("slash_redirect_query_kept",  "GET",  "/users/me/?x=1", {}, None),
    ("slash_router_prefix_root",   "GET",  "/things/", {}, None),
    ("slash_router_prefix_bare",   "GET",  "/things", {}, None),
    ("slash_nothing_either_way",   "GET",  "/nope/", {}, None),

    # ---- 5. lists ----------------------------------------------------------
    ("lists_absent",               "GET", "/lists", {}, None),
    ("lists_given",                "GET", "/lists?q=a&q=b&ids=3&ids=4", {"x-tag": "t1"}, None),
    ("lists_bad_item",             "GET", "/lists?ids=3&ids=x", {}, None),

    # ---- 6. maps -----------------------------------------------------------
    ("map_ok",                     "POST", "/index-weights/", {}, '{"1": 2.5, "3": 4}'),
    ("map_bad_key",                "POST", "/index-weights/", {}, '{"x": 1.0}'),
    ("map_bad_value",              "POST", "/index-weights/", {}, '{"1": "no"}'),
    ("map_not_an_object",          "POST", "/index-weights/", {}, '[1]'),

    # ---- 7. several bodies ---------------------------------------------------
    ("multi_ok",                   "PUT", "/multi/1", {}, '{"item": ' + ITEM + ', "user": ' + USER + ', "importance": 5}'),
    ("multi_missing_user",         "PUT", "/multi/1", {}, '{"item": ' + ITEM + ', "importance": 5}'),
    ("multi_flat_body",            "PUT", "/multi/1", {}, ITEM),
    ("multi_no_body",              "PUT", "/multi/1", {}, None),
    ("embed_ok",                   "PUT", "/embed", {}, '{"item": ' + ITEM + '}'),
    ("embed_flat_body",            "PUT", "/embed", {}, ITEM),

    # ---- 8. HEAD, 204, errors with headers, %2F ----------------------------------
    ("head_on_get_route",          "HEAD", "/numbers/5", {}, None),
    ("head_on_put_route",          "HEAD", "/embed", {}, None),
    ("delete_204",                 "DELETE", "/items/5", {}, None),
    ("error_with_headers",         "GET", "/stock/0", {}, None),
    ("extra_response_ok",          "GET", "/stock/3", {}, None),

    # ---- 9. titles and aliases ---------------------------------------------------
    ("titled_alias",               "GET", "/titled?item-query=x&q=abc", {}, None),
    ("titled_too_short",           "GET", "/titled?q=ab", {}, None),
    ("router_path",                "GET", "/things/7", {}, None),
]
# fmt: on


def run_case(client, name, method, path, headers, body):
    sent = {k: v for k, v in headers.items() if v is not None}
    if body is not None and "content-type" not in headers:
        sent["content-type"] = "application/json"
    if isinstance(body, dict) and "hex" in body:
        content = bytes.fromhex(body["hex"])
    elif isinstance(body, dict):
        content = (body["repeat"] * body["times"]).encode("utf-8")
    elif body is not None:
        content = body.encode("utf-8")
    else:
        content = None
    case = {"name": name, "method": method, "path": path, "headers": sent, "body": body}
    case.update(recording.answer(client, method, path, sent, content, HEADERS))
    return case


def main():
    recording.check_unique(CASES)
    client = TestClient(app, raise_server_exceptions=True)
    cases = [run_case(client, *c) for c in CASES]
    recorded_with = recording.versions()
    recording.write_json(OUT, {"recorded_with": recorded_with, "cases": cases})
    recording.write_json(OUT_OPENAPI, {"recorded_with": recorded_with, "openapi": app.openapi()})
    recording.print_summary(cases, OUT)


if __name__ == "__main__":
    main()
