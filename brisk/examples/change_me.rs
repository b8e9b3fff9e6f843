//! Seed 000's `change_me`: a JSON response with custom headers, FastAPI's
//! `JSONResponse(content=..., headers=...)`, with a fresh correlation id per
//! request.
//!
//! ```text
//! cargo run --release --example change_me -- --port 8005
//! curl -i http://127.0.0.1:8005/
//! ```

use brisk::prelude::*;
use uuid::Uuid;

#[get("/")]
async fn change_me() -> JsonResponse {
    let content = json!({"msg": "change me"});
    JsonResponse::new(&content)
        .header(
            "X-azure-management-service-CORRELATION-ID",
            &Uuid::new_v4().to_string(),
        )
        .header(
            "x-azure-management-service-server",
            "azure-management-service-prototype",
        )
}

fn main() {
    App::new()
        .title("change_me")
        .routes(routes![change_me])
        .run();
}
