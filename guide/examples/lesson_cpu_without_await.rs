//! Lesson 11 — pitfall: CPU work without an await point. An `async fn`
//! only gives the event loop back at an `.await`; one second of computing
//! with no `.await` in it holds the loop for that second, and every other
//! task on it (here, a heartbeat that wants to tick every 10 ms) waits.
//! Then three fixes: a plain `fn` on the thread pool via
//! `brisk::run_in_threadpool` (what a plain `fn` handler gets for free),
//! `tokio::task::spawn_blocking`, and `tokio::task::yield_now` between
//! slices of the work.
//!
//! ```text
//! cargo run --release --example lesson_cpu_without_await
//! ```

use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use brisk_guide::{millis, say, secs, start_clock};

/// How much computing each variant does.
const WORK: Duration = Duration::from_secs(1);
/// The slice after which the cooperative variant yields.
const SLICE: Duration = Duration::from_millis(10);

/// Stands in for CPU-bound work (hashing, image resizing, ...): keeps one
/// core busy for `d`, then returns a checksum.
fn crunch(d: Duration) -> u64 {
    let start = Instant::now();
    let mut x: u64 = 1;
    while start.elapsed() < d {
        for _ in 0..1_000 {
            x = black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
        }
    }
    x
}

/// ❌ An async fn with no `.await` inside: runs start to end in one poll.
async fn crunch_async_no_await() -> u64 {
    crunch(WORK)
}

/// ✅ Cooperative: a slice of work, then `yield_now().await`, repeatedly.
async fn crunch_async_yielding() -> u64 {
    let start = Instant::now();
    let mut x = 0;
    while start.elapsed() < WORK {
        x ^= crunch(SLICE);
        tokio::task::yield_now().await; // lets the loop run other tasks
    }
    x
}

/// Ticks every 10 ms on the event loop and records the longest gap
/// between two ticks in microseconds: how long the loop was unavailable.
fn start_heartbeat() -> Arc<AtomicU64> {
    let longest = Arc::new(AtomicU64::new(0));
    let record = Arc::clone(&longest);
    tokio::spawn(async move {
        let mut last = Instant::now();
        loop {
            tokio::time::sleep(Duration::from_millis(10)).await;
            let gap = last.elapsed().as_micros() as u64;
            record.fetch_max(gap, Ordering::Relaxed);
            last = Instant::now();
        }
    });
    longest
}

async fn measure<F: Future<Output = u64>>(label: &str, work: F) {
    let heartbeat = start_heartbeat();
    tokio::time::sleep(Duration::from_millis(50)).await; // let it start ticking
    heartbeat.store(0, Ordering::Relaxed);
    let start = Instant::now();
    black_box(work.await);
    let took = start.elapsed();
    tokio::time::sleep(Duration::from_millis(20)).await; // one more tick
    let gap = Duration::from_micros(heartbeat.load(Ordering::Relaxed));
    say!(
        "{label}: work took {}, longest heartbeat gap {}",
        secs(took),
        millis(gap)
    );
}

// One event loop thread, like one uvicorn worker (and easy to see).
#[tokio::main(flavor = "current_thread")]
async fn main() {
    start_clock();
    measure(
        "❌ async fn without an await point",
        crunch_async_no_await(),
    )
    .await;
    measure(
        "✅ brisk::run_in_threadpool",
        brisk::run_in_threadpool(|| crunch(WORK)),
    )
    .await;
    measure("✅ tokio::task::spawn_blocking", async {
        tokio::task::spawn_blocking(|| crunch(WORK)).await.unwrap()
    })
    .await;
    measure("✅ yield_now every 10 ms", crunch_async_yielding()).await;
}
