//! Seed `main_sync.py`: the delay awaits a non-blocking sleep
//! (`tokio::time::sleep`), so the event loop serves other requests meanwhile;
//! ten concurrent requests take about one delay.
//!
//! ```text
//! cargo run --release --example main_sync -- --port 8002
//! ```

use std::time::Duration;

use brisk::prelude::*;
use chrono::Local;

fn now() -> String {
    Local::now().format("%Y-%m-%d %H:%M:%S%.6f").to_string()
}

#[get("/")]
async fn read_root() -> Json<Value> {
    Json(json!({"message": "Hello World"}))
}

/// Waits 3 seconds without blocking.
#[post("/delay")]
async fn delayed_response() -> Json<Value> {
    tracing::info!("Received POST request to delay endpoint");
    let start_time = now();
    tracing::info!("Starting delay at {start_time}");

    tokio::time::sleep(Duration::from_secs(3)).await; // Non-blocking sleep

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
        .title("main_sync")
        .routes(routes![read_root, delayed_response])
        .run();
}
