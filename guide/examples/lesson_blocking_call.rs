//! Lesson 4 — the pitfall every seed warns about: a blocking call inside an
//! `async fn` (the seeds' `main_simple.py`), then the fix (`main_sync.py`).
//!
//! `POST /delay` calls `std::thread::sleep` inside an `async fn`: it holds
//! its event-loop thread for the whole second. With brisk's watchdog turned
//! off that serialises requests as in FastAPI; with the watchdog on (the
//! default) brisk notices within 20 ms, logs the route and the fix, and
//! runs the route on the thread pool from then on. `POST /delay-fixed` is
//! the real fix: `tokio::time::sleep(..).await`.
//!
//! ```text
//! cargo run --release --example lesson_blocking_call -- --port 8104 --blocking-policy off
//! cargo run --release --example lesson_blocking_call -- --port 8104     # the watchdog (default)
//! cargo run --release --example guide_client -- 8104 POST /delay 6 --probe /
//! cargo run --release --example guide_client -- 8104 POST /delay-fixed 6 --probe /
//! ```

use std::time::Duration;

use brisk::prelude::*;

/// The seed's delay, shortened to one second.
const DELAY: Duration = Duration::from_secs(1);

/// ❌ The pitfall: blocks the event loop thread for a second.
#[post("/delay")]
async fn delay() -> Json<Value> {
    std::thread::sleep(DELAY); // blocking call inside async fn
    Json(json!({"message": "Response after 1 second delay"}))
}

/// ✅ The fix: the same wait, awaited.
#[post("/delay-fixed")]
async fn delay_fixed() -> Json<Value> {
    tokio::time::sleep(DELAY).await; // the event loop serves others meanwhile
    Json(json!({"message": "Response after 1 second delay"}))
}

/// A quick route, to see whether the server still answers meanwhile.
#[get("/")]
async fn root() -> Json<Value> {
    Json(json!({"message": "Hello World"}))
}

fn main() {
    App::new()
        .title("blocking call")
        .routes(routes![delay, delay_fixed, root])
        .run();
}
