//! bench/run's load client for the streaming scenarios, where wrk cannot go:
//!
//! ```text
//! loadgen sse    --addr 127.0.0.1:8000 --clients 1000 --events 50
//! loadgen ws     --addr 127.0.0.1:8000 --conns 64 --duration 6 --size 32
//! loadgen upload --addr 127.0.0.1:8000 --conns 4 --mib 128
//! ```
//!
//! Each prints one JSON object on stdout. It runs on a single-threaded tokio
//! runtime, so that it uses at most one core, like `wrk -t1` in the other
//! scenarios (the server and the client share this machine's two cores).
//! A Python client would be the bottleneck for the Rust servers here (every
//! WebSocket message is a round trip through it), which is why this one is
//! in Rust. Every run is bounded in time (`--timeout`, default 60 s).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use http_body_util::{BodyExt, Empty, StreamBody};
use hyper::body::Frame;
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;
use tokio_tungstenite::tungstenite::Message;

/// At most this many connects in flight: tokio's listen backlog is 128, and
/// a burst beyond it loses SYNs that the kernel retries only after 1 s.
const CONNECTS_IN_FLIGHT: usize = 64;

type Flags = HashMap<String, String>;

fn main() {
    let mut args = std::env::args().skip(1);
    let command = args.next().unwrap_or_default();
    let mut flags = Flags::new();
    while let Some(key) = args.next() {
        let Some(name) = key.strip_prefix("--") else {
            fail(&format!("unexpected argument {key}"));
        };
        let value = args
            .next()
            .unwrap_or_else(|| fail(&format!("--{name} needs a value")));
        flags.insert(name.to_owned(), value);
    }
    let addr: SocketAddr = flag(&flags, "addr", SocketAddr::from(([127, 0, 0, 1], 8000)));
    let timeout = Duration::from_secs(flag(&flags, "timeout", 60));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let report = runtime.block_on(async {
        let run = async {
            match command.as_str() {
                "sse" => {
                    sse(
                        addr,
                        flag(&flags, "clients", 1000),
                        flag(&flags, "events", 50),
                    )
                    .await
                }
                "ws" => {
                    let duration = Duration::from_secs_f64(flag(&flags, "duration", 6.0));
                    ws(
                        addr,
                        flag(&flags, "conns", 64),
                        duration,
                        flag(&flags, "size", 32),
                    )
                    .await
                }
                "upload" => upload(addr, flag(&flags, "conns", 4), flag(&flags, "mib", 128)).await,
                other => fail(&format!("unknown command {other:?} (sse, ws, upload)")),
            }
        };
        match tokio::time::timeout(timeout, run).await {
            Ok(report) => report,
            Err(_) => json!({"timed_out": true, "timeout_s": timeout.as_secs()}),
        }
    });
    println!("{report}");
}

fn flag<T: std::str::FromStr>(flags: &Flags, name: &str, default: T) -> T {
    match flags.get(name) {
        Some(v) => v
            .parse()
            .unwrap_or_else(|_| fail(&format!("--{name}: cannot parse {v:?}"))),
        None => default,
    }
}

fn fail(message: &str) -> ! {
    eprintln!("loadgen: {message}");
    std::process::exit(2);
}

/// An HTTP/1.1 connection; its connection task runs beside the caller.
async fn http1<B>(addr: SocketAddr) -> Result<hyper::client::conn::http1::SendRequest<B>, String>
where
    B: hyper::body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let stream = TcpStream::connect(addr)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    stream.set_nodelay(true).map_err(|e| e.to_string())?;
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| format!("handshake: {e}"))?;
    tokio::spawn(conn);
    Ok(sender)
}

/// Counts the events (blank-line-terminated blocks) of an SSE body as it
/// arrives, across frame boundaries; `\r` is ignored (CRLF line ends).
#[derive(Default)]
struct EventCounter {
    events: u64,
    at_line_start: bool,
}

impl EventCounter {
    fn feed(&mut self, bytes: &[u8]) {
        for &b in bytes {
            match b {
                b'\n' if self.at_line_start => {
                    self.events += 1;
                    self.at_line_start = true;
                }
                b'\n' => self.at_line_start = true,
                b'\r' => {}
                _ => self.at_line_start = false,
            }
        }
    }
}

/// One subscriber: `GET /sse?n=N`, then counts events until the body ends.
async fn sse_client(addr: SocketAddr, n: u64, connects: Arc<Semaphore>) -> Result<u64, String> {
    let permit = connects.acquire().await.expect("never closed");
    let mut sender = http1::<Empty<Bytes>>(addr).await?;
    let request = hyper::Request::get(format!("/sse?n={n}"))
        .header(hyper::header::HOST, addr.to_string())
        .header(hyper::header::ACCEPT, "text/event-stream")
        .body(Empty::new())
        .expect("a valid request");
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| format!("request: {e}"))?;
    drop(permit);
    if response.status() != 200 {
        return Err(format!("status {}", response.status()));
    }
    let mut body = response.into_body();
    let mut counter = EventCounter::default();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| format!("body: {e}"))?;
        if let Some(data) = frame.data_ref() {
            counter.feed(data);
        }
    }
    Ok(counter.events)
}

