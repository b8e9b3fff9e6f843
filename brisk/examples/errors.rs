//! FastAPI's "Handling Errors" tutorial in brisk: `HttpError` with headers,
//! a custom error type answered by its own exception handler, and the
//! default handlers overridden (HTTP errors as plain text, validation
//! errors with the body that caused them).
//!
//! ```text
//! cargo run --release --example errors -- --port 8010
//! curl -i http://127.0.0.1:8010/unicorns/yolo
//! ```
//!
//! Its FastAPI twin is `brisk/tests/fastapi/errors_app.py`;
//! `brisk/tests/middleware.rs` checks that both answer the same.

use std::collections::HashMap;

use brisk::error::ValidationErrors;
use brisk::prelude::*;

fn items() -> HashMap<&'static str, &'static str> {
    HashMap::from([("foo", "The Foo Wrestlers")])
}

/// An error of this application, answered by its own exception handler
/// (FastAPI's `class UnicornException(Exception)`).
#[derive(Debug, Exception)]
struct UnicornException {
    name: String,
}

#[get("/items/{item_id}")]
async fn read_item(item_id: String) -> Result<Json<Value>, HttpError> {
    match items().get(item_id.as_str()) {
        Some(item) => Ok(Json(json!({ "item": item }))),
        None => Err(HttpError::not_found("Item not found")),
    }
}

#[get("/items-header/{item_id}")]
async fn read_item_header(item_id: String) -> Result<Json<Value>, HttpError> {
    match items().get(item_id.as_str()) {
        Some(item) => Ok(Json(json!({ "item": item }))),
        None => {
            Err(HttpError::not_found("Item not found")
                .with_header("X-Error", "There goes my error"))
        }
    }
}

#[get("/unicorns/{name}")]
async fn read_unicorn(name: String) -> Result<Json<Value>, UnicornException> {
    if name == "yolo" {
        return Err(UnicornException { name });
    }
    Ok(Json(json!({ "unicorn_name": name })))
}

#[get("/numbers/{item_id}")]
async fn read_number(item_id: i64) -> Result<Json<Value>, HttpError> {
    if item_id == 3 {
        return Err(HttpError::new(418, "Nope! I don't like 3."));
    }
    Ok(Json(json!({ "item_id": item_id })))
}

#[derive(Serialize, Deserialize, JsonSchema)]
struct Item {
    title: String,
    size: i64,
}

#[post("/items/")]
async fn create_item(item: Json<Item>) -> Json<Item> {
    item
}

fn main() {
    App::new()
        .title("errors")
        .routes(routes![
            read_item,
            read_item_header,
            read_unicorn,
            read_number,
            create_item
        ])
        .exception_handler(|_req: &http::request::Parts, e: UnicornException| {
            let message = format!("Oops! {} did something. There goes a rainbow...", e.name);
            JsonResponse::new(&json!({ "message": message })).status(418)
        })
        // HTTP errors (404s and 405s too) as plain text, keeping their headers.
        .exception_handler(|_req: &http::request::Parts, e: HttpError| {
            let text = match e.detail() {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            let mut resp = (e.status(), text).into_response();
            resp.headers_mut().extend(e.headers().clone());
            resp
        })
        // Validation errors with the body that caused them.
        .exception_handler(|_req: &http::request::Parts, e: ValidationErrors| {
            JsonResponse::new(&json!({ "detail": e.detail, "body": e.body })).status(422)
        })
        .run();
}
