//! Seed `main_threadpool.py`: an `async fn` that offloads the blocking sleep
//! with `run_in_threadpool`, so the event loop stays free.
//!
//! ```text
//! cargo run --release --example main_threadpool -- --port 8003
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

/// Runs the blocking sleep on the thread pool and awaits it.
#[post("/delay")]
async fn delayed_response_threadpool() -> Json<Value> {
    let start_time = now();
    tracing::info!("Starting delay at {start_time}");

    // Offload blocking sleep to the thread pool
    run_in_threadpool(|| std::thread::sleep(Duration::from_secs(3))).await;

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
        .title("main_threadpool")
        .routes(routes![read_root, delayed_response_threadpool])
        .run();
}
