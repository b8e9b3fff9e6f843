//! FastAPI's `def` vs `async def`, in brisk: the same blocking delay written
//! as a plain `fn` runs on the bounded thread pool (default 40 threads), so
//! ten concurrent requests take about one delay, and the `async fn` routes
//! keep answering meanwhile.
//!
//! ```text
//! cargo run --release --example def_vs_async -- --port 8004
//! ```

use std::time::Duration;

use brisk::prelude::*;
use chrono::Local;

fn now() -> String {
    Local::now().format("%Y-%m-%d %H:%M:%S%.6f").to_string()
}

/// `async fn`: runs on the event loop.
#[get("/")]
async fn read_root() -> Json<Value> {
    Json(json!({"message": "Hello World"}))
}

/// Plain `fn`: runs on the thread pool, where blocking is fine.
#[post("/delay")]
fn delayed_response() -> Json<Value> {
    let start_time = now();
    tracing::info!(
        "Starting delay at {start_time} on {:?}",
        std::thread::current().name()
    );
    std::thread::sleep(Duration::from_secs(3)); // Blocking, but on a pool thread
    let end_time = now();
    tracing::info!("Ending delay at {end_time}");
    Json(json!({
        "message": "Response after 3 seconds delay",
        "start_time": start_time,
        "end_time": end_time,
    }))
}

fn main() {
    App::new()
        .title("def_vs_async")
        .routes(routes![read_root, delayed_response])
        .run();
}
