//! The OpenAPI document: compared with FastAPI's for the same API
//! (`fastapi/tutorial_app.py`, recorded into `fixtures/fastapi_openapi.json`
//! by `fastapi/record_openapi.py`), validated by a third-party validator, and
//! served with offline Swagger UI and ReDoc pages.

mod common;

use std::collections::BTreeSet;

use brisk::TestClient;
use brisk::prelude::*;

/// The tutorial example's document, fetched from the running example.
fn tutorial_doc() -> Value {
    let server = common::start_example("tutorial", &["--no-access-log"]);
    common::request(server.addr, "GET", "/openapi.json", None).json()
}

#[get("/items/")]
async fn read_items() -> Json<Value> {
    Json(json!([]))
}

fn client() -> TestClient {
    TestClient::new(
        App::new()
            .title("Tutorial")
            .version("1.0.0")
            .routes(routes![read_items]),
    )
}

fn fastapi_doc() -> Value {
    let fixture: Value =
        serde_json::from_str(include_str!("fixtures/fastapi_openapi.json")).unwrap();
    fixture["openapi"].clone()
}

/// The parts of a parameter a client relies on: where, whether required,
/// the type and every constraint (titles and integer formats aside).
fn param_essentials(p: &Value) -> Value {
    let mut schema = p["schema"].clone();
    let obj = schema.as_object_mut().unwrap();
    obj.remove("title");
    fn strip(v: &mut Value) {
        if let Value::Object(m) = v {
            m.remove("format");
            m.values_mut().for_each(strip);
        } else if let Value::Array(a) = v {
            a.iter_mut().for_each(strip);
        }
    }
    strip(&mut schema);
    // Compare numbers as numbers (FastAPI writes 1.0 where brisk writes 1.0 or 1).
    json!({"name": p["name"], "in": p["in"], "required": p["required"], "schema": normalize_numbers(schema)})
}

fn normalize_numbers(v: Value) -> Value {
    match v {
        Value::Number(n) => json!(n.as_f64().unwrap()),
        Value::Array(a) => Value::Array(a.into_iter().map(normalize_numbers).collect()),
        Value::Object(m) => Value::Object(
            m.into_iter()
                .map(|(k, v)| (k, normalize_numbers(v)))
                .collect(),
        ),
        other => other,
    }
}

