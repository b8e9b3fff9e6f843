//! The reliability suite: no request, connection pattern or stalled log
//! pipe can crash or stall a brisk server. `cargo test --test hardening`.
//!
//! Each test replays an attack or an unlucky operator's situation against a
//! real server on 127.0.0.1 (in-process, or an example binary as a child
//! process when signals, stderr or resource limits are involved), and
//! checks both the answer and that the server keeps serving. Every wait is
//! bounded. The worker-process scenarios (rolling restarts under load, the
//! supervisor killed) are in `workers.rs`.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::process::CommandExt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use brisk::ServerConfig;
use brisk::prelude::*;
use brisk::serve::BackgroundServer;
use common::{
    h2_request, parse_response, raw_exchange, read_until_closed, request, rss_kib, start_example,
    start_example_with, try_read_response,
};

/// Tests that load the machine (CPU hogs, floods) run one at a time.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

#[derive(Serialize, Deserialize, JsonSchema)]
struct Item {
    name: String,
    price: f64,
}

#[get("/")]
async fn root() -> Json<Value> {
    Json(json!({"message": "Hello World"}))
}

#[post("/items")]
async fn create_item(item: Json<Item>) -> Json<Item> {
    item
}

#[post("/items-sync")]
fn create_item_sync(item: Json<Item>) -> Json<Item> {
    item
}

/// Reads the whole body and says how long it was.
#[post("/upload")]
async fn upload(req: Request) -> Json<Value> {
    Json(json!({"received": req.body().len()}))
}

/// A 16 MiB answer.
#[get("/big")]
async fn big() -> String {
    "x".repeat(16 << 20)
}

/// Blocks its event-loop thread: the seed's mistake.
#[post("/delay")]
async fn delay() -> Json<Value> {
    std::thread::sleep(Duration::from_millis(300));
    Json(json!({"message": "done"}))
}

fn app() -> App {
    App::new().routes(routes![
        root,
        create_item,
        create_item_sync,
        upload,
        big,
        delay
    ])
}

fn start(configure: impl FnOnce(&mut ServerConfig)) -> BackgroundServer {
    let mut config = ServerConfig::for_tests();
    configure(&mut config);
    BackgroundServer::start(app(), config)
}

fn still_serving(addr: SocketAddr) {
    let resp = request(addr, "GET", "/", None);
    assert_eq!(resp.status, 200, "the server stopped serving");
    assert_eq!(resp.json()["message"], "Hello World");
}

// 1. One request must not kill the process.

#[test]
fn deeply_nested_json_is_refused_like_fastapi_and_the_server_lives() {
    let server = start(|_| {});
    let addr = server.addr();
    let body = "[".repeat(100_000);
    for path in ["/items", "/items-sync"] {
        let resp = request(addr, "POST", path, Some(&body));
        assert_eq!(resp.status, 400, "{path}: {}", resp.text());
        // Real FastAPI's answer (recorded in fixtures/fastapi_validation.json).
        assert_eq!(
            resp.json(),
            json!({"detail": "There was an error parsing the body"})
        );
    }
    let objects = r#"{"a": "#.repeat(50_000);
    assert_eq!(request(addr, "POST", "/items", Some(&objects)).status, 400);
    // The same over HTTP/2.
    let (status, _, answer) = h2_request(
        addr,
        "POST",
        "/items",
        &[("content-type", "application/json")],
        body.into_bytes(),
    )
    .expect("h2 request");
    assert_eq!(status, 400);
    assert_eq!(
        serde_json::from_slice::<Value>(&answer).unwrap()["detail"],
        "There was an error parsing the body"
    );
    // Nesting within the limit still gets FastAPI's validation errors.
    let shallow = format!("{}{}", "[".repeat(100), "]".repeat(100));
    let resp = request(addr, "POST", "/items", Some(&shallow));
    assert_eq!(resp.status, 422);
    assert_eq!(resp.json()["detail"][0]["type"], "model_attributes_type");
    still_serving(addr);
}

// 2. A stalled log pipe must not stop the server.

