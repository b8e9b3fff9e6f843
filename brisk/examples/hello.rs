//! The smallest brisk app: `GET /` → `{"message":"Hello World"}`.
//!
//! ```text
//! cargo run --release --example hello -- --port 8000
//! curl http://127.0.0.1:8000/
//! ```

use brisk::prelude::*;

/// Says hello.
#[get("/")]
async fn root() -> Json<Value> {
    Json(json!({"message": "Hello World"}))
}

fn main() {
    App::new().title("Hello").routes(routes![root]).run();
}
