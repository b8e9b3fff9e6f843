"""What the recording scripts (record_parity.py, record_forms.py) share:
sending one case through FastAPI's TestClient and keeping its answer, the
library versions, writing the fixture files, and the summary they print.
Each script keeps what is its own: the app, the cases, how a body is
encoded.
"""

import json
import platform
from importlib.metadata import version


def check_unique(cases):
    """Refuses a case list with a repeated name."""
    names = [c[0] for c in cases]
    dupes = {n for n in names if names.count(n) > 1}
    if dupes:
        raise SystemExit(f"duplicate case names: {sorted(dupes)}")


def answer(client, method, path, sent, content, headers):
    """Sends one request; its status, body (JSON, text, or None when
    empty) and the response headers named in `headers`."""
    resp = client.request(method, path, headers=sent, content=content, follow_redirects=False)
    ctype = resp.headers.get("content-type", "")
    if method == "HEAD" or not resp.content:
        payload = None
    elif ctype.startswith("application/json"):
        payload = resp.json()
    else:
        payload = resp.text
    kept = {h: resp.headers[h] for h in headers if h in resp.headers}
    return {"status": resp.status_code, "response": payload, "response_headers": kept}


def versions(*extra):
    """The versions the fixtures were recorded with (`extra`: more packages)."""
    packages = ("fastapi", "pydantic", "pydantic_core", "starlette", *extra)
    recorded = {p.replace("-", "_"): version(p) for p in packages}
    recorded["python"] = platform.python_version()
    return recorded


def write_json(path, value):
    """Writes a fixture file: indented, UTF-8, one trailing newline."""
    path.write_text(json.dumps(value, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def print_summary(cases, out, note=lambda case: ""):
    """One line per case (name, status, error types or body), then a total."""
    width = max(len(c["name"]) for c in cases)
    for c in cases:
        detail = c["response"]
        if isinstance(detail, dict) and isinstance(detail.get("detail"), list):
            detail = ",".join(str(e.get("type")) for e in detail["detail"])
        print(f"{c['name']:<{width}}  {c['status']:>3}  {json.dumps(detail)[:90]}{note(c)}")
    print(f"\n{len(cases)} cases written to {out}")
