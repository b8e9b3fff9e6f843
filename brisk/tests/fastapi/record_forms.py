#!/usr/bin/env python3
"""Record real FastAPI answers for forms_app.py (form fields, form models,
file uploads, OAuth2 password flow, HTTP Basic) into
../fixtures/fastapi_forms.json, and its OpenAPI document into
../fixtures/fastapi_forms_openapi.json. brisk's Rust test replays every
request against the brisk twin and compares.

Each case is (name, method, path, headers, body):
  * headers: request headers; a value of None means "do not send it".
  * body: one of
      - None: no body (and no content-type unless the case gives one);
      - a str: sent as is, UTF-8 encoded. The case must give the
        content-type header itself (None to send none); nothing is added;
      - {"multipart": [part, ...], "boundary": "..."}: encoded by this
        script as described below. "boundary" may be left out in CASES;
        it then defaults to BOUNDARY, and the fixture always stores it.

Multipart encoding (a Rust replay must build the same bytes; the fixture
also stores the byte length of every sent body as "body_len"):
  * each part is {"name": str, "filename": str (optional),
    "content_type": str (optional), "data": str or {"repeat": s, "times": n}
    (optional, default "")}; names and filenames are written verbatim
    (UTF-8, no escaping; this script refuses '"', CR and LF in them);
  * the body is, all lines ending in CRLF ("\\r\\n"), for each part in order:
        --{boundary}\\r\\n
        Content-Disposition: form-data; name="{name}"\\r\\n
          (or, when "filename" is present, even if empty:
        Content-Disposition: form-data; name="{name}"; filename="{filename}"\\r\\n)
        Content-Type: {content_type}\\r\\n      (only when "content_type" is given)
        \\r\\n
        {data as UTF-8 bytes; repeat s times n = s * n}\\r\\n
    followed by the closing line
        --{boundary}--\\r\\n
    so a body with no parts is just "--{boundary}--\\r\\n";
  * the request gets "content-type: multipart/form-data; boundary={boundary}"
    unless the case sets content-type itself.

Re-record with:
    pip install -r brisk/tests/fastapi/requirements.txt
    python brisk/tests/fastapi/record_forms.py
"""

import base64
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from fastapi.testclient import TestClient  # noqa: E402

import recording  # noqa: E402
from forms_app import app  # noqa: E402

OUT = HERE.parent / "fixtures" / "fastapi_forms.json"
OUT_OPENAPI = HERE.parent / "fixtures" / "fastapi_forms_openapi.json"

BOUNDARY = "brisk-boundary-7MA4YWxkTrZu0gW"

# The response headers worth comparing, when present.
HEADERS = ("allow", "www-authenticate", "location", "content-type", "content-length")

URLENC = {"content-type": "application/x-www-form-urlencoded"}
JSON = {"content-type": "application/json"}


def mp(*parts, boundary=None):
    """A multipart body spec; see the module docstring."""
    body = {"multipart": list(parts)}
    if boundary is not None:
        body["boundary"] = boundary
    return body


def field(name, data):
    return {"name": name, "data": data}


def upload(name, filename, data, content_type=None):
    part = {"name": name, "filename": filename}
    if content_type is not None:
        part["content_type"] = content_type
    part["data"] = data
    return part


def bearer(token):
    return {"authorization": f"Bearer {token}"}


def basic(userpass):
    """Authorization: Basic with base64 of the UTF-8 bytes of userpass."""
    return {"authorization": "Basic " + base64.b64encode(userpass.encode("utf-8")).decode("ascii")}


