//! Lesson 1 — serial, parallel, concurrent: the burgers story in numbers.
//!
//! Cooking one burger takes one second. `POST /burger/blocking` cooks it
//! the blocking way (the cashier stands at the stove: `std::thread::sleep`),
//! `POST /burger/async` the concurrent way (the cashier hands out a number
//! and takes the next order: `tokio::time::sleep(..).await`). Start the
//! server in one of three ways and send four orders at once:
//!
//! ```text
//! # serial: one event loop thread, blocking handlers, no rescue by the watchdog
//! cargo run --release --example lesson_burgers -- --port 8101 --blocking-policy off --event-loop-threads 1
//! # parallel: the same blocking handler in 2 or 4 worker processes
//! cargo run --release --example lesson_burgers -- --port 8101 --blocking-policy off --workers 4
//! # concurrent: one process, one event loop thread, the async handler
//! cargo run --release --example lesson_burgers -- --port 8101 --event-loop-threads 1
//!
//! cargo run --release --example guide_client -- 8101 POST /burger/blocking 4
//! cargo run --release --example guide_client -- 8101 POST /burger/async 4
//! ```

use std::time::Duration;

use brisk::prelude::*;

/// How long the kitchen needs for one burger.
const COOKING: Duration = Duration::from_secs(1);

/// Parallel burgers: the cashier cooks your burger while you (and everyone
/// behind you) wait at the counter. `std::thread::sleep` blocks the thread,
/// so this event loop serves nobody else meanwhile.
#[post("/burger/blocking")]
async fn burger_blocking() -> Json<Value> {
    std::thread::sleep(COOKING); // the blocking call: stands at the stove
    Json(json!({"burger": "ready", "worker_id": std::process::id()}))
}

/// Concurrent burgers: you get a number and sit down; `.await` hands the
/// event loop back, so it takes the next order while this one cooks.
#[post("/burger/async")]
async fn burger_async() -> Json<Value> {
    tokio::time::sleep(COOKING).await; // waits without holding the thread
    Json(json!({"burger": "ready", "worker_id": std::process::id()}))
}

fn main() {
    App::new()
        .title("burgers")
        .routes(routes![burger_blocking, burger_async])
        .run(); // --port, --workers, --event-loop-threads, --blocking-policy ...
}
