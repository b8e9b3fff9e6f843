//! Lesson 2 — `async fn` or plain `fn`? The same one-second wait written
//! both ways, measured: an `async fn` that awaits runs on the event loop and
//! waits without holding a thread; a plain `fn` that blocks runs on brisk's
//! bounded thread pool (40 threads unless `--threadpool-size` says otherwise).
//!
//! ```text
//! cargo run --release --example lesson_def_vs_async -- --port 8102
//! cargo run --release --example guide_client -- 8102 GET /async-wait 10 --probe /
//! cargo run --release --example guide_client -- 8102 GET /sync-wait 10 --probe /
//! cargo run --release --example guide_client -- 8102 GET /sync-wait 50
//! cargo run --release --example guide_client -- 8102 GET /async-wait 50
//! ```

use std::time::Duration;

use brisk::prelude::*;

/// Stands in for a library call that takes one second.
const WAIT: Duration = Duration::from_secs(1);

/// The library has an async API (it tells you to `.await` it): `async fn`.
#[get("/async-wait")]
async fn async_wait() -> Json<Value> {
    tokio::time::sleep(WAIT).await; // e.g. an async HTTP or database client
    Json(json!({"waited": "async"}))
}

/// The library blocks (most database drivers, `std::fs`, a sync HTTP
/// client): a plain `fn`, and brisk runs it on the thread pool.
#[get("/sync-wait")]
fn sync_wait() -> Json<Value> {
    std::thread::sleep(WAIT); // e.g. a sync database driver
    Json(json!({"waited": "sync"}))
}

/// Nothing to wait for at all: `async fn` (no trip to the thread pool).
#[get("/")]
async fn root() -> Json<Value> {
    Json(json!({"message": "Hello World"}))
}

fn main() {
    App::new()
        .title("def vs async")
        .routes(routes![async_wait, sync_wait, root])
        .run();
}
