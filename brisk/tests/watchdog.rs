//! The blocking watchdog, against a real server on 127.0.0.1.

mod common;

use std::thread;
use std::time::{Duration, Instant};

use brisk::exec::{BlockingPolicy, MetricsSnapshot};
use brisk::params::Metrics;
use brisk::prelude::*;
use brisk::serve::BackgroundServer;
use brisk::{ServerConfig, TestClient};
use common::request;

/// The pitfall: a blocking sleep inside an `async fn`.
#[post("/block")]
async fn block() -> Json<Value> {
    std::thread::sleep(Duration::from_millis(500));
    Json(json!({"done": true}))
}

/// Blocks, and reports how many pool threads are busy while it runs.
#[post("/block-and-look")]
async fn block_and_look() -> Json<Value> {
    let in_use = brisk::exec::threadpool::current().in_use();
    std::thread::sleep(Duration::from_millis(300));
    Json(json!({"pool_in_use": in_use}))
}

#[get("/")]
async fn root() -> Json<Value> {
    Json(json!({"message": "Hello World"}))
}

#[get("/metrics")]
async fn metrics(m: Metrics) -> Json<MetricsSnapshot> {
    Json(m.0)
}

#[get("/fine")]
async fn fine() -> Json<Value> {
    tokio::time::sleep(Duration::from_millis(100)).await;
    Json(json!({"fine": true}))
}

fn server(policy: BlockingPolicy) -> BackgroundServer {
    let mut config = ServerConfig::for_tests();
    config.event_loop_threads = Some(2);
    config.blocking_policy = Some(policy);
    BackgroundServer::start(
        App::new().routes(routes![block, block_and_look, root, metrics, fine]),
        config,
    )
}

fn route<'a>(m: &'a MetricsSnapshot, path: &str) -> &'a brisk::exec::RouteReport {
    m.routes
        .iter()
        .find(|r| r.path == path)
        .expect("route in metrics")
}

/// Sends `n` concurrent POSTs to `path`; returns their threads.
fn fire(addr: std::net::SocketAddr, path: &'static str, n: usize) -> Vec<thread::JoinHandle<u16>> {
    (0..n)
        .map(|_| thread::spawn(move || request(addr, "POST", path, None).status))
        .collect()
}

#[test]
fn a_blocking_async_handler_is_reported_with_its_route_and_contained() {
    let server = server(BlockingPolicy::Contain);
    let resp = request(server.addr(), "POST", "/block", None);
    assert_eq!(resp.status, 200);
    let m = server.metrics();
    let r = route(&m, "/block");
    assert_eq!(r.method, "POST");
    assert_eq!(r.slow_polls, 1, "{m:?}");
    assert!(
        r.longest_poll_ms >= 20.0 && r.longest_poll_ms <= 600.0,
        "{m:?}"
    );
    assert!(r.contained);
    assert_eq!(m.contained_routes, 1);
    assert_eq!(
        route(&m, "/").slow_polls,
        0,
        "well-behaved routes are not blamed"
    );
    // The same numbers are available to handlers.
    let via_http = request(server.addr(), "GET", "/metrics", None).json();
    assert_eq!(via_http["contained_routes"], 1);
}

#[test]
fn once_contained_the_route_runs_on_the_thread_pool() {
    let server = server(BlockingPolicy::Contain);
    // First request: detected while it blocks an event-loop worker.
    let resp = request(server.addr(), "POST", "/block-and-look", None);
    assert_eq!(
        resp.json()["pool_in_use"],
        0,
        "the first request ran on the event loop"
    );
    assert!(route(&server.metrics(), "/block-and-look").contained);
    // Later requests: the handler itself sees a pool thread in use (its own).
    let resp = request(server.addr(), "POST", "/block-and-look", None);
    assert_eq!(resp.json()["pool_in_use"], 1);
    // And they no longer count as slow polls: they block nobody.
    assert_eq!(route(&server.metrics(), "/block-and-look").slow_polls, 1);
}

#[test]
fn other_routes_answer_while_five_blocking_requests_run() {
    let server = server(BlockingPolicy::Contain);
    let started = Instant::now();
    let blockers = fire(server.addr(), "/block", 5);
    thread::sleep(Duration::from_millis(100));
    let t = Instant::now();
    let resp = request(server.addr(), "GET", "/", None);
    let latency = t.elapsed();
    assert_eq!(resp.status, 200);
    assert!(
        latency < Duration::from_millis(100),
        "GET / took {latency:?} while handlers blocked"
    );
    for b in blockers {
        assert_eq!(b.join().unwrap(), 200);
    }
    // Five 500 ms blocks on two event-loop threads would take 1.5 s in turn;
    // contained, they overlap.
    let total = started.elapsed();
    assert!(
        total < Duration::from_millis(1200),
        "five blocking requests took {total:?}"
    );
}

