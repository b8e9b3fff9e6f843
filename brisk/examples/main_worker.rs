//! Seed `main_worker.py`: answers with `worker_id` = the process id, run with
//! several worker processes to show requests spread across them.
//!
//! ```text
//! cargo run --release --example main_worker -- --port 8005 --workers 4
//! for i in $(seq 8); do curl -s -X POST http://127.0.0.1:8005/delay & done; wait
//! ```
//!
//! `/delay` blocks for 3 s inside an `async fn`, as the seed has it. With the
//! watchdog's default policy brisk contains it, so 8 concurrent requests take
//! about 3 s; with `--blocking-policy off`, each worker serves its blocking
//! requests one after another as uvicorn does (about 6 s for 8 on 4 workers).

use std::time::Duration;

use brisk::prelude::*;
use chrono::Local;

fn now() -> String {
    Local::now().format("%Y-%m-%d %H:%M:%S%.6f").to_string()
}

#[get("/")]
async fn read_root() -> Json<Value> {
    let worker_id = std::process::id();
    tracing::info!("GET / handled by worker id: {worker_id}");
    Json(json!({"message": "Hello World", "worker_id": worker_id}))
}

#[post("/delay")]
async fn delayed_response() -> Json<Value> {
    let worker_id = std::process::id();
    tracing::info!("POST /delay handled by worker id: {worker_id}");
    let start_time = now();
    tracing::info!("Starting delay at {start_time} on worker id: {worker_id}");

    std::thread::sleep(Duration::from_secs(3)); // Blocking call for demonstration

    let end_time = now();
    tracing::info!("Ending delay at {end_time} on worker id: {worker_id}");
    let response = json!({
        "message": "Response after 3 seconds delay",
        "start_time": start_time,
        "end_time": end_time,
        "worker_id": worker_id,
    });
    tracing::info!("Sending response: {response}");
    Json(response)
}

fn main() {
    App::new()
        .title("main_worker")
        .routes(routes![read_root, delayed_response])
        .run();
}
