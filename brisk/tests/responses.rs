//! What handlers can return, and how it reaches the client.

use brisk::TestClient;
use brisk::prelude::*;

#[derive(Serialize, Deserialize, JsonSchema)]
struct Item {
    name: String,
}

#[post("/items", status = 201)]
async fn create(item: Json<Item>) -> Json<Item> {
    item
}

#[get("/custom")]
async fn custom() -> JsonResponse {
    JsonResponse::new(&json!({"msg": "change me"}))
        .status(202)
        .header("x-correlation-id", "abc")
}

#[get("/explicit-ok", status = 201)]
async fn explicit_ok() -> (StatusCode, Json<Value>) {
    (StatusCode::OK, Json(json!({"ok": true})))
}

#[get("/items/{id}")]
async fn find(id: u32) -> Result<Json<Item>, HttpError> {
    if id == 1 {
        Ok(Json(Item { name: "one".into() }))
    } else {
        Err(HttpError::not_found("Item not found").with_header("x-error", "missing"))
    }
}

#[get("/text")]
fn text() -> String {
    "plain".to_owned()
}

#[get("/html")]
async fn html() -> Html<&'static str> {
    Html("<b>hi</b>")
}

#[delete("/items/{id}")]
async fn remove(id: u32) -> NoContent {
    let _ = id;
    NoContent
}

#[put("/empty")]
async fn empty() {}

#[patch("/detail")]
async fn detail() -> Result<Json<Value>, HttpError> {
    Err(HttpError::new(
        409,
        json!({"reason": "conflict", "ids": [1, 2]}),
    ))
}

fn client() -> TestClient {
    TestClient::new(App::new().routes(routes![
        create,
        custom,
        explicit_ok,
        find,
        text,
        html,
        remove,
        empty,
        detail
    ]))
}

#[test]
fn declared_status_applies_to_plain_returns() {
    let resp = client().post("/items").json(&json!({"name": "a"})).send();
    assert_eq!(resp.status(), 201);
    assert_eq!(resp.json::<Value>(), json!({"name": "a"}));
}

#[test]
fn an_explicit_status_wins_over_the_declared_one() {
    let resp = client().get("/explicit-ok").send();
    assert_eq!(resp.status(), 200);
}

#[test]
fn json_response_carries_status_and_headers() {
    let resp = client().get("/custom").send();
    assert_eq!(resp.status(), 202);
    assert_eq!(resp.header("x-correlation-id"), Some("abc"));
    assert_eq!(resp.json::<Value>(), json!({"msg": "change me"}));
}

#[test]
fn results_answer_with_either_side() {
    let c = client();
    assert_eq!(
        c.get("/items/1").send().json::<Value>(),
        json!({"name": "one"})
    );
    let resp = c.get("/items/2").send();
    assert_eq!(resp.status(), 404);
    assert_eq!(resp.header("x-error"), Some("missing"));
    assert_eq!(resp.json::<Value>(), json!({"detail": "Item not found"}));
}

#[test]
fn http_error_detail_can_be_any_json() {
    let resp = client().patch("/detail").send();
    assert_eq!(resp.status(), 409);
    assert_eq!(
        resp.json::<Value>(),
        json!({"detail": {"reason": "conflict", "ids": [1, 2]}})
    );
}

#[test]
fn text_html_and_empty_responses() {
    let c = client();
    let resp = c.get("/text").send();
    assert_eq!(
        resp.header("content-type"),
        Some("text/plain; charset=utf-8")
    );
    assert_eq!(resp.text(), "plain");
    let resp = c.get("/html").send();
    assert_eq!(
        resp.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    let resp = c.delete("/items/3").send();
    assert_eq!(resp.status(), 204);
    assert!(resp.bytes().is_empty());
    assert_eq!(resp.header("content-type"), Some("application/json"));
    // A path operation returning nothing answers `null`, as FastAPI's
    // returning `None` does.
    let resp = c.put("/empty").send();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.text(), "null");
}

#[test]
fn head_is_not_answered_by_a_get_operation_as_in_fastapi() {
    let resp = client().request(http::Method::HEAD, "/text").send();
    assert_eq!(resp.status(), 405);
    assert_eq!(resp.header("allow"), Some("GET"));
}

#[get("/users/me")]
async fn users_me() -> &'static str {
    "me"
}

#[put("/users/{username}")]
async fn put_user(username: String) -> String {
    format!("put {username}")
}

#[test]
fn a_static_route_does_not_hide_another_routes_method() {
    // As in Starlette: GET /users/me exists, but PUT /users/me is
    // /users/{username}'s; 405 only when no route has the method.
    let client = TestClient::new(App::new().routes(routes![users_me, put_user]));
    assert_eq!(client.get("/users/me").send().text(), "me");
    assert_eq!(client.put("/users/me").send().text(), "put me");
    let resp = client.delete("/users/me").send();
    assert_eq!(resp.status(), 405);
    assert_eq!(
        resp.header("allow"),
        Some("GET, PUT"),
        "every route matching the path counts"
    );
}
