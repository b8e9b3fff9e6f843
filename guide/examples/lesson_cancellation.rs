//! Lesson 14 — task groups and cancellation: `JoinHandle::abort` (asyncio's
//! `task.cancel()`) and `tokio::task::JoinSet` (asyncio's `TaskGroup`).
//! Cancelling a tokio task drops its future at the `.await` it was paused
//! at; a drop guard is how the task observes it (Python gets a
//! `CancelledError` there; Rust runs destructors).
//!
//! ```text
//! cargo run --release --example lesson_cancellation
//! ```

use std::time::{Duration, Instant};

use brisk_guide::{say, secs, start_clock};
use tokio::task::JoinSet;
use tokio::time::sleep;

/// Runs its closing words when dropped unfinished: the task's `finally:`.
struct OnCancel {
    name: String,
    finished: bool,
}

impl OnCancel {
    fn new(name: impl Into<String>) -> Self {
        OnCancel {
            name: name.into(),
            finished: false,
        }
    }
}

impl Drop for OnCancel {
    fn drop(&mut self) {
        if !self.finished {
            say!("{}: cancelled, cleaning up", self.name);
        }
    }
}

async fn cancellable_task() {
    let mut guard = OnCancel::new("cancellable_task");
    say!("cancellable_task: starting (10 s)...");
    sleep(Duration::from_secs(10)).await;
    guard.finished = true;
    say!("cancellable_task: completed");
}

async fn worker(name: &'static str, delay: Duration, fail: bool) -> Result<String, String> {
    let mut guard = OnCancel::new(name);
    say!("{name}: starting");
    sleep(delay).await;
    guard.finished = true;
    if fail {
        say!("{name}: failed");
        return Err(format!("{name} failed"));
    }
    say!("{name}: done");
    Ok(format!("{name} result"))
}

#[tokio::main]
async fn main() {
    start_clock();

    println!("== 1. abort(): cancel a task after 1 s");
    let task = tokio::spawn(cancellable_task());
    sleep(Duration::from_secs(1)).await;
    task.abort();
    match task.await {
        Err(e) if e.is_cancelled() => say!("main: the task reports it was cancelled"),
        other => say!("main: unexpected {other:?}"),
    }

    println!("== 2. JoinSet: a group of tasks, all awaited");
    let start = Instant::now();
    let mut group = JoinSet::new();
    group.spawn(worker("Worker 1", Duration::from_millis(1000), false));
    group.spawn(worker("Worker 2", Duration::from_millis(500), false));
    group.spawn(worker("Worker 3", Duration::from_millis(1500), false));
    let results = group.join_all().await; // in the order they finished
    say!("all done after {}: {results:?}", secs(start.elapsed()));

    println!("== 3. JoinSet: one task fails, the rest are cancelled (TaskGroup)");
    let start = Instant::now();
    let mut group = JoinSet::new();
    group.spawn(worker("Worker A", Duration::from_millis(1000), false));
    group.spawn(worker("Worker B", Duration::from_millis(500), true));
    group.spawn(worker("Worker C", Duration::from_millis(1500), false));
    while let Some(joined) = group.join_next().await {
        match joined {
            Ok(Ok(_result)) => {}
            Ok(Err(error)) => {
                say!("main: {error}; cancelling the others");
                group.abort_all(); // dropping the JoinSet would do the same
            }
            Err(e) if e.is_cancelled() => say!("main: a task reports it was cancelled"),
            Err(e) => panic!("a worker panicked: {e}"),
        }
    }
    say!("group finished after {}", secs(start.elapsed()));
}