#[test]
fn the_document_carries_the_same_operations_parameters_and_constraints_as_fastapi() {
    let ours = tutorial_doc();
    let theirs = fastapi_doc();
    assert_eq!(ours["openapi"], "3.1.0");
    assert_eq!(ours["info"], theirs["info"]);

    let paths = |doc: &Value| -> BTreeSet<(String, String)> {
        doc["paths"]
            .as_object()
            .unwrap()
            .iter()
            .flat_map(|(p, item)| {
                item.as_object()
                    .unwrap()
                    .keys()
                    .map(move |m| (p.clone(), m.clone()))
            })
            .collect()
    };
    assert_eq!(paths(&ours), paths(&theirs));

    for (path, method) in paths(&theirs) {
        let a = &ours["paths"][&path][&method];
        let b = &theirs["paths"][&path][&method];
        let at = format!("{method} {path}");
        assert_eq!(a["operationId"], b["operationId"], "{at}");
        assert_eq!(a["summary"], b["summary"], "{at}");
        assert_eq!(a["tags"], b["tags"], "{at}");
        assert_eq!(a["security"], b["security"], "{at}: security requirements");
        let params = |op: &Value| -> Vec<Value> {
            op["parameters"]
                .as_array()
                .map(|ps| ps.iter().map(param_essentials).collect())
                .unwrap_or_default()
        };
        assert_eq!(params(a), params(b), "{at}: parameters");
        assert_eq!(
            a["requestBody"]["content"]["application/json"]["schema"],
            b["requestBody"]["content"]["application/json"]["schema"],
            "{at}: request body"
        );
        assert_eq!(
            a["requestBody"]["required"], b["requestBody"]["required"],
            "{at}"
        );
        let codes = |op: &Value| -> Vec<String> {
            op["responses"]
                .as_object()
                .unwrap()
                .keys()
                .cloned()
                .collect()
        };
        assert_eq!(codes(a), codes(b), "{at}: response codes");
        let success = codes(b)[0].clone();
        let schema_of =
            |op: &Value| op["responses"][&success]["content"]["application/json"]["schema"].clone();
        if schema_of(b).get("$ref").is_some() {
            assert_eq!(schema_of(a), schema_of(b), "{at}: response schema");
        }
    }

    // Shared schemas: the same models with the same fields and required lists.
    let models = |doc: &Value| -> BTreeSet<String> {
        doc["components"]["schemas"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect()
    };
    assert_eq!(models(&ours), models(&theirs));
    for model in ["Item", "User"] {
        let a = &ours["components"]["schemas"][model];
        let b = &theirs["components"]["schemas"][model];
        let props = |s: &Value| -> BTreeSet<String> {
            s["properties"]
                .as_object()
                .unwrap()
                .keys()
                .cloned()
                .collect()
        };
        assert_eq!(props(a), props(b), "{model}");
        assert_eq!(a["required"], b["required"], "{model}: required");
    }
    assert_eq!(
        ours["components"]["securitySchemes"],
        theirs["components"]["securitySchemes"]
    );
    assert_eq!(
        ours["components"]["schemas"]["HTTPValidationError"],
        theirs["components"]["schemas"]["HTTPValidationError"]
    );
    assert_eq!(
        ours["components"]["schemas"]["ValidationError"],
        theirs["components"]["schemas"]["ValidationError"]
    );
}

#[test]
fn doc_comments_become_descriptions_and_hidden_operations_stay_hidden() {
    /// Lists things.
    ///
    /// With a longer explanation.
    #[get("/things")]
    async fn list_things() -> Json<Vec<String>> {
        Json(vec![])
    }

    #[get("/internal", include_in_schema = false)]
    async fn internal() -> &'static str {
        "x"
    }

    let doc = TestClient::new(App::new().routes(routes![list_things, internal])).openapi();
    let op = &doc["paths"]["/things"]["get"];
    assert_eq!(
        op["description"],
        "Lists things.\n\nWith a longer explanation."
    );
    assert_eq!(
        op["responses"]["200"]["content"]["application/json"]["schema"]["type"],
        "array"
    );
    assert!(doc["paths"].get("/internal").is_none());
    assert!(
        doc["paths"].get("/openapi.json").is_none(),
        "the docs routes are not part of the API"
    );
}

