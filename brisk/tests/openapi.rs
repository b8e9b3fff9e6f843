//! The OpenAPI document: compared with FastAPI's for the same API
//! (`fastapi/tutorial_app.py`, recorded into `fixtures/fastapi_openapi.json`
//! by `fastapi/record_openapi.py`), validated by a third-party validator, and
//! served with offline Swagger UI and ReDoc pages.

mod common;

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

/// Where the tutorial example's document may differ from FastAPI's for the
/// twin app, and why. Each entry must still match a difference (an entry
/// that no longer does is reported, so the list cannot rot). Empty: the two
/// documents are the same JSON value.
const ALLOWED_DIFFERENCES: &[(&str, &str)] = &[];

#[test]
fn the_whole_document_equals_fastapis_for_the_twin_app() {
    let ours = tutorial_doc();
    let theirs = fastapi_doc();
    let differences = common::json_differences(&theirs, &ours);
    let unexpected: Vec<&String> = differences
        .iter()
        .filter(|d| {
            !ALLOWED_DIFFERENCES
                .iter()
                .any(|(path, _)| d.starts_with(path))
        })
        .collect();
    assert!(
        unexpected.is_empty(),
        "the tutorial's document differs from FastAPI's (fixtures/fastapi_openapi.json):\n{}",
        unexpected
            .iter()
            .map(|d| d.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    );
    for (path, reason) in ALLOWED_DIFFERENCES {
        assert!(
            differences.iter().any(|d| d.starts_with(path)),
            "allowed difference {path} ({reason}) no longer occurs: remove it"
        );
    }
}

#[test]
fn no_boolean_schema_appears_anywhere() {
    use std::collections::HashMap;

    #[derive(Serialize, Deserialize, JsonSchema)]
    struct Loose {
        anything: Value,
        maybe: Option<Value>,
        map: HashMap<String, Value>,
    }

    #[post("/loose")]
    async fn loose(body: Json<Loose>) -> Json<Value> {
        Json(json!(body.anything))
    }

    #[get("/values")]
    async fn values() -> Json<Vec<Value>> {
        Json(vec![])
    }

    let doc = TestClient::new(App::new().routes(routes![loose, values])).openapi();
    /// Every value in a schema position that is a boolean.
    fn booleans(v: &Value, path: String, out: &mut Vec<String>) {
        match v {
            Value::Object(map) => {
                for (k, sub) in map {
                    let schema_position = matches!(
                        k.as_str(),
                        "schema" | "items" | "not" | "contains" | "propertyNames"
                    );
                    if schema_position && sub.is_boolean() {
                        out.push(format!("{path}/{k}"));
                    }
                    if matches!(k.as_str(), "properties" | "$defs" | "schemas")
                        && let Value::Object(members) = sub
                    {
                        for (name, m) in members {
                            if m.is_boolean() {
                                out.push(format!("{path}/{k}/{name}"));
                            }
                        }
                    }
                    booleans(sub, format!("{path}/{k}"), out);
                }
            }
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    if item.is_boolean() && path.ends_with("Of") {
                        out.push(format!("{path}[{i}]"));
                    }
                    booleans(item, format!("{path}[{i}]"), out);
                }
            }
            _ => {}
        }
    }
    let mut found = Vec::new();
    booleans(&doc, String::new(), &mut found);
    booleans(&tutorial_doc(), "tutorial".into(), &mut found);
    assert!(found.is_empty(), "boolean schemas at {found:?}");
    let loose = &doc["components"]["schemas"]["Loose"]["properties"];
    assert_eq!(loose["anything"], json!({"title": "Anything"}));
    assert_eq!(
        loose["map"],
        json!({"type": "object", "additionalProperties": true, "title": "Map"}),
        "pydantic writes dict[str, Any] with additionalProperties: true"
    );
    assert_eq!(
        doc["paths"]["/values"]["get"]["responses"]["200"]["content"]["application/json"]["schema"],
        json!({"type": "array", "items": {}, "title": "Response Values Values Get"})
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

/// Runs `openapi-spec-validator` (PyPI) on the tutorial example's document.
#[test]
fn the_document_passes_a_third_party_openapi_validator() {
    if !common::python_tool("openapi_spec_validator", "openapi-spec-validator") {
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
    if !common::python_tool("schemathesis", "schemathesis") {
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
    let server = common::start_example("tutorial", &["--no-access-log"]);
    common::run_browser_script("docs_test.mjs", server.addr);
}
