//! Lesson 6 — worker processes (`--workers N`, uvicorn's `--workers`), with
//! `worker_id` = the process id as in the seeds' `main_worker.py`.
//!
//! `POST /delay` blocks inside an `async fn` (as the seed's does). With
//! `--blocking-policy off`, each worker process serves its blocking
//! requests one after another, so N workers serve N at a time: parallelism.
//!
//! ```text
//! cargo run --release --example lesson_workers -- --port 8106 --workers 4 --blocking-policy off
//! cargo run --release --example guide_client -- 8106 POST /delay 8 --by worker_id
//! cargo run --release --example guide_client -- 8106 GET / 40 --concurrency 4 --by worker_id
//! ```

use std::time::Duration;

use brisk::prelude::*;

#[get("/")]
async fn read_root() -> Json<Value> {
    let worker_id = std::process::id();
    Json(json!({"message": "Hello World", "worker_id": worker_id}))
}

#[post("/delay")]
async fn delayed_response() -> Json<Value> {
    let worker_id = std::process::id();
    std::thread::sleep(Duration::from_secs(1)); // blocking, for demonstration
    Json(json!({"message": "Response after 1 second delay", "worker_id": worker_id}))
}

fn main() {
    App::new()
        .title("workers")
        .routes(routes![read_root, delayed_response])
        .run();
}