#[test]
fn the_docs_pages_and_their_assets_are_served_from_the_binary() {
    let client = client();
    let spec = client.get("/openapi.json").send();
    assert_eq!(spec.status(), 200);
    assert_eq!(spec.json::<Value>(), client.openapi());

    let docs = client.get("/docs").send();
    assert_eq!(
        docs.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    let html = docs.text();
    assert!(
        html.contains("/docs/swagger-ui-bundle.js") && html.contains("'/openapi.json'"),
        "{html}"
    );
    assert!(
        !html.contains("http"),
        "no external URL in the page: {html}"
    );
    let js = client.get("/docs/swagger-ui-bundle.js").send();
    assert!(
        js.bytes().len() > 500_000
            && js
                .header("content-type")
                .unwrap()
                .starts_with("text/javascript")
    );
    assert!(client.get("/docs/swagger-ui.css").send().bytes().len() > 10_000);

    let redoc = client.get("/redoc").send().text();
    assert!(
        redoc.contains("/redoc/redoc.standalone.js") && !redoc.contains("http"),
        "{redoc}"
    );
    assert!(
        client
            .get("/redoc/redoc.standalone.js")
            .send()
            .bytes()
            .len()
            > 500_000
    );
}

#[test]
fn docs_urls_can_be_moved_or_turned_off() {
    let client = TestClient::new(
        App::new()
            .openapi_url(Some("/api/spec.json"))
            .docs_url(None)
            .redoc_url(Some("/reference"))
            .routes(routes![read_items]),
    );
    assert_eq!(client.get("/api/spec.json").send().status(), 200);
    assert_eq!(client.get("/openapi.json").send().status(), 404);
    assert_eq!(client.get("/docs").send().status(), 404);
    // ReDoc's page points at the moved document: `<redoc spec-url="/api/spec.json">`.
    let reference = client.get("/reference").send().text();
    assert!(
        reference.contains(r#"spec-url="/api/spec.json""#),
        "{reference}"
    );
    let off = TestClient::new(App::new().openapi_url(None).routes(routes![read_items]));
    assert_eq!(off.get("/openapi.json").send().status(), 404);
    assert_eq!(off.get("/redoc").send().status(), 404);
}

/// Whether a third-party Python tool is installed. `.ci/run` installs them
/// and sets BRISK_REQUIRE_PY_TOOLS=1, making a missing one a failure;
/// elsewhere the test says it skipped.
fn python_tool(module: &str, pip_name: &str) -> bool {
    let check = std::process::Command::new("python3")
        .args(["-c", &format!("import {module}")])
        .status();
    if matches!(check, Ok(s) if s.success()) {
        return true;
    }
    assert!(
        std::env::var("BRISK_REQUIRE_PY_TOOLS").is_err(),
        "{pip_name} is required here (pip install {pip_name})"
    );
    eprintln!("SKIPPED: pip install {pip_name} to run this check");
    false
}

/// Runs `openapi-spec-validator` (PyPI) on the tutorial example's document.
#[test]
fn the_document_passes_a_third_party_openapi_validator() {
    if !python_tool("openapi_spec_validator", "openapi-spec-validator") {
        return;
    }
    let dir = std::env::temp_dir().join(format!("brisk-openapi-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("openapi.json");
    std::fs::write(&file, serde_json::to_vec_pretty(&tutorial_doc()).unwrap()).unwrap();
    let out = std::process::Command::new("python3")
        .args(["-m", "openapi_spec_validator"])
        .arg(&file)
        .output()
        .expect("run the validator");
    assert!(
        out.status.success(),
        "openapi-spec-validator rejected the document:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Runs schemathesis (property-based API testing from the OpenAPI document)
/// against the running tutorial example: no server errors, and every
/// response matches the documented schema.
#[test]
fn schemathesis_finds_no_server_errors_and_no_schema_violations() {
    if !python_tool("schemathesis", "schemathesis") {
        return;
    }
    let server = common::start_example("tutorial", &["--no-access-log"]);
    let url = format!("http://{}/openapi.json", server.addr);
    let out = std::process::Command::new("python3")
        .args(["-m", "schemathesis.cli", "run", &url])
        .args(["--checks", "not_a_server_error,response_schema_conformance"])
        .args([
            "--max-examples",
            "50",
            "--header",
            "x-token: fake-super-secret-token",
        ])
        .env("NO_COLOR", "1")
        .output()
        .expect("run schemathesis");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "schemathesis found problems:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Headless Chromium opens `/docs` (Swagger UI served from the binary), sees
/// the operations, uses "Try it out" on one and sees its response
/// (`browser/docs_test.mjs`, Playwright driving Debian's chromium). `.ci/run`
/// installs chromium and the node module and sets BRISK_REQUIRE_BROWSER=1;
/// elsewhere the test says it skipped.
#[test]
fn swagger_ui_in_a_real_browser_lists_operations_and_try_it_out_works() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser");
    let ready = dir.join("node_modules/playwright-core").exists()
        && std::path::Path::new("/usr/bin/chromium").exists()
        && std::process::Command::new("node")
            .arg("--version")
            .output()
            .is_ok();
    if !ready {
        assert!(
            std::env::var("BRISK_REQUIRE_BROWSER").is_err(),
            "the browser test needs node, `npm ci` in brisk/tests/browser and chromium"
        );
        eprintln!("SKIPPED: apt-get install chromium && npm ci --prefix brisk/tests/browser");
        return;
    }
    let server = common::start_example("tutorial", &["--no-access-log"]);
    let out = std::process::Command::new("node")
        .arg(dir.join("docs_test.mjs"))
        .arg(format!("http://{}", server.addr))
        .output()
        .expect("run node");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("OK"),
        "browser test failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
