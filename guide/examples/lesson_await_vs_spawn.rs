//! Lesson 9 — `.await` in sequence vs `tokio::spawn` / `tokio::join!` /
//! `futures::future::join_all`: the seeds' 2 s vs 1 s (`await` vs
//! `asyncio.create_task`, and `asyncio.gather`).
//!
//! ```text
//! cargo run --release --example lesson_await_vs_spawn
//! ```

use std::time::{Duration, Instant};

use brisk_guide::{say, secs, start_clock};

async fn task(n: u32) -> String {
    say!("Task {n} starting...");
    tokio::time::sleep(Duration::from_secs(1)).await; // I/O: a query, a request
    say!("Task {n} done");
    format!("Task {n} result")
}

async fn fetch_user(id: u32) -> String {
    say!("Fetching user {id}...");
    tokio::time::sleep(Duration::from_secs(1)).await;
    format!("User {id} data")
}

#[tokio::main]
async fn main() {
    start_clock();

    // 1. `.await` one after the other: the second starts when the first ends.
    let start = Instant::now();
    let r1 = task(1).await;
    let r2 = task(2).await;
    say!(
        "sequential .await: [{r1}, {r2}] took {}",
        secs(start.elapsed())
    );

    // 2. `tokio::spawn` (asyncio.create_task): both run from now on; awaiting
    //    the handles only collects the results.
    let start = Instant::now();
    let t1 = tokio::spawn(task(1));
    let t2 = tokio::spawn(task(2));
    let (r1, r2) = (t1.await.unwrap(), t2.await.unwrap());
    say!("tokio::spawn: [{r1}, {r2}] took {}", secs(start.elapsed()));

    // 3. `tokio::join!` (asyncio.gather for a fixed set): polls both in
    //    this task, no spawning needed.
    let start = Instant::now();
    let (r1, r2) = tokio::join!(task(1), task(2));
    say!("tokio::join!: [{r1}, {r2}] took {}", secs(start.elapsed()));

    // 4. `join_all` (asyncio.gather for a list): results in input order.
    let start = Instant::now();
    let users = futures::future::join_all((1..=3).map(fetch_user)).await;
    say!("join_all: {users:?} took {}", secs(start.elapsed()));
}
