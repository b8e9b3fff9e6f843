//! Lesson 10 — `tokio::time::timeout` (asyncio's `wait_for`): give an
//! operation two seconds, and stop waiting when they are up. The operation
//! is cancelled (its future dropped) at that moment, which it can observe.
//!
//! ```text
//! cargo run --release --example lesson_timeout
//! ```

use std::time::{Duration, Instant};

use brisk_guide::{say, secs, start_clock};
use tokio::time::{sleep, timeout};

/// Prints when the operation is dropped before it finished.
struct CancelWatch(&'static str, bool);

impl Drop for CancelWatch {
    fn drop(&mut self) {
        if !self.1 {
            say!("{}: dropped before it finished (cancelled)", self.0);
        }
    }
}

async fn slow_operation() -> &'static str {
    let mut watch = CancelWatch("slow_operation", false);
    say!("Starting slow operation (5 s)...");
    sleep(Duration::from_secs(5)).await;
    watch.1 = true;
    "Done!"
}

async fn quick_operation() -> &'static str {
    say!("Starting quick operation (0.5 s)...");
    sleep(Duration::from_millis(500)).await;
    "Done quickly!"
}

#[tokio::main]
async fn main() {
    start_clock();

    let start = Instant::now();
    match timeout(Duration::from_secs(2), slow_operation()).await {
        Ok(result) => say!("{result}"),
        Err(_elapsed) => say!("Operation timed out! (as expected)"),
    }
    say!(
        "slow operation with a 2 s timeout: gave up after {}",
        secs(start.elapsed())
    );

    let start = Instant::now();
    match timeout(Duration::from_secs(2), quick_operation()).await {
        Ok(result) => say!("{result}"),
        Err(_elapsed) => say!("Operation timed out!"),
    }
    say!(
        "quick operation with a 2 s timeout: answered after {}",
        secs(start.elapsed())
    );
}
