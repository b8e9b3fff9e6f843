//! Where handlers run: `async fn` on the event loop, plain `fn` on the
//! bounded thread pool, `run_in_threadpool` from async code.

use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use brisk::prelude::*;
use brisk::{ServerConfig, TestClient};

#[get("/sync-sleep")]
fn sync_sleep() -> Json<Value> {
    thread::sleep(Duration::from_millis(300));
    Json(json!({"slept": true}))
}

#[get("/async-sleep")]
async fn async_sleep() -> Json<Value> {
    tokio::time::sleep(Duration::from_millis(300)).await;
    Json(json!({"slept": true}))
}

#[get("/offload")]
async fn offload() -> Json<Value> {
    let thread = run_in_threadpool(|| {
        thread::sleep(Duration::from_millis(300));
        format!("{:?}", thread::current().id())
    })
    .await;
    Json(json!({"ran_on": thread}))
}

#[get("/")]
async fn root() -> Json<Value> {
    Json(json!({"message": "Hello World"}))
}

/// Sends `n` requests at once from `n` threads; returns the wall time and statuses.
fn concurrently(client: &Arc<TestClient>, path: &'static str, n: usize) -> (Duration, Vec<u16>) {
    let started = Instant::now();
    let handles: Vec<_> = (0..n)
        .map(|_| {
            let client = Arc::clone(client);
            thread::spawn(move || client.get(path).send().status().as_u16())
        })
        .collect();
    let statuses = handles.into_iter().map(|h| h.join().unwrap()).collect();
    (started.elapsed(), statuses)
}

fn client(config: ServerConfig) -> Arc<TestClient> {
    Arc::new(TestClient::with_config(
        App::new().routes(routes![sync_sleep, async_sleep, offload, root]),
        config,
    ))
}

#[test]
fn five_concurrent_sync_sleeps_run_in_parallel_on_the_pool() {
    let client = client(ServerConfig::for_tests());
    let (elapsed, statuses) = concurrently(&client, "/sync-sleep", 5);
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    assert!(
        elapsed < Duration::from_secs(1),
        "5 × 300 ms plain fn took {elapsed:?}"
    );
}

#[test]
fn five_concurrent_async_sleeps_run_concurrently_on_the_event_loop() {
    let mut config = ServerConfig::for_tests();
    config.event_loop_threads = Some(1);
    let client = client(config);
    let (elapsed, statuses) = concurrently(&client, "/async-sleep", 5);
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    assert!(
        elapsed < Duration::from_secs(1),
        "5 × 300 ms async sleep took {elapsed:?}"
    );
}

#[test]
fn run_in_threadpool_offloads_from_async_code() {
    let mut config = ServerConfig::for_tests();
    config.event_loop_threads = Some(1);
    let client = client(config);
    let (elapsed, statuses) = concurrently(&client, "/offload", 5);
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    assert!(
        elapsed < Duration::from_secs(1),
        "5 × 300 ms offloaded sleeps took {elapsed:?}"
    );
}

#[test]
fn a_blocking_plain_fn_does_not_block_the_event_loop() {
    // One event-loop thread only: if plain fn handlers ran on it, GET / would
    // wait behind the sleeps.
    let mut config = ServerConfig::for_tests();
    config.event_loop_threads = Some(1);
    let client = client(config);
    let sleepers: Vec<_> = (0..3)
        .map(|_| {
            let c = Arc::clone(&client);
            thread::spawn(move || c.get("/sync-sleep").send().status())
        })
        .collect();
    thread::sleep(Duration::from_millis(50));
    let started = Instant::now();
    let resp = client.get("/").send();
    let elapsed = started.elapsed();
    assert_eq!(resp.status(), 200);
    assert!(
        elapsed < Duration::from_millis(150),
        "GET / waited {elapsed:?} behind plain fn handlers"
    );
    for s in sleepers {
        assert_eq!(s.join().unwrap(), 200);
    }
}

