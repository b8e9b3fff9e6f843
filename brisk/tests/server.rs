//! The real server on 127.0.0.1: HTTP/1.1 keep-alive, HTTP/2 cleartext,
//! errors, panics, limits and graceful shutdown.

mod common;

use std::io::{BufReader, Write};
use std::net::TcpStream;
use std::thread;
use std::time::{Duration, Instant};

use brisk::prelude::*;
use brisk::serve::BackgroundServer;
use common::{read_response, request};

#[get("/")]
async fn root() -> Json<Value> {
    Json(json!({"message": "Hello World"}))
}

#[get("/panic")]
async fn panics() -> Json<Value> {
    panic!("boom")
}

#[get("/panic-sync")]
fn panics_sync() -> Json<Value> {
    panic!("boom on the pool")
}

#[post("/echo")]
async fn echo(body: Json<Value>) -> Json<Value> {
    body
}

#[get("/slow")]
async fn slow() -> Json<Value> {
    tokio::time::sleep(Duration::from_millis(500)).await;
    Json(json!({"slow": true}))
}

fn start(app: App) -> BackgroundServer {
    BackgroundServer::start(app, brisk::ServerConfig::for_tests())
}

fn app() -> App {
    App::new()
        .max_body_size(1024)
        .routes(routes![root, panics, panics_sync, echo, slow])
}

#[test]
fn serves_json_over_a_real_socket() {
    let server = start(app());
    let resp = request(server.addr(), "GET", "/", None);
    assert_eq!(resp.status, 200);
    assert_eq!(resp.header("content-type"), Some("application/json"));
    assert_eq!(resp.json(), json!({"message": "Hello World"}));
}

#[test]
fn unknown_paths_and_wrong_methods_answer_like_fastapi() {
    let server = start(app());
    let resp = request(server.addr(), "GET", "/nope", None);
    assert_eq!(resp.status, 404);
    assert_eq!(resp.json(), json!({"detail": "Not Found"}));
    let resp = request(server.addr(), "DELETE", "/", None);
    assert_eq!(resp.status, 405);
    assert_eq!(resp.json(), json!({"detail": "Method Not Allowed"}));
    assert_eq!(resp.header("allow"), Some("GET"));
}

#[test]
fn keep_alive_serves_several_requests_on_one_connection() {
    let server = start(app());
    let stream = TcpStream::connect(server.addr()).unwrap();
    let mut writer = stream.try_clone().unwrap();
    let mut reader = BufReader::new(stream);
    for _ in 0..3 {
        writer
            .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        let resp = read_response(&mut reader);
        assert_eq!(resp.status, 200);
        assert_eq!(resp.json()["message"], "Hello World");
    }
}

#[test]
fn a_panicking_handler_gets_500_and_the_server_keeps_serving() {
    let server = start(app());
    for path in ["/panic", "/panic-sync"] {
        let resp = request(server.addr(), "GET", path, None);
        assert_eq!(resp.status, 500, "{path}");
        assert_eq!(resp.json(), json!({"detail": "Internal Server Error"}));
    }
    let resp = request(server.addr(), "GET", "/", None);
    assert_eq!(resp.status, 200);
}