/// `sse`: `clients` subscribers at once, each until it has `events` events.
async fn sse(addr: SocketAddr, clients: usize, events: u64) -> Value {
    let connects = Arc::new(Semaphore::new(CONNECTS_IN_FLIGHT));
    let started = Instant::now();
    let tasks: Vec<_> = (0..clients)
        .map(|_| {
            let connects = Arc::clone(&connects);
            tokio::spawn(async move {
                let result = sse_client(addr, events, connects).await;
                (result, started.elapsed())
            })
        })
        .collect();
    let (mut received, mut complete, mut errors) = (0u64, 0usize, Vec::new());
    let mut last_done = Duration::ZERO;
    for task in tasks {
        let (result, done) = task.await.expect("no panic");
        last_done = last_done.max(done);
        match result {
            Ok(got) => {
                received += got;
                complete += usize::from(got == events);
            }
            Err(e) => errors.push(e),
        }
    }
    json!({
        "clients": clients,
        "events_per_client": events,
        "events": received,
        "complete": complete,
        "seconds": last_done.as_secs_f64(),
        "errors": errors.len(),
        "first_error": errors.first(),
    })
}

/// One WebSocket: send a `size`-byte text message, await its echo, repeat
/// until `deadline`. Returns the round trips completed.
async fn ws_client(addr: SocketAddr, deadline: Instant, size: usize) -> Result<u64, String> {
    let stream = TcpStream::connect(addr)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    stream.set_nodelay(true).map_err(|e| e.to_string())?;
    let (mut socket, _) = tokio_tungstenite::client_async(format!("ws://{addr}/ws"), stream)
        .await
        .map_err(|e| format!("handshake: {e}"))?;
    let text: String = "x".repeat(size);
    let mut round_trips = 0;
    while Instant::now() < deadline {
        socket
            .send(Message::text(text.clone()))
            .await
            .map_err(|e| format!("send: {e}"))?;
        match socket.next().await {
            Some(Ok(Message::Text(echo))) if echo.len() == size => round_trips += 1,
            Some(Ok(other)) => return Err(format!("unexpected message {other:?}")),
            Some(Err(e)) => return Err(format!("receive: {e}")),
            None => return Err("closed by the server".into()),
        }
    }
    let _ = socket.close(None).await;
    Ok(round_trips)
}

/// `ws`: `conns` WebSockets echoing for `duration`.
async fn ws(addr: SocketAddr, conns: usize, duration: Duration, size: usize) -> Value {
    let started = Instant::now();
    let deadline = started + duration;
    let tasks: Vec<_> = (0..conns)
        .map(|_| tokio::spawn(ws_client(addr, deadline, size)))
        .collect();
    let (mut messages, mut errors) = (0u64, Vec::new());
    for task in tasks {
        match task.await.expect("no panic") {
            Ok(n) => messages += n,
            Err(e) => errors.push(e),
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    json!({
        "conns": conns,
        "messages": messages,
        "seconds": seconds,
        "messages_per_s": messages as f64 / seconds,
        "errors": errors.len(),
        "first_error": errors.first(),
    })
}

const BOUNDARY: &str = "brisk-bench-boundary-7MA4YWxkTrZu0gW";

/// One multipart upload of `mib` MiB (a file part named `file`), sent in
/// 64 KiB chunks with a `Content-Length`. Returns the size the server read.
async fn upload_client(addr: SocketAddr, mib: usize) -> Result<u64, String> {
    let head = Bytes::from(format!(
        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.bin\"\r\n\
         Content-Type: application/octet-stream\r\n\r\n"
    ));
    let tail = Bytes::from(format!("\r\n--{BOUNDARY}--\r\n"));
    let chunk = Bytes::from(vec![b'x'; 64 << 10]);
    let chunks = mib * 16;
    let length = head.len() + chunk.len() * chunks + tail.len();
    let frames = std::iter::once(head)
        .chain(std::iter::repeat_n(chunk, chunks))
        .chain(std::iter::once(tail))
        .map(|b| Ok::<_, std::io::Error>(Frame::data(b)));
    let body = StreamBody::new(futures_util::stream::iter(frames));
    let mut sender = http1(addr).await?;
    let request = hyper::Request::post("/upload")
        .header(hyper::header::HOST, addr.to_string())
        .header(
            hyper::header::CONTENT_TYPE,
            format!("multipart/form-data; boundary={BOUNDARY}"),
        )
        .header(hyper::header::CONTENT_LENGTH, length)
        .body(body)
        .expect("a valid request");
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| format!("request: {e}"))?;
    let status = response.status();
    let bytes = response
        .into_body()
        .collect()
        .await
        .map_err(|e| format!("body: {e}"))?
        .to_bytes();
    if status != 200 {
        return Err(format!(
            "status {status}: {}",
            String::from_utf8_lossy(&bytes)
        ));
    }
    let answer: Value =
        serde_json::from_slice(&bytes).map_err(|e| format!("answer is not JSON: {e}"))?;
    answer["size"]
        .as_u64()
        .ok_or_else(|| format!("answer has no size: {answer}"))
}

/// `upload`: `conns` uploads of `mib` MiB at once.
async fn upload(addr: SocketAddr, conns: usize, mib: usize) -> Value {
    let started = Instant::now();
    let tasks: Vec<_> = (0..conns)
        .map(|_| tokio::spawn(upload_client(addr, mib)))
        .collect();
    let (mut sizes, mut errors) = (Vec::new(), Vec::new());
    for task in tasks {
        match task.await.expect("no panic") {
            Ok(size) => sizes.push(size),
            Err(e) => errors.push(e),
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    let expected = (mib as u64) << 20;
    json!({
        "conns": conns,
        "mib_each": mib,
        "seconds": seconds,
        "mib_per_s": (conns * mib) as f64 / seconds,
        "correct": sizes.iter().filter(|&&s| s == expected).count(),
        "sizes": sizes,
        "errors": errors.len(),
        "first_error": errors.first(),
    })
}
