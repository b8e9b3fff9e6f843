//! Lesson 5 — `brisk::run_in_threadpool(|| ...).await`: an `async fn` that
//! must call one blocking function hands just that call to the thread pool
//! (FastAPI's `await run_in_threadpool(func)`) and keeps awaiting the rest.
//!
//! Run it with the watchdog off, to see that the event loop stays free
//! because of `run_in_threadpool` and not because brisk rescued it:
//!
//! ```text
//! cargo run --release --example lesson_run_in_threadpool -- --port 8105 --blocking-policy off --event-loop-threads 1
//! cargo run --release --example guide_client -- 8105 POST /report 10 --probe /
//! ```

use std::time::Duration;

use brisk::prelude::*;

/// A function from a library without an async API: it blocks for a second.
fn legacy_report(user: &str) -> String {
    std::thread::sleep(Duration::from_secs(1));
    format!("report for {user}")
}

/// Async work and one blocking call, in the same handler.
#[post("/report")]
async fn report() -> Json<Value> {
    // async part: awaits, the event loop is free meanwhile
    tokio::time::sleep(Duration::from_millis(100)).await;
    let user = "alice".to_owned();
    // blocking part: runs on a pool thread; this handler awaits its result
    let report = brisk::run_in_threadpool(move || legacy_report(&user)).await;
    Json(json!({"report": report}))
}

/// A quick route, to see whether the server still answers meanwhile.
#[get("/")]
async fn root() -> Json<Value> {
    Json(json!({"message": "Hello World"}))
}

fn main() {
    App::new()
        .title("run_in_threadpool")
        .routes(routes![report, root])
        .run();
}