#[test]
fn a_stderr_nobody_reads_never_stops_the_server() {
    let _serial = serial();
    // stderr is a pipe; after the start-up lines, nobody reads it.
    let mut child = std::process::Command::new(common::example_path("hello"))
        .args(["--port", "0"])
        .env_remove("RUST_LOG")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn hello");
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let addr: SocketAddr = loop {
        let mut line = String::new();
        assert!(stderr.read_line(&mut line).unwrap() > 0, "hello exited");
        if let Some(rest) = line.split("serving on http://").nth(1) {
            break rest.split_whitespace().next().unwrap().parse().unwrap();
        }
    };
    // 15,000 access-log lines (~2 MB) into a 64 KiB pipe, on one keep-alive
    // connection: before the fix every request hung after about 580; now
    // the lines past the writer's queue (10,000) are dropped.
    let started = Instant::now();
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    for i in 0..15_000 {
        stream
            .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        let resp = common::read_response(&mut reader);
        assert_eq!(resp.status, 200, "request {i}");
    }
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(60),
        "15,000 requests took {took:?}"
    );
    // Once somebody reads the pipe again, the drops are reported.
    let log = Arc::new(std::sync::Mutex::new(String::new()));
    let sink = Arc::clone(&log);
    thread::spawn(move || {
        for line in stderr.lines().map_while(Result::ok) {
            sink.lock().unwrap().push_str(&line);
        }
    });
    let deadline = Instant::now() + Duration::from_secs(10);
    while !log.lock().unwrap().contains("log lines were dropped") && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(100));
    }
    assert!(
        log.lock().unwrap().contains("log lines were dropped"),
        "no report of the dropped lines"
    );
    still_serving(addr);
    let _ = child.kill();
    let _ = child.wait();
}

// 3. Silent and half-sent connections are closed at their deadline.

#[test]
fn silent_and_half_head_connections_are_closed_at_the_keep_alive_deadline() {
    let _serial = serial();
    let server = start(|c| c.timeout_keep_alive = 1.0);
    let addr = server.addr();
    let started = Instant::now();
    let mut conns: Vec<TcpStream> = (0..300)
        .map(|_| TcpStream::connect(addr).unwrap())
        .collect();
    for _ in 0..50 {
        let mut half = TcpStream::connect(addr).unwrap();
        half.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            .unwrap();
        conns.push(half);
    }
    // Meanwhile the server answers everyone else.
    still_serving(addr);
    // The kernel holds a silent connection up to a few seconds before brisk
    // sees it (TCP_DEFER_ACCEPT); then it gets --timeout-keep-alive.
    let limit = Duration::from_secs(8);
    for (i, conn) in conns.iter_mut().enumerate() {
        let left = limit.saturating_sub(started.elapsed()) + Duration::from_millis(10);
        let (_, closed) = read_until_closed(conn, left);
        assert!(
            closed,
            "connection {i} still open after {:?}",
            started.elapsed()
        );
    }
    still_serving(addr);
}

/// A client that reads slowly: at most 64 KiB per read, `pace` before
/// each, and once, after `pause.0` bytes, a pause of `pause.1`.
struct SlowReader<'a> {
    stream: &'a mut TcpStream,
    pace: Duration,
    read: usize,
    pause: Option<(usize, Duration)>,
}

impl Read for SlowReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        thread::sleep(self.pace);
        if let Some((after, pause_for)) = self.pause
            && self.read >= after
        {
            thread::sleep(pause_for);
            self.pause = None;
        }
        let n = buf.len().min(64 << 10);
        let n = self.stream.read(&mut buf[..n])?;
        self.read += n;
        Ok(n)
    }
}