#[test]
fn the_pool_is_bounded_and_the_41st_caller_waits() {
    let client = client(ServerConfig::for_tests());
    assert_eq!(client.threadpool().size(), 40);
    let started = Instant::now();
    let handles: Vec<_> = (0..41)
        .map(|_| {
            let c = Arc::clone(&client);
            thread::spawn(move || {
                let r = c.get("/sync-sleep").send();
                (r.status().as_u16(), started.elapsed())
            })
        })
        .collect();
    // While the first 40 sleep, exactly one caller waits for a thread.
    thread::sleep(Duration::from_millis(150));
    assert_eq!(client.threadpool().in_use(), 40);
    assert_eq!(client.threadpool().waiting(), 1);
    let mut times: Vec<Duration> = handles
        .into_iter()
        .map(|h| {
            let (status, t) = h.join().unwrap();
            assert_eq!(status, 200);
            t
        })
        .collect();
    times.sort();
    // 40 finish after one sleep, the 41st only after a second one.
    assert!(
        times[39] < Duration::from_millis(550),
        "first 40 took {:?}",
        times[39]
    );
    assert!(
        times[40] >= Duration::from_millis(600),
        "the 41st did not wait: {:?}",
        times[40]
    );
    assert_eq!(client.threadpool().in_use(), 0);
}

#[test]
fn pool_size_is_configurable_and_waiters_are_served_in_order() {
    let mut config = ServerConfig::for_tests();
    config.threadpool_size = Some(1);
    let client = client(config);
    assert_eq!(client.threadpool().size(), 1);
    let (elapsed, statuses) = concurrently(&client, "/sync-sleep", 3);
    assert!(statuses.iter().all(|s| *s == 200));
    // One thread: three 300 ms sleeps run one after another.
    assert!(elapsed >= Duration::from_millis(880), "{elapsed:?}");
    assert!(elapsed < Duration::from_millis(2000), "{elapsed:?}");
}

#[test]
fn the_app_builder_sets_the_pool_size_and_the_flag_wins() {
    let app = || App::new().threadpool_size(3).routes(routes![root]);
    assert_eq!(TestClient::new(app()).threadpool().size(), 3);
    let mut config = ServerConfig::for_tests();
    config.threadpool_size = Some(5);
    assert_eq!(
        TestClient::with_config(app(), config).threadpool().size(),
        5
    );
}

/// Blocks its event-loop thread (the seed's mistake) for 300 ms.
#[post("/block")]
async fn block_300ms() -> Json<Value> {
    std::thread::sleep(Duration::from_millis(300));
    Json(json!({"done": true}))
}

#[test]
fn with_the_watchdog_off_each_blocking_answer_leaves_when_its_handler_returns() {
    // One event-loop thread, blocking handlers, no containment: serial, as
    // uvicorn with one worker is. Each answer must still go out as soon as
    // its handler returns (1st at ~0.3 s), not after the last one (0.9 s).
    let mut config = ServerConfig::for_tests();
    config.event_loop_threads = Some(1);
    config.blocking_policy = Some(brisk::exec::BlockingPolicy::Off);
    let server =
        brisk::serve::BackgroundServer::start(App::new().routes(routes![block_300ms]), config);
    let addr = server.addr();
    let started = Instant::now();
    let clients: Vec<_> = (0..3)
        .map(|_| {
            thread::spawn(move || {
                use std::io::{Read, Write};
                let mut s = std::net::TcpStream::connect(addr).unwrap();
                s.write_all(b"POST /block HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                    .unwrap();
                let mut out = Vec::new();
                s.read_to_end(&mut out).unwrap();
                assert!(out.starts_with(b"HTTP/1.1 200"));
                started.elapsed()
            })
        })
        .collect();
    let mut done: Vec<Duration> = clients.into_iter().map(|c| c.join().unwrap()).collect();
    done.sort();
    assert!(
        done[0] < Duration::from_millis(550),
        "the first answer waited for the others: {done:?}"
    );
    assert!(
        done[2] >= Duration::from_millis(850),
        "not serial? {done:?}"
    );
}