#[test]
fn bodies_over_the_limit_get_413_and_bad_json_gets_422() {
    let server = start(app());
    let big = format!("{{\"x\": \"{}\"}}", "a".repeat(2000));
    let resp = request(server.addr(), "POST", "/echo", Some(&big));
    assert_eq!(resp.status, 413);
    assert_eq!(resp.json()["detail"], "Request body too large");
    let resp = request(server.addr(), "POST", "/echo", Some("{nope"));
    assert_eq!(resp.status, 422);
    assert_eq!(resp.json()["detail"][0]["type"], "json_invalid");
    let resp = request(server.addr(), "POST", "/echo", Some(r#"{"ok": [1, 2]}"#));
    assert_eq!(resp.status, 200);
    assert_eq!(resp.json(), json!({"ok": [1, 2]}));
}

#[test]
fn http2_cleartext_with_prior_knowledge() {
    let server = start(app());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        use http_body_util::BodyExt;
        let stream = tokio::net::TcpStream::connect(server.addr()).await.unwrap();
        let (mut sender, conn) = hyper::client::conn::http2::handshake(
            hyper_util::rt::TokioExecutor::new(),
            hyper_util::rt::TokioIo::new(stream),
        )
        .await
        .expect("h2c handshake");
        tokio::spawn(conn);
        let req = http::Request::get(format!("http://{}/", server.addr()))
            .body(http_body_util::Empty::<bytes::Bytes>::new())
            .unwrap();
        let resp = sender.send_request(req).await.unwrap();
        assert_eq!(resp.version(), http::Version::HTTP_2);
        assert_eq!(resp.status(), 200);
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(&body[..], br#"{"message":"Hello World"}"#);
    });
}

#[test]
fn graceful_shutdown_lets_in_flight_requests_finish() {
    let server = start(app());
    let addr = server.addr();
    let in_flight = thread::spawn(move || request(addr, "GET", "/slow", None));
    thread::sleep(Duration::from_millis(100));
    let started = Instant::now();
    server.stop();
    let resp = in_flight.join().unwrap();
    assert_eq!(resp.status, 200, "the in-flight request was cut off");
    assert_eq!(resp.json(), json!({"slow": true}));
    assert!(started.elapsed() < Duration::from_secs(5));
    // After shutdown the port no longer accepts.
    assert!(TcpStream::connect(addr).is_err());
}

#[get("/thread")]
async fn thread_name() -> String {
    std::thread::current().name().unwrap_or("?").to_owned()
}

/// The event-loop threads a run of new connections were served on.
fn loops_serving(config: brisk::ServerConfig) -> std::collections::BTreeSet<String> {
    let server = BackgroundServer::start(App::new().routes(routes![thread_name]), config);
    (0..6)
        .map(|_| {
            let resp = request(server.addr(), "GET", "/thread", None);
            assert_eq!(resp.status, 200);
            String::from_utf8(resp.body).unwrap()
        })
        .collect()
}

/// By default each event-loop thread is a loop of its own and new
/// connections go to them in turn; `--work-stealing` makes them one tokio
/// runtime (the first event loop), whose threads share the work.
#[test]
fn connections_go_to_the_event_loops_in_turn_unless_work_stealing() {
    let mut config = brisk::ServerConfig::for_tests();
    config.event_loop_threads = Some(2);
    let per_thread = loops_serving(config.clone());
    assert_eq!(
        per_thread,
        ["brisk-loop-0", "brisk-loop-1"].map(String::from).into()
    );
    config.work_stealing = true;
    let stealing = loops_serving(config);
    assert_eq!(stealing, ["brisk-loop-0"].map(String::from).into());
}

/// One request on a fresh connection: the response and the client port
/// the server saw it from.
fn request_from_own_port(server: &BackgroundServer, path: &str) -> (common::RawResponse, u16) {
    let mut stream = TcpStream::connect(server.addr()).unwrap();
    let port = stream.local_addr().unwrap().port();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    (read_response(&mut BufReader::new(stream)), port)
}

/// An app-wide layer that reports the client it finds in the request's
/// extensions and the route it finds in the response's.
fn report_layer(
    req: brisk::middleware::Request,
    next: brisk::middleware::Next,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = brisk::response::Response> + Send>> {
    Box::pin(async move {
        let client = req
            .extensions()
            .get::<brisk::connection::ConnectionInfo>()
            .map_or(0, |c| c.client_port());
        let mut resp = next.run(req).await;
        let route = resp
            .extensions()
            .get::<brisk::service::MatchedPath>()
            .map_or("none", |m| m.0);
        let report = format!("{client} {route}");
        resp.headers_mut()
            .insert("x-layer", report.parse().unwrap());
        resp
    })
}

/// The server hands the client and scheme to the operation directly and
/// puts them (and the route, in the response) into the extensions only
/// where something may read them there: layers and exception handlers.
/// Every reader must still see the real connection.
#[test]
fn the_connection_and_route_reach_handlers_exception_handlers_and_layers() {
    #[get("/who")]
    async fn who(conn: brisk::connection::ConnectionInfo) -> String {
        format!("{} {}", conn.client_port(), conn.scheme().as_str())
    }
    #[get("/items/{id}")]
    async fn item(id: u32) -> String {
        id.to_string()
    }
    fn exception_handler(
        parts: &http::request::Parts,
        _: brisk::error::ValidationErrors,
    ) -> (StatusCode, String) {
        let port = parts
            .extensions
            .get::<brisk::connection::ConnectionInfo>()
            .map_or(0, |c| c.client_port());
        (StatusCode::BAD_REQUEST, port.to_string())
    }
    for layered in [false, true] {
        let mut app = App::new()
            .routes(routes![who, item])
            .exception_handler(exception_handler);
        if layered {
            app = app.layer(brisk::middleware::from_fn(report_layer));
        }
        let server = start(app);
        let (resp, port) = request_from_own_port(&server, "/who");
        assert_eq!(resp.text(), format!("{port} http"), "layered: {layered}");
        let layer = resp.header("x-layer").map(str::to_owned);
        assert_eq!(layer, layered.then(|| format!("{port} /who")));
        let (resp, port) = request_from_own_port(&server, "/items/x");
        assert_eq!(resp.status, 400);
        assert_eq!(resp.text(), port.to_string(), "layered: {layered}");
        let layer = resp.header("x-layer").map(str::to_owned);
        assert_eq!(layer, layered.then(|| format!("{port} /items/{{id}}")));
    }
}
