//! Seed `main_simple.py`, kept exactly as the seed has it: an `async fn`
//! that calls the *blocking* `std::thread::sleep(3 s)`. This is the pitfall
//! every seed warns about — it blocks an event-loop thread. Try:
//!
//! ```text
//! cargo run --release --example main_simple -- --port 8001
//! for i in $(seq 10); do curl -s -X POST http://127.0.0.1:8001/delay & done; wait
//! ```

use std::time::Duration;

use brisk::prelude::*;
use chrono::Local;

fn now() -> String {
    Local::now().format("%Y-%m-%d %H:%M:%S%.6f").to_string()
}

#[get("/")]
async fn read_root() -> Json<Value> {
    tracing::info!("Received GET request to root endpoint");
    Json(json!({"message": "Hello World"}))
}

/// Blocks for 3 seconds inside an `async fn` (the pitfall).
#[post("/delay")]
async fn delayed_response() -> Json<Value> {
    tracing::info!("Received POST request to delay endpoint");
    let start_time = now();
    tracing::info!("Starting delay at {start_time}");

    std::thread::sleep(Duration::from_secs(3)); // Blocking call

    let end_time = now();
    tracing::info!("Ending delay at {end_time}");
    let response = json!({
        "message": "Response after 3 seconds delay",
        "start_time": start_time,
        "end_time": end_time,
    });
    tracing::info!("Sending response: {response}");
    Json(response)
}

fn main() {
    App::new()
        .title("main_simple")
        .routes(routes![read_root, delayed_response])
        .run();
}
