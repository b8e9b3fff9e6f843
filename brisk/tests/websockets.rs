//! WebSocket operations: through the in-process `TestClient` (handshake
//! answers, parameters, dependencies, close codes, limits, teardown), and
//! against the `websocket_chat` example with the Python `websockets`
//! client (echo, JSON, broadcast, 1008, 1009, 1,000 concurrent
//! connections, shutdown).

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use brisk::TestClient;
use brisk::prelude::*;
use brisk::ws::WebSocketException;

/// Echoes text; `{"close": code}` closes with it; `panic` panics.
#[websocket("/echo/{prefix}")]
async fn echo(
    mut ws: WebSocket,
    prefix: String,
    #[param(ge = 1)] times: Option<u32>,
) -> Result<(), WebSocketError> {
    ws.accept().await?;
    while let Some(text) = ws.next_text().await? {
        if text == "panic" {
            panic!("asked to panic");
        }
        if let Some(code) = text.strip_prefix("close ") {
            ws.close(code.parse().unwrap(), "bye").await;
            break;
        }
        for _ in 0..times.unwrap_or(1) {
            ws.send_text(format!("{prefix}: {text}")).await?;
        }
    }
    Ok(())
}

/// Refuses (closes before accepting) unless `?let_in=true`.
#[websocket("/door")]
async fn door(
    mut ws: WebSocket,
    #[param(default = false)] let_in: bool,
) -> Result<(), WebSocketError> {
    if !let_in {
        ws.close(1000, "").await;
        return Ok(());
    }
    ws.accept().await?;
    ws.send_text("welcome").await
}

/// Panics before accepting.
#[websocket("/boom")]
async fn boom(_ws: WebSocket) {
    panic!("before accept");
}

/// A token dependency: missing → FastAPI's 422 (→ 1008), wrong → a
/// `WebSocketException` with its own code.
#[dependency]
async fn token(token: Option<String>) -> Result<String, WebSocketException> {
    match token.as_deref() {
        Some("secret") => Ok("alice".into()),
        Some(_) => Err(WebSocketException::new(4001, "bad token")),
        None => Err(WebSocketException::new(1008, "no token")),
    }
}

#[websocket("/private")]
async fn private(mut ws: WebSocket, user: Depends<token>) -> Result<(), WebSocketError> {
    ws.accept().await?;
    ws.send_text(format!("hello {}", *user)).await
}

/// Chooses `chat.v2` when offered, and adds a header.
#[websocket("/proto")]
async fn proto(mut ws: WebSocket) -> Result<(), WebSocketError> {
    let chosen = ws.subprotocols().iter().find(|p| *p == "chat.v2").cloned();
    ws.accept_with(chosen.as_deref(), &[("x-room", "main")])
        .await?;
    ws.send_json(&json!({"offered": ws.subprotocols()})).await
}

#[derive(Deserialize, JsonSchema)]
struct Point {
    x: i32,
    y: i32,
}

/// Validates JSON messages; errors are answered, the connection stays.
#[websocket("/points")]
async fn points(mut ws: WebSocket) -> Result<(), WebSocketError> {
    ws.accept().await?;
    loop {
        match ws.receive_json::<Point>().await {
            Ok(p) => ws.send_json(&json!({"sum": p.x + p.y})).await?,
            Err(WebSocketError::Invalid(errors)) => ws.send_json(&errors).await?,
            Err(other) => return Err(other),
        }
    }
}

/// What the handlers and teardowns saw, for the tests to check.
#[derive(Default, Clone)]
struct Seen(Arc<Mutex<Vec<String>>>);

#[dependency]
fn session(seen: State<Seen>) -> Teardown<u32> {
    let seen = Seen::clone(&seen);
    Teardown::blocking(7, move |_| seen.0.lock().unwrap().push("teardown".into()))
}

/// Records how the client closed.
#[websocket("/record")]
async fn record(
    mut ws: WebSocket,
    seen: State<Seen>,
    id: Depends<session>,
) -> Result<(), WebSocketError> {
    ws.accept().await?;
    let ended = loop {
        match ws.receive().await {
            Ok(_) => ws.send_text(format!("session {}", *id)).await?,
            Err(WebSocketError::Disconnect(d)) => break d,
            Err(other) => return Err(other),
        }
    };
    seen.0
        .0
        .lock()
        .unwrap()
        .push(format!("disconnect {} {}", ended.code, ended.reason));
    Ok(())
}