#[test]
fn the_keep_alive_deadline_counts_from_the_last_answer() {
    let server = start(|c| c.timeout_keep_alive = 1.0);
    let mut stream = TcpStream::connect(server.addr()).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    // Three requests 0.6 s apart: 1.8 s in all, more than the keep-alive,
    // but never a keep-alive without a request.
    for _ in 0..3 {
        thread::sleep(Duration::from_millis(600));
        stream
            .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        let resp = try_read_response(&mut BufReader::new(&mut stream))
            .expect("the connection was closed before a keep-alive without a request");
        assert_eq!(resp.status, 200);
    }
    // Then silence: closed about a keep-alive after the last answer.
    let answered = Instant::now();
    let (_, closed) = read_until_closed(&mut stream, Duration::from_secs(5));
    let waited = answered.elapsed();
    assert!(closed, "an idle keep-alive connection was never closed");
    assert!(
        waited >= Duration::from_millis(900) && waited < Duration::from_secs(4),
        "closed {waited:?} after the last answer (keep-alive 1 s)"
    );
}

#[test]
fn a_slow_or_pausing_reader_gets_the_whole_answer_past_the_keep_alive() {
    // The answer is handed over at once, so the request stops counting
    // as in progress long before its 16 MiB are read; the keep-alive
    // deadline must not cut the connection while its bytes go out, nor
    // while the client pauses (less than the write deadline).
    let server = start(|c| {
        c.timeout_keep_alive = 1.0;
        c.timeout_write_idle = 10.0;
    });
    let mut stream = TcpStream::connect(server.addr()).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    stream
        .write_all(b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let started = Instant::now();
    // 64 KiB every 8 ms at most, and a pause of 1.5 s after 4 MiB: 16 MiB
    // in more than 3.5 s.
    let mut slow = SlowReader {
        stream: &mut stream,
        pace: Duration::from_millis(8),
        read: 0,
        pause: Some((4 << 20, Duration::from_millis(1500))),
    };
    let resp = try_read_response(&mut BufReader::new(&mut slow))
        .expect("the connection was cut while the answer was being read");
    assert_eq!(resp.status, 200);
    assert_eq!(resp.body.len(), 16 << 20);
    assert!(
        started.elapsed() > Duration::from_millis(3000),
        "the read was not slower than the keep-alive ({:?})",
        started.elapsed()
    );
    still_serving(server.addr());
}

#[test]
fn at_the_file_descriptor_limit_idle_connections_are_shed_not_new_clients() {
    let _serial = serial();
    // A 200-descriptor process, then 400 silent connections.
    let server = start_example_with("hello", &["--no-access-log"], |cmd| {
        // SAFETY: setrlimit only, async-signal-safe.
        unsafe {
            cmd.pre_exec(|| {
                let limit = libc::rlimit {
                    rlim_cur: 200,
                    rlim_max: 200,
                };
                libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
                Ok(())
            });
        }
    });
    let silent: Vec<TcpStream> = (0..400)
        .map(|_| TcpStream::connect(server.addr).unwrap())
        .collect();
    // Let the kernel hand them all to the server.
    thread::sleep(Duration::from_secs(3));
    for i in 0..20 {
        let started = Instant::now();
        let mut stream = TcpStream::connect(server.addr).unwrap();
        stream
            .write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .unwrap();
        let (bytes, _) = read_until_closed(&mut stream, Duration::from_secs(5));
        assert!(
            bytes.starts_with(b"HTTP/1.1 200"),
            "normal client {i} not served ({:?}): {:?}",
            started.elapsed(),
            String::from_utf8_lossy(&bytes)
        );
    }
    drop(silent);
}

// 4. Slow bodies and slow readers are cut.

#[test]
fn a_body_trickled_a_byte_at_a_time_is_cut_with_408() {
    let server = start(|c| {
        c.min_body_rate = 100;
        c.min_rate_grace = 2.0;
    });
    let mut stream = TcpStream::connect(server.addr()).unwrap();
    stream
        .write_all(b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n")
        .unwrap();
    let started = Instant::now();
    let stop = Arc::new(AtomicBool::new(false));
    let mut writer = stream.try_clone().unwrap();
    let stopped = Arc::clone(&stop);
    let trickle = thread::spawn(move || {
        while !stopped.load(Ordering::SeqCst) {
            if writer.write_all(b"x").is_err() {
                return;
            }
            thread::sleep(Duration::from_millis(500));
        }
    });
    let (bytes, closed) = read_until_closed(&mut stream, Duration::from_secs(10));
    stop.store(true, Ordering::SeqCst);
    let _ = trickle.join();
    let took = started.elapsed();
    let resp = parse_response(&bytes);
    assert_eq!(resp.status, 408);
    assert_eq!(resp.json()["detail"], "Request Timeout");
    assert!(closed, "the connection stayed open");
    assert!(
        took >= Duration::from_secs(2) && took < Duration::from_secs(5),
        "cut after {took:?}"
    );
}

#[test]
fn a_body_that_stops_arriving_is_cut_at_the_idle_timeout() {
    let server = start(|c| c.timeout_body_idle = 1.0);
    let mut stream = TcpStream::connect(server.addr()).unwrap();
    stream
        .write_all(b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\nhalf of it")
        .unwrap();
    let started = Instant::now();
    let (bytes, closed) = read_until_closed(&mut stream, Duration::from_secs(10));
    assert_eq!(parse_response(&bytes).status, 408);
    assert!(closed);
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn a_client_that_stops_reading_is_cut_at_the_write_deadline() {
    let server = start(|c| c.timeout_write_idle = 1.0);
    let mut stream = TcpStream::connect(server.addr()).unwrap();
    stream
        .write_all(b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    // Do not read for a while: the server's writes stall.
    thread::sleep(Duration::from_secs(4));
    let (bytes, closed) = read_until_closed(&mut stream, Duration::from_secs(10));
    assert!(closed, "the connection was never cut");
    assert!(
        bytes.len() < 16 << 20,
        "the whole 16 MiB arrived: the write was never cut"
    );
    still_serving(server.addr());
}

#[test]
fn slow_readers_release_their_memory_at_the_write_deadline() {
    let _serial = serial();
    let server = start_example(
        "production",
        &["--no-access-log", "--timeout-write-idle", "2"],
    );
    let pid = server.child.id();
    // Warm up, then measure the baseline.
    let warm = format!("\"{}\"", "y".repeat(1000));
    assert_eq!(
        request(server.addr, "POST", "/echo", Some(&warm)).status,
        200
    );
    let baseline = rss_kib(pid);
    // 10 clients POST 12 MB each to the echo route and never read the answer.
    let body = format!("\"{}\"", "x".repeat(12 << 20));
    let head = format!(
        "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    let clients: Vec<TcpStream> = (0..10)
        .map(|_| {
            let mut s = TcpStream::connect(server.addr).unwrap();
            s.write_all(head.as_bytes()).unwrap();
            s.write_all(body.as_bytes()).unwrap();
            s
        })
        .collect();
    thread::sleep(Duration::from_millis(1500));
    let peak = rss_kib(pid);
    // After the deadline the connections are cut and the answers freed.
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut now = rss_kib(pid);
    while now > baseline + 60 * 1024 && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(200));
        now = rss_kib(pid);
    }
    eprintln!(
        "RSS: baseline {baseline} KiB, with 10 slow readers {peak} KiB, after the deadline {now} KiB"
    );
    assert!(
        peak > baseline + 100 * 1024,
        "the scenario did not hold memory ({baseline} -> {peak} KiB)"
    );
    assert!(
        now <= baseline + 60 * 1024,
        "memory not released: baseline {baseline} KiB, peak {peak} KiB, now {now} KiB"
    );
    drop(clients);
    still_serving(server.addr);
}

// 5. A body declared too large is refused at once, on HTTP/1.1 and HTTP/2.

#[test]
fn a_declared_body_over_the_limit_gets_413_at_once_and_the_connection_closes() {
    let server = start(|c| c.max_body_size = Some(1024));
    let started = Instant::now();
    let (bytes, closed) = raw_exchange(
        server.addr(),
        b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 1073741824\r\n\r\n",
        Duration::from_secs(5),
    );
    let resp = parse_response(&bytes);
    assert_eq!(resp.status, 413);
    assert_eq!(resp.json()["detail"], "Request body too large");
    assert_eq!(resp.header("connection"), Some("close"));
    assert!(closed);
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );

    // With `Expect: 100-continue` the client is told 413, never "continue".
    let (bytes, _) = raw_exchange(
        server.addr(),
        b"POST /upload HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 1073741824\r\n\r\n",
        Duration::from_secs(5),
    );
    assert!(
        bytes.starts_with(b"HTTP/1.1 413"),
        "{:?}",
        String::from_utf8_lossy(&bytes[..bytes.len().min(80)])
    );
}

#[test]
fn the_body_limit_answers_413_on_http2_too() {
    let server = start(|_| {});
    // 17 MiB against the default 16 MiB, with and without a declared length.
    let body = vec![b'x'; 17 << 20];
    let len = body.len().to_string();
    for headers in [vec![("content-length", len.as_str())], vec![]] {
        let (status, _, answer) =
            h2_request(server.addr(), "POST", "/upload", &headers, body.clone())
                .expect("an answer, not a reset stream");
        assert_eq!(status, 413, "{headers:?}");
        assert_eq!(
            serde_json::from_slice::<Value>(&answer).unwrap()["detail"],
            "Request body too large"
        );
    }
    still_serving(server.addr());
}

// 7. The watchdog contains blocking handlers, not preempted ones.

#[test]
fn under_cpu_contention_no_trivial_route_is_contained_but_a_blocking_one_is() {
    let _serial = serial();
    let server = start(|_| {});
    let addr = server.addr();
    // Eight CPU hogs on a 2-core machine.
    let stop = Arc::new(AtomicBool::new(false));
    let hogs: Vec<_> = (0..8)
        .map(|_| {
            let stop = Arc::clone(&stop);
            thread::spawn(move || {
                let mut x = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
                    std::hint::black_box(x);
                }
            })
        })
        .collect();
    let clients: Vec<_> = (0..6)
        .map(|_| {
            thread::spawn(move || {
                let until = Instant::now() + Duration::from_secs(4);
                while Instant::now() < until {
                    assert_eq!(request(addr, "GET", "/", None).status, 200);
                }
            })
        })
        .collect();
    for c in clients {
        c.join().unwrap();
    }
    let trivial = server.metrics();
    // The seed's mistake is still caught, hogs or not.
    assert_eq!(request(addr, "POST", "/delay", None).status, 200);
    let after = server.metrics();
    stop.store(true, Ordering::Relaxed);
    for h in hogs {
        h.join().unwrap();
    }
    let root = trivial.routes.iter().find(|r| r.path == "/").unwrap();
    assert!(!root.contained, "GET / contained: {root:?}");
    let delay = after.routes.iter().find(|r| r.path == "/delay").unwrap();
    assert!(
        delay.contained,
        "the blocking route was not contained: {delay:?}"
    );
    assert_eq!(after.contained_routes, 1, "{:?}", after.routes);
}

// 8. Overload is logged, not flooded.

#[test]
fn overload_503s_are_in_the_access_log_and_warned_about_once() {
    let _serial = serial();
    let server = start_example("production", &["--limit-concurrency", "1"]);
    let addr = server.addr;
    let slow = thread::spawn(move || request(addr, "GET", "/slow?ms=2500", None).status);
    thread::sleep(Duration::from_millis(300));
    let mut rejected = 0;
    let until = Instant::now() + Duration::from_secs(1);
    while Instant::now() < until {
        if request(addr, "GET", "/", None).status == 503 {
            rejected += 1;
        }
    }
    assert_eq!(slow.join().unwrap(), 200);
    assert!(rejected > 50, "only {rejected} requests were rejected");
    thread::sleep(Duration::from_millis(500)); // let the log writer catch up
    let log = server.log.lock().unwrap().clone();
    let warnings = log
        .lines()
        .filter(|l| l.contains("limit-concurrency reached"))
        .count();
    assert!(
        warnings <= 2,
        "{warnings} warnings for {rejected} rejections"
    );
    let logged_503 = log
        .lines()
        .filter(|l| l.contains("brisk::access") && l.contains("status=503"))
        .count();
    assert!(
        logged_503 + 5 >= rejected,
        "{logged_503} of {rejected} 503s in the access log"
    );
}

// 10. Headers: room for many, exact size limit, JSON on every 431.

fn head_with(extra: &str) -> String {
    format!("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n{extra}\r\n")
}

#[test]
fn many_headers_are_accepted_up_to_the_documented_limit() {
    // A request with `n` header lines besides Host and Connection.
    let send = |server: &BackgroundServer, n: usize| {
        let headers: String = (0..n).map(|i| format!("X-H{i}: v\r\n")).collect();
        let (bytes, _) = raw_exchange(
            server.addr(),
            head_with(&headers).as_bytes(),
            Duration::from_secs(5),
        );
        parse_response(&bytes)
    };
    // The default: 100 header lines.
    let server = start(|_| {});
    assert_eq!(send(&server, 98).status, 200);
    let resp = send(&server, 99);
    assert_eq!(resp.status, 431);
    assert_eq!(resp.json()["detail"], "Request Header Fields Too Large");
    // Raised with --limit-max-headers.
    let server = start(|c| c.limit_max_headers = 256);
    assert_eq!(send(&server, 150).status, 200);
    assert_eq!(send(&server, 300).status, 431);
}

#[test]
fn the_header_size_limit_is_exact_and_431_has_a_json_body() {
    let server = start(|c| c.limit_max_header_size = 1024);
    let small = format!("X-Pad: {}\r\n", "a".repeat(800));
    let (bytes, _) = raw_exchange(
        server.addr(),
        head_with(&small).as_bytes(),
        Duration::from_secs(5),
    );
    assert_eq!(parse_response(&bytes).status, 200);
    let big = format!("X-Pad: {}\r\n", "a".repeat(4000));
    let (bytes, _) = raw_exchange(
        server.addr(),
        head_with(&big).as_bytes(),
        Duration::from_secs(5),
    );
    let resp = parse_response(&bytes);
    assert_eq!(resp.status, 431);
    assert_eq!(resp.header("content-type"), Some("application/json"));
    assert_eq!(resp.json()["detail"], "Request Header Fields Too Large");
    // A malformed request line also gets a JSON detail.
    let (bytes, _) = raw_exchange(server.addr(), b"GARBAGE\r\n\r\n", Duration::from_secs(5));
    let resp = parse_response(&bytes);
    assert_eq!(resp.status, 400);
    assert_eq!(resp.json()["detail"], "Bad Request");
    still_serving(server.addr());
}

// 13. Host is required on HTTP/1.1.

#[test]
fn http11_without_exactly_one_host_is_a_bad_request() {
    let server = start(|_| {});
    for head in [
        "GET / HTTP/1.1\r\nConnection: close\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\nConnection: close\r\n\r\n",
    ] {
        let (bytes, _) = raw_exchange(server.addr(), head.as_bytes(), Duration::from_secs(5));
        let resp = parse_response(&bytes);
        assert_eq!(resp.status, 400, "{head:?}");
        assert!(resp.json()["detail"].as_str().unwrap().contains("Host"));
    }
    // HTTP/1.0 needs none.
    let (bytes, _) = raw_exchange(
        server.addr(),
        b"GET / HTTP/1.0\r\n\r\n",
        Duration::from_secs(5),
    );
    assert_eq!(parse_response(&bytes).status, 200);
}

#[test]
fn a_connection_that_reads_nothing_back_never_holds_up_the_server() {
    // Many clients that send a request and never read: the server writes
    // small answers into the socket buffer and moves on.
    let server = start(|c| c.timeout_write_idle = 1.0);
    let mut idle = Vec::new();
    for _ in 0..100 {
        let mut s = TcpStream::connect(server.addr()).unwrap();
        s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        idle.push(s);
    }
    still_serving(server.addr());
    let mut buf = [0u8; 16];
    idle[0]
        .set_read_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    assert!(idle[0].read(&mut buf).unwrap() > 0);
}
