//! Middleware, as FastAPI apps add it: CORS for a front-end on
//! `http://localhost:3000`, GZip for answers over 1,000 bytes, a request id
//! (generated, or the client's `x-request-id` passed along), request
//! tracing, and an `x-process-time` header from a function middleware
//! (FastAPI's `@app.middleware("http")`). The tower-http layers are used
//! unchanged.
//!
//! ```text
//! cargo run --release --example middleware -- --port 8011
//! curl -i -X OPTIONS http://127.0.0.1:8011/ -H 'Origin: http://localhost:3000' \
//!      -H 'Access-Control-Request-Method: GET'
//! curl -si --compressed http://127.0.0.1:8011/big | head
//! ```

use std::time::Instant;

use brisk::middleware::{Cors, GZip, Next, Request};
use brisk::prelude::*;
use brisk::response::Response;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

/// Adds how long the request took, in seconds (FastAPI's tutorial
/// `add_process_time_header`).
#[middleware]
async fn add_process_time_header(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let mut response = next.run(request).await;
    let took = format!("{:.6}", started.elapsed().as_secs_f64());
    if let Ok(value) = took.parse() {
        response.headers_mut().insert("x-process-time", value);
    }
    response
}

#[get("/")]
async fn root() -> Json<Value> {
    Json(json!({"message": "Hello World"}))
}

/// About 6 KB of JSON: compressed for clients that accept gzip.
#[get("/big")]
async fn big() -> Json<Value> {
    let items: Vec<Value> = (0..100)
        .map(|i| json!({"id": i, "name": format!("item {i}"), "description": "a thing that is for sale"}))
        .collect();
    Json(json!({ "items": items }))
}

fn main() {
    App::new()
        .title("middleware")
        .routes(routes![root, big])
        // The layer added last runs first on the request.
        .middleware(add_process_time_header)
        .layer(GZip::new().minimum_size(1000))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
        .layer(TraceLayer::new_for_http())
        .layer(
            Cors::new()
                .allow_origins(["http://localhost:3000"])
                .allow_methods(["*"])
                .allow_headers(["*"])
                .allow_credentials(true)
                .expose_headers(["x-request-id", "x-process-time"]),
        )
        .run();
}