fn app_with(seen: Seen) -> App {
    App::new()
        .state(seen)
        .routes(routes![echo, door, boom, private, proto, points, record])
}

fn app() -> App {
    app_with(Seen::default())
}

fn client() -> TestClient {
    TestClient::new(app())
}

#[test]
fn echo_uses_path_and_query_parameters() {
    let client = client();
    let mut ws = client.websocket("/echo/bot?times=2").connect().unwrap();
    ws.send_text("hi");
    assert_eq!(ws.receive_text().unwrap(), "bot: hi");
    assert_eq!(ws.receive_text().unwrap(), "bot: hi");
    ws.send_text("close 4000");
    let closed = ws.receive().unwrap_err();
    assert_eq!((closed.code, closed.reason.as_str()), (4000, "bye"));
}

#[test]
fn an_invalid_parameter_closes_with_1008_and_the_errors() {
    let client = client();
    let mut ws = client.websocket("/echo/bot?times=0").connect().unwrap();
    let closed = ws.receive().unwrap_err();
    assert_eq!(closed.code, 1008);
    // The errors' JSON is over a close frame's 123 bytes: the first one, summarised.
    assert_eq!(
        closed.reason,
        "query.times: Input should be greater than or equal to 1"
    );
    // A short one is sent whole.
    let mut ws = client.websocket("/private").connect().unwrap();
    let closed = ws.receive().unwrap_err();
    assert_eq!((closed.code, closed.reason.as_str()), (1008, "no token"));
}

#[test]
fn dependencies_refuse_with_1008_or_their_own_code() {
    let client = client();
    let mut ws = client.websocket("/private?token=secret").connect().unwrap();
    assert_eq!(ws.receive_text().unwrap(), "hello alice");
    let mut ws = client.websocket("/private?token=nope").connect().unwrap();
    let closed = ws.receive().unwrap_err();
    assert_eq!((closed.code, closed.reason.as_str()), (4001, "bad token"));
}

#[test]
fn a_plain_request_gets_404_and_a_refusal_403() {
    let client = client();
    let resp = client.get("/echo/x").send();
    assert_eq!(resp.status(), 404);
    assert_eq!(resp.json::<Value>(), json!({"detail": "Not Found"}));
    let refused = client.websocket("/door").connect().unwrap_err();
    assert_eq!(refused.status(), 403);
    assert!(refused.json::<Value>()["detail"].is_string());
    let mut ws = client.websocket("/door?let_in=true").connect().unwrap();
    assert_eq!(ws.receive_text().unwrap(), "welcome");
    // The handler returned: the server closes normally.
    assert_eq!(ws.receive().unwrap_err().code, 1000);
    // WebSocket routes are not in the OpenAPI document (as in FastAPI).
    assert!(client.openapi()["paths"].get("/door").is_none());
}

#[test]
fn panics_give_500_before_accept_and_1011_after_and_the_app_keeps_serving() {
    let client = client();
    assert_eq!(
        client.websocket("/boom").connect().unwrap_err().status(),
        500
    );
    let mut ws = client.websocket("/echo/a").connect().unwrap();
    ws.send_text("panic");
    assert_eq!(ws.receive().unwrap_err().code, 1011);
    let mut ws = client.websocket("/echo/b").connect().unwrap();
    ws.send_text("still here");
    assert_eq!(ws.receive_text().unwrap(), "b: still here");
}

#[test]
fn a_subprotocol_and_headers_are_chosen_at_accept() {
    let client = client();
    let mut ws = client
        .websocket("/proto")
        .subprotocol("chat.v1, chat.v2")
        .connect()
        .unwrap();
    assert_eq!(ws.subprotocol(), Some("chat.v2"));
    assert_eq!(ws.headers()["x-room"], "main");
    assert_eq!(
        ws.receive_json::<Value>().unwrap(),
        json!({"offered": ["chat.v1", "chat.v2"]})
    );
}

