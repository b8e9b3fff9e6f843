//! The seeds' two practice exercises, with the solutions shown in chapter
//! 15: `examples/lesson_exercises.rs` is compiled into this test as a
//! module, so the test runs exactly the code the book shows.

#[allow(dead_code)]
#[path = "../examples/lesson_exercises.rs"]
mod exercises;

use std::time::Instant;

fn secs_since(start: Instant) -> f64 {
    start.elapsed().as_secs_f64()
}

#[tokio::test]
async fn exercise_1_three_apis_at_once_take_one_second() {
    let start = Instant::now();
    let results = exercises::fetch_all_apis().await;
    let took = secs_since(start);
    assert!(
        (0.9..1.8).contains(&took),
        "concurrent: about 1 s, not 3; took {took:.3} s"
    );
    let apis: Vec<u64> = results.iter().map(|r| r["api"].as_u64().unwrap()).collect();
    assert_eq!(apis, [1, 2, 3], "results in call order");
    assert_eq!(results[1]["data"], "Response from API 2");
}

#[tokio::test]
async fn exercise_1_with_spawned_tasks() {
    let start = Instant::now();
    let results = exercises::fetch_all_apis_spawned().await;
    let took = secs_since(start);
    assert!((0.9..1.8).contains(&took), "took {took:.3} s");
    assert_eq!(results.len(), 3);
}

#[tokio::test]
async fn exercise_2_a_two_second_timeout_cuts_a_ten_second_operation() {
    let start = Instant::now();
    let outcome = exercises::fetch_with_timeout().await;
    let took = secs_since(start);
    assert_eq!(outcome, Err("timed out after 2 s".to_owned()));
    assert!((1.9..3.0).contains(&took), "took {took:.3} s");
}
