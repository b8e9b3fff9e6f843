//! Lesson 15 — the seeds' two practice exercises, solved: fetch three APIs
//! concurrently, and give a slow operation a 2 s timeout. The APIs are
//! simulated (a one-second `sleep`, as in the seed), so nothing leaves the
//! machine. `guide/tests/exercises.rs` runs these same functions.
//!
//! ```text
//! cargo run --release --example lesson_exercises
//! ```

use std::time::{Duration, Instant};

use brisk_guide::{say, secs, start_clock};
use serde_json::{Value, json};

/// A simulated API call: one second of waiting.
pub async fn fetch_api(api_num: u32) -> Value {
    tokio::time::sleep(Duration::from_secs(1)).await;
    json!({"api": api_num, "data": format!("Response from API {api_num}")})
}

/// Exercise 1: the three calls at once, results in call order (~1 s, not 3).
pub async fn fetch_all_apis() -> Vec<Value> {
    let (a, b, c) = tokio::join!(fetch_api(1), fetch_api(2), fetch_api(3));
    vec![a, b, c]
}

/// Exercise 1, another way: spawned tasks (they run even before awaited).
pub async fn fetch_all_apis_spawned() -> Vec<Value> {
    let handles: Vec<_> = (1..=3).map(|n| tokio::spawn(fetch_api(n))).collect();
    let mut results = Vec::new();
    for handle in handles {
        results.push(handle.await.expect("fetch task panicked"));
    }
    results
}

pub async fn very_slow_operation() -> &'static str {
    tokio::time::sleep(Duration::from_secs(10)).await;
    "Finally done!"
}

/// Exercise 2: wait at most 2 s; `Err` says it timed out.
pub async fn fetch_with_timeout() -> Result<&'static str, String> {
    tokio::time::timeout(Duration::from_secs(2), very_slow_operation())
        .await
        .map_err(|_| "timed out after 2 s".to_owned())
}

#[tokio::main]
async fn main() {
    start_clock();

    let start = Instant::now();
    let results = fetch_all_apis().await;
    say!(
        "exercise 1 (join!): {} results after {}",
        results.len(),
        secs(start.elapsed())
    );
    for r in &results {
        println!("         {r}");
    }

    let start = Instant::now();
    let results = fetch_all_apis_spawned().await;
    say!(
        "exercise 1 (spawn): {} results after {}",
        results.len(),
        secs(start.elapsed())
    );

    let start = Instant::now();
    let outcome = fetch_with_timeout().await;
    say!("exercise 2: {outcome:?} after {}", secs(start.elapsed()));
}