#[test]
fn invalid_json_messages_get_pydantic_errors_and_the_connection_stays() {
    let client = client();
    let mut ws = client.websocket("/points").connect().unwrap();
    ws.send_text("{\"x\": 1,");
    let errors: Value = ws.receive_json().unwrap();
    assert_eq!(errors["detail"][0]["type"], "json_invalid");
    ws.send_json(&json!({"x": "a", "y": 2}));
    let errors: Value = ws.receive_json().unwrap();
    assert_eq!(errors["detail"][0]["loc"], json!(["x"]));
    assert_eq!(errors["detail"][0]["type"], "int_parsing");
    ws.send_json(&json!({"x": 1, "y": 2}));
    assert_eq!(ws.receive_json::<Value>().unwrap(), json!({"sum": 3}));
}

#[test]
fn the_client_close_code_reaches_the_handler_and_teardown_runs_after() {
    let seen = Seen::default();
    let client = TestClient::new(app_with(seen.clone()));
    let mut ws = client.websocket("/record").connect().unwrap();
    ws.send_text("x");
    assert_eq!(ws.receive_text().unwrap(), "session 7");
    ws.close(4002, "done here");
    // The server answers the close.
    assert_eq!(ws.receive().unwrap_err().code, 4002);
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let state = seen.0.lock().unwrap().clone();
        if state == ["disconnect 4002 done here", "teardown"] {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "saw {state:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn an_oversized_message_closes_with_1009() {
    let mut config = ServerConfig::for_tests();
    config.ws_max_message_size = 1024;
    let client = TestClient::with_config(app(), config);
    let mut ws = client.websocket("/echo/a").connect().unwrap();
    ws.send_text(&"x".repeat(1000));
    assert_eq!(ws.receive_text().unwrap().len(), 1003);
    ws.send_text(&"x".repeat(2000));
    assert_eq!(ws.receive().unwrap_err().code, 1009);
}

/// Runs `tests/ws/<script>` with python3 against `addr`; its stdout.
fn python(script: &str, addr: std::net::SocketAddr) -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/ws/").to_owned() + script;
    let out = std::process::Command::new("python3")
        .arg(&path)
        .arg(format!("{addr}"))
        .output()
        .expect("run python3");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{script} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

#[test]
fn the_chat_example_works_with_the_python_websockets_client() {
    let server = common::start_example("websocket_chat", &["--ws-max-message-size", "65536"]);
    let out = python("chat_client.py", server.addr);
    assert!(out.contains("ok"), "{out}");
}

#[test]
fn a_thousand_concurrent_connections_each_get_their_echo() {
    let server = common::start_example_with("websocket_chat", &[], |command| {
        // A descriptor per connection, and then some.
        unsafe_raise_nofile(command);
    });
    let out = python("thousand.py", server.addr);
    assert!(out.contains("1000 ok"), "{out}");
}

/// Raises the child's open-files limit for a thousand sockets.
fn unsafe_raise_nofile(command: &mut std::process::Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: setrlimit is async-signal-safe; nothing else runs in the child.
    unsafe {
        command.pre_exec(|| {
            let mut limit = libc::rlimit {
                rlim_cur: 0,
                rlim_max: 0,
            };
            if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 {
                limit.rlim_cur = limit.rlim_cur.max(limit.rlim_max.min(4096));
                let _ = libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
            }
            Ok(())
        });
    }
}

/// Headless Chromium opens the chat page twice, exchanges a message and
/// sees a leave, and sees 1008 for a bad parameter
/// (`browser/chat_test.mjs`). `.ci/run` installs what it needs and sets
/// BRISK_REQUIRE_BROWSER=1; elsewhere the test says it skipped.
#[test]
fn the_chat_page_works_in_a_real_browser() {
    let server = common::start_example("websocket_chat", &["--no-access-log"]);
    common::run_browser_script("chat_test.mjs", server.addr);
}

/// SIGTERM with a client in a chat room: the client is told 1001 (going
/// away), and the server waits for that socket to close, then exits 0.
#[test]
fn shutdown_closes_open_websockets_with_1001_and_waits_for_them() {
    use tokio_tungstenite::tungstenite::{self, Message as Frame};
    let mut server = common::start_example("websocket_chat", &["--no-access-log"]);
    let url = format!("ws://{}/ws/lobby?name=zoe", server.addr);
    let (mut socket, _) = tungstenite::connect(url).expect("handshake");
    let joined = socket.read().expect("the join notice");
    assert!(joined.to_text().unwrap().contains("\"join\""), "{joined:?}");
    let sent = Instant::now();
    // SAFETY: kill(2) on our own child's pid.
    assert_eq!(
        unsafe { libc::kill(server.child.id() as i32, libc::SIGTERM) },
        0
    );
    let close = loop {
        match socket.read() {
            Ok(Frame::Close(frame)) => break frame.expect("a close code"),
            Ok(_) => continue,
            Err(e) => panic!("no close frame: {e}"),
        }
    };
    assert_eq!(u16::from(close.code), 1001);
    assert_eq!(close.reason.as_str(), "server shutting down");
    assert!(
        sent.elapsed() < Duration::from_secs(5),
        "{:?}",
        sent.elapsed()
    );
    // Complete the closing handshake; then the server exits cleanly.
    let _ = socket.close(None);
    while socket.read().is_ok() {}
    let status = server.child.wait().expect("the server exits");
    assert!(status.success(), "{status:?}");
}

/// Keep-alive pings: a client that answers them (tungstenite answers each
/// ping with a pong) stays connected across many intervals; one that never
/// answers is closed with 1011 once the ping timeout passes, and a handler's
/// traffic in between does not delay either.
#[test]
fn keep_alive_pings_keep_answering_clients_and_close_silent_ones_with_1011() {
    use std::io::{Read, Write};
    use tokio_tungstenite::tungstenite::{self, Message as Frame};
    let server = common::start_example(
        "websocket_chat",
        &[
            "--no-access-log",
            "--ws-ping-interval",
            "0.2",
            "--ws-ping-timeout",
            "0.4",
        ],
    );

    // Answers: several pings in 1.5 s, the connection stays open.
    let url = format!("ws://{}/ws/lobby?name=ann", server.addr);
    let (mut socket, _) = tungstenite::connect(url).expect("handshake");
    if let tungstenite::stream::MaybeTlsStream::Plain(tcp) = socket.get_ref() {
        tcp.set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
    }
    let start = Instant::now();
    let mut pings = 0;
    while start.elapsed() < Duration::from_millis(1500) {
        match socket.read() {
            Ok(Frame::Ping(_)) => pings += 1,
            Ok(Frame::Close(frame)) => panic!("closed after {pings} pings: {frame:?}"),
            Ok(_) => {}
            Err(tungstenite::Error::Io(e)) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => panic!("after {pings} pings: {e}"),
        }
    }
    assert!((4..=9).contains(&pings), "{pings} pings in 1.5 s at 0.2 s");
    socket.send(Frame::text("still here")).unwrap();

    // Never answers: a raw client reads the ping and stays silent.
    let mut raw = std::net::TcpStream::connect(server.addr).unwrap();
    raw.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    write!(
        raw,
        "GET /ws/lobby?name=bob HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    .unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        raw.read_exact(&mut byte).unwrap();
        head.push(byte[0]);
    }
    assert!(
        head.starts_with(b"HTTP/1.1 101"),
        "{}",
        String::from_utf8_lossy(&head)
    );
    let opened = Instant::now();
    let mut saw_ping = false;
    let close_code = loop {
        // Server frames are unmasked; the chat's notices are short.
        let mut header = [0u8; 2];
        raw.read_exact(&mut header).unwrap();
        let (opcode, len) = (header[0] & 0x0f, header[1] & 0x7f);
        let len = match len {
            126 => {
                let mut n = [0u8; 2];
                raw.read_exact(&mut n).unwrap();
                u16::from_be_bytes(n) as usize
            }
            127 => panic!("no frame here is that long"),
            n => n as usize,
        };
        let mut payload = vec![0u8; len];
        raw.read_exact(&mut payload).unwrap();
        match opcode {
            0x9 => saw_ping = true,
            0x8 => break u16::from_be_bytes([payload[0], payload[1]]),
            _ => {}
        }
    };
    assert!(saw_ping);
    assert_eq!(close_code, 1011);
    let waited = opened.elapsed();
    // The first ping after 0.2 s, the timeout 0.4 s after it.
    assert!(
        waited >= Duration::from_millis(500) && waited < Duration::from_secs(3),
        "{waited:?}"
    );
}
