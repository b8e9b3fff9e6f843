//! A static front-end next to an API (Starlette's `StaticFiles` with
//! `html=True`): `examples/static` is served at `/`, with `index.html` for
//! directories and `404.html` for what is not there; `/api/hello` is a
//! path operation, matched first.
//!
//! ```text
//! cargo run --release --example static_files -- --port 8000
//! curl -i http://127.0.0.1:8000/                   # index.html
//! curl -i http://127.0.0.1:8000/style.css -r 0-9   # 206, ten bytes
//! curl -i http://127.0.0.1:8000/api/hello
//! curl -i --path-as-is http://127.0.0.1:8000/../Cargo.toml   # 404
//! ```
//!
//! `BRISK_STATIC_DIR=DIR` serves another directory.

use brisk::prelude::*;
use brisk::response::{FileResponse, RedirectResponse, StaticFiles};

/// The API next to the files.
#[get("/api/hello")]
async fn hello() -> Json<Value> {
    Json(json!({"message": "Hello from the API"}))
}

/// A download: this example's own source, as an attachment.
#[get("/api/source")]
async fn source() -> FileResponse {
    FileResponse::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/static_files.rs"
    ))
    .filename("static_files.rs")
}

/// An old address, redirected (307, as Starlette's `RedirectResponse`).
#[get("/home")]
async fn home() -> RedirectResponse {
    RedirectResponse::new("/")
}

fn main() {
    // `BRISK_STATIC_DIR` serves another directory.
    let dir = std::env::var("BRISK_STATIC_DIR")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/examples/static").to_owned());
    App::new()
        .title("Static files")
        .routes(routes![hello, source, home])
        .mount("/", StaticFiles::new(dir).html(true))
        .run();
}