# fmt: off
CASES = [
    # ---- 1. form fields (POST /login/) --------------------------------------
    ("login_ok",                   "POST", "/login/", URLENC, "username=johndoe&password=secret"),
    ("login_ok_remember_true",     "POST", "/login/", URLENC, "username=johndoe&password=secret&remember=true"),
    ("login_percent_encoding",     "POST", "/login/", URLENC, "username=john+doe%21&password=s%20cret"),
    ("login_ct_charset",           "POST", "/login/", {"content-type": "application/x-www-form-urlencoded; charset=utf-8"}, "username=johndoe&password=secret"),
    ("login_repeated_username",    "POST", "/login/", URLENC, "username=first&username=last&password=secret"),
    ("login_missing_username",     "POST", "/login/", URLENC, "password=secret"),
    ("login_missing_both",         "POST", "/login/", URLENC, "other=1"),
    ("login_password_too_short",   "POST", "/login/", URLENC, "username=johndoe&password=ab"),
    ("login_password_empty",       "POST", "/login/", URLENC, "username=johndoe&password="),
    ("login_remember_yes",         "POST", "/login/", URLENC, "username=johndoe&password=secret&remember=yes"),
    ("login_remember_on",          "POST", "/login/", URLENC, "username=johndoe&password=secret&remember=on"),
    ("login_remember_1",           "POST", "/login/", URLENC, "username=johndoe&password=secret&remember=1"),
    ("login_remember_off",         "POST", "/login/", URLENC, "username=johndoe&password=secret&remember=off"),
    ("login_remember_maybe",       "POST", "/login/", URLENC, "username=johndoe&password=secret&remember=maybe"),
    ("login_remember_empty",       "POST", "/login/", URLENC, "username=johndoe&password=secret&remember="),
    ("login_multipart",            "POST", "/login/", {}, mp(field("username", "johndoe"), field("password", "secret"), field("remember", "true"))),
    ("login_json",                 "POST", "/login/", JSON, '{"username": "johndoe", "password": "secret"}'),
    ("login_empty_body",           "POST", "/login/", URLENC, ""),
    ("login_no_body",              "POST", "/login/", {}, None),

    # ---- 2. a pydantic model from form fields (POST /profile/) ---------------
    ("profile_ok",                 "POST", "/profile/", URLENC, "name=Foo&age=30&tags=a&tags=b"),
    ("profile_ok_no_tags",         "POST", "/profile/", URLENC, "name=Foo&age=30"),
    ("profile_multipart",          "POST", "/profile/", {}, mp(field("name", "Foo"), field("age", "30"), field("tags", "x"), field("tags", "y"))),
    ("profile_extra_field",        "POST", "/profile/", URLENC, "name=Foo&age=30&extra=1"),
    ("profile_age_not_int",        "POST", "/profile/", URLENC, "name=Foo&age=abc"),
    ("profile_age_negative",       "POST", "/profile/", URLENC, "name=Foo&age=-1"),
    ("profile_name_too_long",      "POST", "/profile/", URLENC, "name=" + "x" * 21 + "&age=30"),
    ("profile_missing_name",       "POST", "/profile/", URLENC, "age=30"),
    ("profile_missing_name_extras", "POST", "/profile/", URLENC, "age=30&extra=1&tags=a"),
    ("profile_empty_values",       "POST", "/profile/", URLENC, "name=&age="),
    ("profile_empty_body",         "POST", "/profile/", URLENC, ""),

    # ---- 3. bytes files (POST /files/) -----------------------------------------
    ("files_ok",                   "POST", "/files/", {}, mp(upload("file", "a.txt", "hello world", "text/plain"))),
    ("files_missing",              "POST", "/files/", {}, mp(field("other", "x"))),
    ("files_text_field",           "POST", "/files/", {}, mp(field("file", "just text"))),
    ("files_urlencoded",           "POST", "/files/", URLENC, "file=abc"),
    ("files_no_parts",             "POST", "/files/", {}, mp()),
    ("files_no_body",              "POST", "/files/", {}, None),

    # ---- 4. UploadFile (POST /uploadfile/) ---------------------------------------
    ("uploadfile_ok",              "POST", "/uploadfile/", {}, mp(upload("file", "report.csv", "id,name\n1,foo\n", "text/csv"), field("note", "quarterly"))),
    ("uploadfile_no_content_type", "POST", "/uploadfile/", {}, mp(upload("file", "raw.bin", "0123456789abcdef"))),
    ("uploadfile_large",           "POST", "/uploadfile/", {}, mp(upload("file", "big.bin", {"repeat": "x", "times": 200000}, "application/octet-stream"))),
    ("uploadfile_utf8_filename",   "POST", "/uploadfile/", {}, mp(upload("file", "résumé.txt", "héllo", "text/plain; charset=utf-8"))),
    ("uploadfile_empty_filename",  "POST", "/uploadfile/", {}, mp(upload("file", "", "", "application/octet-stream"))),
    ("uploadfile_empty_filename_with_data", "POST", "/uploadfile/", {}, mp(upload("file", "", "not empty", "text/plain"))),
    ("uploadfile_other_boundary",  "POST", "/uploadfile/", {}, mp(upload("file", "a.txt", "abc", "text/plain"), boundary="----WebKitFormBoundaryABC123")),
    ("uploadfile_missing",         "POST", "/uploadfile/", {}, mp(field("note", "no file"))),
    ("uploadfile_text_field",      "POST", "/uploadfile/", {}, mp(field("file", "not a file"))),
    ("uploadfile_no_body",         "POST", "/uploadfile/", {}, None),

    # ---- 5. list[UploadFile] (POST /uploadfiles/) ---------------------------------
    ("uploadfiles_three",          "POST", "/uploadfiles/", {}, mp(upload("files", "a.txt", "a", "text/plain"), upload("files", "b.txt", "bb", "text/plain"), upload("files", "c.bin", "ccc", "application/octet-stream"))),
    ("uploadfiles_one",            "POST", "/uploadfiles/", {}, mp(upload("files", "only.txt", "1234", "text/plain"))),
    ("uploadfiles_skips_empty",    "POST", "/uploadfiles/", {}, mp(upload("files", "a.txt", "a", "text/plain"), upload("files", "", "", "application/octet-stream"), upload("files", "c.txt", "ccc", "text/plain"))),
    ("uploadfiles_only_empty",     "POST", "/uploadfiles/", {}, mp(upload("files", "", "", "application/octet-stream"))),
    ("uploadfiles_none",           "POST", "/uploadfiles/", {}, mp(field("other", "x"))),
    ("uploadfiles_no_body",        "POST", "/uploadfiles/", {}, None),

    # ---- 6. UploadFile | None (POST /optional-file/) --------------------------------
    ("optional_file_given",        "POST", "/optional-file/", {}, mp(upload("file", "opt.txt", "data", "text/plain"))),
    ("optional_file_absent",       "POST", "/optional-file/", {}, mp(field("other", "x"))),
    ("optional_file_empty_filename", "POST", "/optional-file/", {}, mp(upload("file", "", "", "application/octet-stream"))),
    ("optional_file_no_body",      "POST", "/optional-file/", {}, None),

    # ---- 7. OAuth2 password flow: POST /token ---------------------------------------
    ("token_ok",                   "POST", "/token", URLENC, "grant_type=password&username=johndoe&password=secret"),
    ("token_ok_no_grant_type",     "POST", "/token", URLENC, "username=johndoe&password=secret"),
    ("token_ok_with_scope",        "POST", "/token", URLENC, "username=johndoe&password=secret&scope=a+b+c"),
    ("token_ok_all_fields",        "POST", "/token", URLENC, "grant_type=password&username=johndoe&password=secret&scope=&client_id=&client_secret="),
    ("token_inactive_user",        "POST", "/token", URLENC, "username=alice&password=secret2"),
    ("token_wrong_password",       "POST", "/token", URLENC, "username=johndoe&password=wrong"),
    ("token_unknown_user",         "POST", "/token", URLENC, "username=nobody&password=secret"),
    ("token_missing_username",     "POST", "/token", URLENC, "password=secret"),
    ("token_bad_grant_type",       "POST", "/token", URLENC, "grant_type=client_credentials&username=johndoe&password=secret"),
    ("token_empty_body",           "POST", "/token", URLENC, ""),
    ("token_json",                 "POST", "/token", JSON, '{"username": "johndoe", "password": "secret"}'),

    # ---- 8. OAuth2 bearer: GET /users/me ------------------------------------------
    ("me_ok",                      "GET", "/users/me", bearer("johndoe"), None),
    ("me_lowercase_scheme",        "GET", "/users/me", {"authorization": "bearer johndoe"}, None),
    ("me_extra_spaces",            "GET", "/users/me", {"authorization": "Bearer   johndoe  "}, None),
    ("me_unknown_token",           "GET", "/users/me", bearer("nobody"), None),
    ("me_no_header",               "GET", "/users/me", {}, None),
    ("me_basic_scheme",            "GET", "/users/me", {"authorization": "Basic xxx"}, None),
    ("me_scheme_only",             "GET", "/users/me", {"authorization": "Bearer"}, None),
    ("me_inactive_user",           "GET", "/users/me", bearer("alice"), None),

    # ---- 9. HTTP Basic: GET /basic/ ------------------------------------------------
    ("basic_ok",                   "GET", "/basic/", basic("johndoe:secret"), None),
    ("basic_lowercase_scheme",     "GET", "/basic/", {"authorization": "basic " + basic("johndoe:secret")["authorization"][6:]}, None),
    ("basic_colon_in_password",    "GET", "/basic/", basic("user:pa:ss"), None),
    ("basic_empty_password",       "GET", "/basic/", basic("johndoe:"), None),
    ("basic_no_header",            "GET", "/basic/", {}, None),
    ("basic_bad_base64",           "GET", "/basic/", {"authorization": "Basic !!!notbase64"}, None),
    ("basic_no_colon",             "GET", "/basic/", basic("nocolon"), None),
    ("basic_non_ascii",            "GET", "/basic/", basic("jöhn:secret"), None),
    ("basic_bearer_scheme",        "GET", "/basic/", bearer("johndoe"), None),
]
# fmt: on


