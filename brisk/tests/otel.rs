//! The `otel` feature: request spans exported over OTLP (HTTP, JSON) to a
//! collector, as children of the caller's `traceparent`.
//!
//! `cargo test -p brisk --features otel --test otel` (`.ci/run` does).

#![cfg(feature = "otel")]

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use brisk::prelude::*;

#[get("/items/{id}")]
async fn item(id: u32) -> String {
    id.to_string()
}

/// Every request the collector received: its request line and body.
type Received = Arc<Mutex<Vec<(String, String)>>>;

/// A stand-in OTLP/HTTP collector: keeps every request body, answers `{}`.
fn collector() -> (String, Received) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let kept = Arc::clone(&bodies);
    std::thread::spawn(move || {
        for stream in listener.incoming().map_while(Result::ok) {
            let mut reader = BufReader::new(stream);
            loop {
                let mut length = 0usize;
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 {
                    break;
                }
                loop {
                    let mut header = String::new();
                    if reader.read_line(&mut header).unwrap_or(0) == 0 || header == "\r\n" {
                        break;
                    }
                    if let Some((k, v)) = header.split_once(':')
                        && k.eq_ignore_ascii_case("content-length")
                    {
                        length = v.trim().parse().unwrap_or(0);
                    }
                }
                let mut body = vec![0u8; length];
                if reader.read_exact(&mut body).is_err() {
                    break;
                }
                kept.lock().unwrap().push((
                    line.trim().to_owned(),
                    String::from_utf8_lossy(&body).into_owned(),
                ));
                let answer = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}";
                if reader.get_mut().write_all(answer).is_err() {
                    break;
                }
            }
        }
    });
    (url, bodies)
}

#[test]
fn request_spans_reach_an_otlp_collector_under_the_callers_trace() {
    let (url, bodies) = collector();
    // SAFETY: set before any other thread of this test process reads the
    // environment (the server starts below).
    unsafe {
        std::env::set_var("OTEL_EXPORTER_OTLP_ENDPOINT", &url);
        std::env::set_var("OTEL_SERVICE_NAME", "brisk-otel-test");
    }
    let server = brisk::serve::BackgroundServer::start(
        App::new().routes(routes![item]),
        brisk::ServerConfig::for_tests(),
    );
    let mut stream = std::net::TcpStream::connect(server.addr()).unwrap();
    stream
        .write_all(b"GET /items/7 HTTP/1.1\r\nhost: x\r\ntraceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\r\nconnection: close\r\n\r\n")
        .unwrap();
    let resp = common::read_response(&mut BufReader::new(stream));
    assert_eq!(resp.status, 200);
    server.stop();
    brisk::logging::flush(); // exports what is queued
    common::wait_until("the span at the collector", Duration::from_secs(10), || {
        !bodies.lock().unwrap().is_empty()
    });
    let (request_line, received) = bodies.lock().unwrap()[0].clone();
    assert!(
        request_line.starts_with("POST /v1/traces"),
        "{request_line}"
    );
    let json: serde_json::Value = serde_json::from_str(&received)
        .unwrap_or_else(|e| panic!("not OTLP JSON ({e}): {received}"));
    let spans: Vec<&serde_json::Value> = json["resourceSpans"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r["scopeSpans"].as_array().unwrap())
        .flat_map(|s| s["spans"].as_array().unwrap())
        .collect();
    let span = spans
        .iter()
        .find(|s| s["name"] == "request")
        .unwrap_or_else(|| panic!("no request span: {received}"));
    assert_eq!(span["traceId"], "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_eq!(span["parentSpanId"], "00f067aa0ba902b7");
    let attributes = span["attributes"].to_string();
    assert!(attributes.contains("/items/{id}"), "{attributes}");
    assert!(received.contains("brisk-otel-test"), "{received}");
}