#[test]
fn warn_policy_reports_but_does_not_contain() {
    let server = server(BlockingPolicy::Warn);
    assert_eq!(request(server.addr(), "POST", "/block", None).status, 200);
    let m = server.metrics();
    assert_eq!(route(&m, "/block").slow_polls, 1);
    assert!(!route(&m, "/block").contained);
    assert_eq!(m.contained_routes, 0);
}

#[test]
fn off_policy_really_is_off() {
    let mut config = ServerConfig::for_tests();
    config.event_loop_threads = Some(1);
    config.blocking_policy = Some(BlockingPolicy::Off);
    let server = BackgroundServer::start(App::new().routes(routes![block, root]), config);
    let started = Instant::now();
    let blockers = fire(server.addr(), "/block", 2);
    for b in blockers {
        assert_eq!(b.join().unwrap(), 200);
    }
    // Nothing is watched, nothing moves: one event-loop thread runs the two
    // blocking handlers one after the other.
    assert!(
        started.elapsed() >= Duration::from_millis(950),
        "{:?}",
        started.elapsed()
    );
    let m = server.metrics();
    assert_eq!(route(&m, "/block").slow_polls, 0);
    assert_eq!(m.contained_routes, 0);
}

#[test]
fn async_handlers_that_await_are_never_blamed() {
    let server = server(BlockingPolicy::Contain);
    let handles: Vec<_> = (0..20)
        .map(|_| {
            let addr = server.addr();
            thread::spawn(move || request(addr, "GET", "/fine", None).status)
        })
        .collect();
    for h in handles {
        assert_eq!(h.join().unwrap(), 200);
    }
    let m = server.metrics();
    assert_eq!(route(&m, "/fine").slow_polls, 0);
    assert_eq!(m.contained_routes, 0);
}

#[test]
fn event_loop_lag_is_measured() {
    let mut config = ServerConfig::for_tests();
    config.event_loop_threads = Some(1);
    config.blocking_policy = Some(BlockingPolicy::Warn);
    let client = TestClient::with_config(App::new().routes(routes![block, root]), config);
    client.post("/block").send();
    thread::sleep(Duration::from_millis(120));
    let m = client.metrics();
    assert!(
        m.event_loop_lag_max_ms >= 100.0,
        "a 500 ms block makes the heartbeat late: {m:?}"
    );
}

#[test]
fn the_threshold_is_configurable() {
    let mut config = ServerConfig::for_tests();
    config.blocking_threshold_ms = Some(1000);
    let client = TestClient::with_config(App::new().routes(routes![block]), config);
    client.post("/block").send();
    assert_eq!(
        client.metrics().routes[0].slow_polls,
        0,
        "500 ms is under a 1 s threshold"
    );
    assert_eq!(client.metrics().threshold_ms, 1000.0);
}

/// A WebSocket session that blocks its event loop on a `block` message,
/// and echoes every message.
#[websocket("/ws-block")]
async fn ws_block(mut ws: WebSocket) -> Result<(), WebSocketError> {
    ws.accept().await?;
    loop {
        let text = ws.receive_text().await?;
        if text == "block" {
            std::thread::sleep(Duration::from_millis(200));
        }
        ws.send_text(text).await?;
    }
}

#[test]
fn a_blocking_websocket_session_is_reported_but_stays_on_the_event_loop() {
    use tokio_tungstenite::tungstenite::{self, Message};
    let mut config = ServerConfig::for_tests();
    config.event_loop_threads = Some(2);
    config.threadpool_size = Some(2);
    config.blocking_policy = Some(BlockingPolicy::Contain);
    let server = BackgroundServer::start(App::new().routes(routes![ws_block, metrics]), config);
    let addr = server.addr();
    let connect = || {
        let stream = std::net::TcpStream::connect(addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        tungstenite::client(format!("ws://{addr}/ws-block"), stream)
            .expect("the session opens")
            .0
    };
    let mut first = connect();
    first.send(Message::text("block")).unwrap();
    assert_eq!(first.read().unwrap().to_text().unwrap(), "block");
    let m = server.metrics();
    let r = route(&m, "/ws-block");
    assert_eq!(r.method, "WEBSOCKET");
    assert_eq!(r.slow_polls, 1, "{m:?}");
    assert!(!r.contained, "{m:?}");
    // More sessions at once than the pool has threads: had the route been
    // moved to the pool, the third would wait for one of them to end.
    let mut sessions: Vec<_> = (0..5).map(|_| connect()).collect();
    for (i, session) in sessions.iter_mut().enumerate() {
        session.send(Message::text(format!("hi {i}"))).unwrap();
    }
    for (i, session) in sessions.iter_mut().enumerate() {
        assert_eq!(
            session.read().unwrap().to_text().unwrap(),
            format!("hi {i}")
        );
    }
    first.send(Message::text("still here")).unwrap();
    assert_eq!(first.read().unwrap().to_text().unwrap(), "still here");
}