def part_data(data):
    if isinstance(data, dict):
        return (data["repeat"] * data["times"]).encode("utf-8")
    return data.encode("utf-8")


def encode_multipart(spec):
    """The multipart bytes for a normalised spec (see the module docstring)."""
    boundary = spec["boundary"]
    out = bytearray()
    for part in spec["multipart"]:
        for key in ("name", "filename"):
            if key in part and any(c in part[key] for c in '"\r\n'):
                raise SystemExit(f"{key} {part[key]!r}: '\"', CR and LF are not allowed")
        out += f"--{boundary}\r\n".encode("utf-8")
        disposition = f'Content-Disposition: form-data; name="{part["name"]}"'
        if "filename" in part:
            disposition += f'; filename="{part["filename"]}"'
        out += f"{disposition}\r\n".encode("utf-8")
        if "content_type" in part:
            out += f"Content-Type: {part['content_type']}\r\n".encode("utf-8")
        out += b"\r\n"
        out += part_data(part.get("data", ""))
        out += b"\r\n"
    out += f"--{boundary}--\r\n".encode("utf-8")
    return bytes(out)


def run_case(client, name, method, path, headers, body):
    sent = {k: v for k, v in headers.items() if v is not None}
    if isinstance(body, dict):
        body = {"boundary": body.get("boundary", BOUNDARY), "multipart": body["multipart"]}
        if "content-type" not in headers:
            sent["content-type"] = f"multipart/form-data; boundary={body['boundary']}"
        content = encode_multipart(body)
    elif isinstance(body, str):
        if "content-type" not in headers:
            raise SystemExit(f"{name}: a str body needs an explicit content-type (None for none)")
        content = body.encode("utf-8")
    else:
        content = None
    case = {
        "name": name,
        "method": method,
        "path": path,
        "headers": sent,
        "body": body,
        "body_len": None if content is None else len(content),
    }
    case.update(recording.answer(client, method, path, sent, content, HEADERS))
    return case


def main():
    recording.check_unique(CASES)
    client = TestClient(app, raise_server_exceptions=True)
    cases = [run_case(client, *c) for c in CASES]
    recorded_with = recording.versions("python-multipart")
    recording.write_json(
        OUT, {"recorded_with": recorded_with, "multipart_boundary": BOUNDARY, "cases": cases}
    )
    recording.write_json(OUT_OPENAPI, {"recorded_with": recorded_with, "openapi": app.openapi()})

    def auth(case):
        challenge = case["response_headers"].get("www-authenticate")
        return f"  [www-authenticate: {challenge}]" if challenge else ""

    recording.print_summary(cases, OUT, auth)


if __name__ == "__main__":
    main()
