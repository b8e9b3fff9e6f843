//! The lessons that are plain programs (chapters 8–11, 13, 14), run as the
//! reader runs them, with their printed figures checked against generous
//! bounds. They mostly sleep, so they may run side by side; the one that
//! measures CPU work takes its turn alone.

mod common;

use std::time::Duration;

use common::{assert_between, one_at_a_time, run_example, secs_after};

#[test]
fn ch08_toy_event_loop() {
    let out = run_example("lesson_toy_event_loop", Duration::from_secs(30));
    // Calling did not run the body; awaiting did.
    let called = out.find("nothing printed from inside yet").expect(&out);
    let inside = out.find("inside my_async_func").expect(&out);
    assert!(called < inside, "{out}");
    assert!(out.contains("awaited it: result"), "{out}");
    // All three handlers start before any I/O completes: they take turns.
    let lines: Vec<&str> = out.lines().collect();
    let first_io = lines
        .iter()
        .position(|l| l.starts_with("I/O finished"))
        .expect(&out);
    let starts: Vec<usize> = (1..=3)
        .map(|n| {
            lines
                .iter()
                .position(|l| *l == format!("Handler {n} start"))
                .expect(&out)
        })
        .collect();
    assert!(starts.iter().all(|&s| s < first_io), "{out}");
    assert_eq!(out.matches("I/O finished for DB_REQUEST").count(), 3);
    for n in 1..=3 {
        let got = format!("Handler {n} got result: result of DB_REQUEST");
        assert!(lines.iter().position(|l| *l == got).expect(&out) > first_io);
    }
}

#[test]
fn ch09_await_vs_spawn_vs_join() {
    let out = run_example("lesson_await_vs_spawn", Duration::from_secs(30));
    assert_between("sequential .await", secs_after(&out, "] took"), 1.8, 3.0);
    assert_between(
        "tokio::spawn",
        secs_after(&out, "tokio::spawn: [Task 1 result, Task 2 result] took"),
        0.9,
        1.8,
    );
    assert_between(
        "tokio::join!",
        secs_after(&out, "tokio::join!: [Task 1 result, Task 2 result] took"),
        0.9,
        1.8,
    );
    assert_between(
        "join_all",
        secs_after(&out, "\"User 3 data\"] took"),
        0.9,
        1.8,
    );
}

#[test]
fn ch10_timeout_cuts_a_slow_operation() {
    let out = run_example("lesson_timeout", Duration::from_secs(30));
    assert!(out.contains("Operation timed out! (as expected)"), "{out}");
    assert!(
        out.contains("slow_operation: dropped before it finished (cancelled)"),
        "{out}"
    );
    assert_between(
        "2 s timeout on a 5 s operation",
        secs_after(&out, "gave up after"),
        1.9,
        3.0,
    );
    assert!(out.contains("Done quickly!"), "{out}");
    assert_between(
        "0.5 s operation within a 2 s timeout",
        secs_after(&out, "answered after"),
        0.45,
        1.5,
    );
}

#[test]
fn ch11_cpu_work_without_an_await_point() {
    let _turn = one_at_a_time();
    let out = run_example("lesson_cpu_without_await", Duration::from_secs(60));
    let gap = |label: &str| {
        let line = out.lines().find(|l| l.contains(label)).expect(&out);
        secs_after(line, "longest heartbeat gap") / 1000.0
    };
    assert_between(
        "no await point: the loop is held",
        gap("without an await point"),
        0.8,
        5.0,
    );
    assert_between(
        "run_in_threadpool",
        gap("brisk::run_in_threadpool"),
        0.0,
        0.5,
    );
    assert_between("spawn_blocking", gap("spawn_blocking"), 0.0, 0.5);
    assert_between("yield_now", gap("yield_now"), 0.0, 0.5);
}

#[test]
fn ch13_block_on_inside_the_runtime_panics() {
    let out = run_example("lesson_block_on_in_runtime", Duration::from_secs(30));
    assert!(
        out.contains("block_on inside the runtime panicked"),
        "{out}"
    );
    assert!(
        out.contains("Cannot start a runtime from within a runtime"),
        "{out}"
    );
    assert!(out.contains("✅ .await: helper() = 42"), "{out}");
    assert!(
        out.contains("✅ block_on inside spawn_blocking: helper() = 42"),
        "{out}"
    );
}

#[test]
fn ch14_cancellation_and_joinset() {
    let out = run_example("lesson_cancellation", Duration::from_secs(30));
    // abort(): the task observes its cancellation, the handle reports it.
    assert!(
        out.contains("cancellable_task: cancelled, cleaning up"),
        "{out}"
    );
    assert!(
        out.contains("main: the task reports it was cancelled"),
        "{out}"
    );
    assert!(!out.contains("cancellable_task: completed"), "{out}");
    // JoinSet: three tasks of 1, 0.5 and 1.5 s take 1.5 s, not 3.
    assert_between(
        "JoinSet of 1 + 0.5 + 1.5 s",
        secs_after(&out, "all done after"),
        1.4,
        2.3,
    );
    // One fails at 0.5 s: the other two observe their cancellation.
    assert!(out.contains("Worker A: cancelled, cleaning up"), "{out}");
    assert!(out.contains("Worker C: cancelled, cleaning up"), "{out}");
    assert!(
        !out.contains("Worker A: done") && !out.contains("Worker C: done"),
        "{out}"
    );
    assert_between(
        "group with a failure",
        secs_after(&out, "group finished after"),
        0.45,
        1.3,
    );
}

#[test]
fn ch12_forgot_await_fixed_runs() {
    let out = run_example("lesson_forgot_await", Duration::from_secs(30));
    assert!(out.contains("saved order 7"), "{out}");
    assert!(out.contains("got data.key = \"value\""), "{out}");
}
