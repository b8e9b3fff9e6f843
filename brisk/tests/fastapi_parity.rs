//! The same requests sent to brisk and to FastAPI give the same answers.
//!
//! `fixtures/fastapi_validation.json` was recorded from real FastAPI by
//! `fastapi/record_fixtures.py` against `fastapi/validation_app.py`. This file
//! declares the equivalent brisk app, replays every recorded request through
//! the in-process TestClient, and compares status, body (field by field) and
//! the `Allow` header.

use brisk::TestClient;
use brisk::params::{ApiKeyHeader, HttpBearer};
use brisk::prelude::*;

#[derive(Serialize, Deserialize, JsonSchema)]
struct Item {
    name: String,
    price: f64,
    #[serde(default = "one")]
    quantity: i64,
    #[serde(default = "yes")]
    in_stock: bool,
    #[serde(default)]
    tags: Vec<String>,
}

fn one() -> i64 {
    1
}

fn yes() -> bool {
    true
}

#[get("/items/{item_id}")]
async fn read_item(
    item_id: i64,
    #[param(min_length = 3, max_length = 10, pattern = "^[a-z]+$")] q: Option<String>,
    #[param(default = 10, ge = 1, le = 100)] limit: i64,
    #[param(gt = 0, lt = 1000)] price: Option<f64>,
    #[param(default = false)] flag: bool,
) -> Json<Value> {
    Json(json!({"item_id": item_id, "q": q, "limit": limit, "price": price, "flag": flag}))
}

#[get("/search")]
async fn search(name: String, tag: Vec<String>) -> Json<Value> {
    Json(json!({"name": name, "tag": tag}))
}

#[post("/items", status = 201)]
async fn create_item(item: Json<Item>) -> Json<Item> {
    item
}

#[get("/headers")]
async fn headers(x_token: Header<String>, user_agent: Header<Option<String>>) -> Json<Value> {
    let _ = user_agent;
    Json(json!({"x_token": x_token.0}))
}

#[get("/cookies")]
async fn cookies(session: Cookie<String>) -> Json<Value> {
    Json(json!({"session": session.0}))
}

#[get("/secure")]
async fn secure(credentials: HttpBearer) -> Json<Value> {
    Json(json!({"token": credentials.token}))
}

#[get("/keyed")]
async fn keyed(#[param(alias = "X-API-Key")] key: ApiKeyHeader) -> Json<Value> {
    Json(json!({"key": key.0}))
}

#[derive(Deserialize)]
struct Fixture {
    recorded_with: Value,
    cases: Vec<Case>,
}

#[derive(Deserialize)]
struct Case {
    name: String,
    method: String,
    path: String,
    #[serde(default)]
    headers: serde_json::Map<String, Value>,
    body: Option<BodySpec>,
    status: u16,
    response: Value,
    #[serde(default)]
    response_headers: serde_json::Map<String, Value>,
}

/// A recorded request body: the text, or a text repeated (huge bodies).
#[derive(Deserialize)]
#[serde(untagged)]
enum BodySpec {
    Text(String),
    Repeat { repeat: String, times: usize },
}

impl BodySpec {
    fn expand(&self) -> String {
        match self {
            BodySpec::Text(t) => t.clone(),
            BodySpec::Repeat { repeat, times } => repeat.repeat(*times),
        }
    }
}

/// Compares two JSON values and describes the first difference, with its path.
fn diff(path: &str, expected: &Value, actual: &Value) -> Option<String> {
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => {
            for (k, ev) in e {
                match a.get(k) {
                    None => return Some(format!("{path}.{k}: missing in brisk's answer")),
                    Some(av) => {
                        if let Some(d) = diff(&format!("{path}.{k}"), ev, av) {
                            return Some(d);
                        }
                    }
                }
            }
            a.keys()
                .find(|k| !e.contains_key(*k))
                .map(|k| format!("{path}.{k}: brisk has a field FastAPI does not"))
        }
        (Value::Array(e), Value::Array(a)) => {
            if e.len() != a.len() {
                return Some(format!(
                    "{path}: {} items in FastAPI, {} in brisk",
                    e.len(),
                    a.len()
                ));
            }
            e.iter()
                .zip(a)
                .enumerate()
                .find_map(|(i, (ev, av))| diff(&format!("{path}[{i}]"), ev, av))
        }
        // 2.0 (Python float) and 2 are the same number to a JSON client.
        (Value::Number(e), Value::Number(a)) if e.as_f64() == a.as_f64() => None,
        (e, a) if e == a => None,
        (e, a) => Some(format!("{path}: FastAPI {e}, brisk {a}")),
    }
}

#[test]
fn every_recorded_fastapi_answer_is_reproduced() {
    let fixture: Fixture = serde_json::from_str(include_str!("fixtures/fastapi_validation.json"))
        .expect("fixture file");
    assert!(
        fixture.cases.len() >= 40,
        "the fixture should cover the whole list"
    );
    let client = TestClient::new(App::new().routes(routes![
        read_item,
        search,
        create_item,
        headers,
        cookies,
        secure,
        keyed
    ]));

    let mut failures = Vec::new();
    for case in &fixture.cases {
        let method = case.method.parse().expect("method");
        let mut req = client.request(method, &case.path);
        for (k, v) in &case.headers {
            req = req.header(k, v.as_str().expect("header value"));
        }
        if let Some(body) = &case.body {
            req = req.body(body.expand());
        }
        let resp = req.send();
        if resp.status().as_u16() != case.status {
            failures.push(format!(
                "{}: status FastAPI {}, brisk {} ({})",
                case.name,
                case.status,
                resp.status(),
                resp.text()
            ));
            continue;
        }
        let actual: Value = resp.json();
        if let Some(d) = diff("", &case.response, &actual) {
            failures.push(format!("{}: {d}", case.name));
        }
        for (k, v) in &case.response_headers {
            if resp.header(k) != v.as_str() {
                failures.push(format!(
                    "{}: header {k} FastAPI {v}, brisk {:?}",
                    case.name,
                    resp.header(k)
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases differ from FastAPI {}:\n{}",
        failures.len(),
        fixture.cases.len(),
        fixture.recorded_with,
        failures.join("\n")
    );
}
