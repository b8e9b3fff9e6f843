//! Lesson 13 — pitfall: starting a loop inside a loop. Python's
//! `asyncio.run()` inside an `async def` raises "cannot be called from a
//! running event loop"; Rust's equivalent, `Handle::block_on` (or
//! `Runtime::block_on`) on an event-loop thread, panics with "Cannot start
//! a runtime from within a runtime". The fix is to `.await`; and if sync
//! code really must wait for a future, run that sync code off the loop
//! (`spawn_blocking`), where blocking on the runtime's handle is allowed.
//!
//! ```text
//! cargo run --release --example lesson_block_on_in_runtime
//! ```

use std::time::Duration;

use brisk_guide::{say, start_clock};
use tokio::runtime::Handle;

async fn helper() -> u32 {
    tokio::time::sleep(Duration::from_millis(100)).await;
    42
}

/// A sync function (say, from a library with callbacks) that needs the
/// result of async code.
fn sync_code_needing_async(handle: &Handle) -> u32 {
    handle.block_on(helper()) // blocks this thread until helper() is done
}

/// The text of a panic's payload.
fn panic_text(payload: Box<dyn std::any::Any + Send>) -> String {
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default()
}

#[tokio::main]
async fn main() {
    start_clock();
    // Print panics ourselves, below, without the default hook's source path.
    std::panic::set_hook(Box::new(|_| {}));

    // ❌ Blocking on the runtime from a task running on it.
    let handle = Handle::current();
    let bad = tokio::spawn(async move { sync_code_needing_async(&handle) }).await;
    match bad {
        Ok(n) => say!("❌ block_on inside the runtime returned {n}?!"),
        Err(e) => say!(
            "❌ block_on inside the runtime panicked:\n{}",
            panic_text(e.into_panic())
        ),
    }

    // ✅ Fix 1: in async code, just await.
    say!("✅ .await: helper() = {}", helper().await);

    // ✅ Fix 2: sync code that must wait for a future runs on a blocking
    // thread (spawn_blocking, or brisk::run_in_threadpool in a handler),
    // where Handle::block_on is allowed.
    let handle = Handle::current();
    let n = tokio::task::spawn_blocking(move || sync_code_needing_async(&handle))
        .await
        .unwrap();
    say!("✅ block_on inside spawn_blocking: helper() = {n}");
}
