//! Streaming answers, Server-Sent Events, files and static directories:
//! in-process through the `TestClient`, and against the `streaming` and
//! `static_files` examples over real sockets (a Python SSE client that
//! hangs up, path traversal attempts, a 1 GB download to a slow reader).

mod common;

use std::io::{BufReader, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use brisk::TestClient;
use brisk::prelude::*;
use brisk::response::{Event, FileResponse, RedirectResponse, Sse, StaticFiles, StreamingResponse};
use futures_util::StreamExt;

#[get("/rows")]
async fn rows(n: u32) -> StreamingResponse {
    StreamingResponse::from_iter((0..n).map(|i| format!("{i}\n")))
        .media_type("text/csv")
        .header("x-rows", &n.to_string())
}

#[get("/sized")]
async fn sized() -> StreamingResponse {
    let parts = futures_util::stream::iter(["ab", "cd", "ef"]);
    StreamingResponse::new(parts).content_length(6).status(201)
}

#[get("/events")]
async fn events(last_event_id: Header<Option<u32>>) -> Sse {
    let first = last_event_id.0.map_or(0, |id| id + 1);
    let events = futures_util::stream::iter(first..first + 3).then(|i| async move {
        tokio::time::sleep(Duration::from_millis(120)).await;
        Event::default()
            .event("n")
            .id(i.to_string())
            .data(format!("line {i}\nsecond"))
    });
    Sse::new(events).keep_alive(Duration::from_millis(50))
}

#[get("/file")]
async fn file() -> FileResponse {
    FileResponse::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/static/style.css"
    ))
}

#[get("/download")]
async fn download() -> FileResponse {
    FileResponse::new(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"))
        .filename("brisk manifest.toml")
}

#[get("/missing")]
async fn missing() -> FileResponse {
    FileResponse::new("/no/such/file")
}

#[get("/old")]
async fn old() -> RedirectResponse {
    RedirectResponse::new("/new")
}

fn client() -> TestClient {
    let statics = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/static");
    TestClient::new(
        App::new()
            .routes(routes![rows, sized, events, file, download, missing, old])
            .mount("/static", StaticFiles::new(statics).html(true)),
    )
}

#[test]
fn a_blocking_iterator_streams_chunked_with_its_media_type() {
    let resp = client().get("/rows?n=1000").send();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.header("content-type"), Some("text/csv"));
    assert_eq!(resp.header("x-rows"), Some("1000"));
    assert_eq!(resp.header("content-length"), None);
    let text = resp.text();
    assert_eq!(text.lines().count(), 1000);
    assert!(text.ends_with("999\n"));
}

#[test]
fn a_known_length_is_sent_with_the_status() {
    let resp = client().get("/sized").send();
    assert_eq!(resp.status(), 201);
    assert_eq!(resp.header("content-length"), Some("6"));
    assert_eq!(resp.text(), "abcdef");
}

#[test]
fn sse_has_its_headers_events_and_keep_alive_pings() {
    let resp = client().get("/events").header("last-event-id", "4").send();
    assert_eq!(resp.header("content-type"), Some("text/event-stream"));
    assert_eq!(resp.header("cache-control"), Some("no-cache"));
    assert_eq!(resp.header("x-accel-buffering"), Some("no"));
    let text = resp.text();
    // Events resume after Last-Event-ID, multi-line data split in lines.
    assert!(
        text.contains("event: n\nid: 5\ndata: line 5\ndata: second\n\n"),
        "{text}"
    );
    assert!(text.contains("id: 7\n"), "{text}");
    assert!(!text.contains("id: 4\n"), "{text}");
    // Pings between the 120 ms events (every 50 ms): comment lines.
    assert!(text.matches(": ping").count() >= 3, "{text}");
}

#[test]
fn files_carry_type_length_validators_and_answer_ranges_and_conditions() {
    let client = client();
    let full = client.get("/file").send();
    assert_eq!(full.status(), 200);
    assert_eq!(full.header("content-type"), Some("text/css; charset=utf-8"));
    let len = full.bytes().len();
    assert_eq!(
        full.header("content-length"),
        Some(len.to_string().as_str())
    );
    assert_eq!(full.header("accept-ranges"), Some("bytes"));
    let etag = full.header("etag").unwrap().to_owned();
    let modified = full.header("last-modified").unwrap().to_owned();

    let same = client.get("/file").header("if-none-match", &etag).send();
    assert_eq!(same.status(), 304);
    assert!(same.bytes().is_empty());
    let since = client
        .get("/file")
        .header("if-modified-since", &modified)
        .send();
    assert_eq!(since.status(), 304);
    let changed = client
        .get("/file")
        .header("if-none-match", "\"other\"")
        .send();
    assert_eq!(changed.status(), 200);

    let part = client.get("/file").header("range", "bytes=2-5").send();
    assert_eq!(part.status(), 206);
    assert_eq!(part.bytes(), &full.bytes()[2..6]);
    assert_eq!(
        part.header("content-range"),
        Some(format!("bytes 2-5/{len}").as_str())
    );
    let tail = client.get("/file").header("range", "bytes=-3").send();
    assert_eq!(tail.bytes(), &full.bytes()[len - 3..]);
    let beyond = client
        .get("/file")
        .header("range", &format!("bytes={}-", len + 10))
        .send();
    assert_eq!(beyond.status(), 416);
    assert_eq!(
        beyond.header("content-range"),
        Some(format!("bytes */{len}").as_str())
    );

    // HEAD: path operations answer 405 to it, as FastAPI's do; static files answer it.
    assert_eq!(
        client.request(http::Method::HEAD, "/file").send().status(),
        405
    );
    let head = client
        .request(http::Method::HEAD, "/static/style.css")
        .send();
    assert_eq!(head.status(), 200);
    assert!(head.bytes().is_empty());
    assert_eq!(
        head.header("content-length"),
        Some(len.to_string().as_str())
    );

    let download = client.get("/download").send();
    assert_eq!(
        download.header("content-disposition"),
        Some("attachment; filename=\"brisk manifest.toml\"")
    );
    let gone = client.get("/missing").send();
    assert_eq!(gone.status(), 404);
    assert!(gone.json::<Value>()["detail"].is_string());
}

#[test]
fn static_files_serve_index_and_404_pages_and_redirects_are_307() {
    let client = client();
    let index = client.get("/static/").send();
    assert_eq!(index.status(), 200);
    assert!(index.text().contains("<html"), "{}", index.text());
    let missing = client.get("/static/nope.html").send();
    assert_eq!(missing.status(), 404);
    assert!(
        missing.text().contains("No such page here"),
        "{}",
        missing.text()
    );
    let js = client.get("/static/js/app.js").send();
    assert_eq!(
        js.header("content-type"),
        Some("text/javascript; charset=utf-8")
    );
    let redirect = client.get("/old").send();
    assert_eq!(redirect.status(), 307);
    assert_eq!(redirect.header("location"), Some("/new"));
}

#[test]
fn openapi_documents_streams_and_files_by_media_type() {
    let doc = client().openapi();
    let content = |path: &str| doc["paths"][path]["get"]["responses"]["200"]["content"].clone();
    assert_eq!(
        content("/events")["text/event-stream"]["schema"]["type"],
        "string"
    );
    assert_eq!(
        content("/file")["application/octet-stream"]["schema"],
        json!({"type": "string", "format": "binary"})
    );
    assert!(content("/rows")["application/octet-stream"].is_object());
}

/// GET `path` exactly as given (no normalisation): status and body.
fn raw_status(addr: std::net::SocketAddr, path: &str) -> (u16, String) {
    let resp = common::request(addr, "GET", path, None);
    (resp.status, resp.text())
}

#[test]
fn traversal_attempts_answer_404_and_never_leave_the_directory() {
    let root = common::TempDir::new("static-root");
    std::fs::write(root.0.join("index.html"), "<html>inside</html>").unwrap();
    std::fs::create_dir(root.0.join("sub")).unwrap();
    std::fs::write(root.0.join("sub/a.txt"), "a").unwrap();
    // A secret next to the root, and a symlink inside pointing at it.
    let secret = root.0.with_extension("secret");
    std::fs::write(&secret, "SECRET").unwrap();
    std::os::unix::fs::symlink(&secret, root.0.join("leak.txt")).unwrap();
    let dir = root.0.to_str().unwrap().to_owned();
    let server = common::start_example_with("static_files", &["--no-access-log"], |c| {
        c.env("BRISK_STATIC_DIR", &dir);
    });
    assert_eq!(raw_status(server.addr, "/").0, 200);
    assert_eq!(raw_status(server.addr, "/sub/a.txt"), (200, "a".into()));
    let name = secret.file_name().unwrap().to_str().unwrap();
    for attempt in [
        format!("/../{name}"),
        format!("/sub/../../{name}"),
        format!("/%2e%2e/{name}"),
        format!("/%2E%2E/{name}"),
        format!("/sub/%2e%2e/%2e%2e/{name}"),
        format!("/..%2f{name}"),
        format!("/%2e%2e%2f{name}"),
        format!("/sub%2f..%2f..%2f{name}"),
        format!("/..%5c{name}"),
        format!("//{}", secret.display()),
        format!(
            "/%2f{}",
            secret.display().to_string().trim_start_matches('/')
        ),
        "/leak.txt".to_owned(),
        "/../../../../../../etc/passwd".to_owned(),
        "/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd".to_owned(),
    ] {
        let (status, body) = raw_status(server.addr, &attempt);
        assert_eq!(status, 404, "{attempt} → {status} {body}");
        assert!(
            !body.contains("SECRET") && !body.contains("root:"),
            "{attempt}: {body}"
        );
    }
    let _ = std::fs::remove_file(secret);
}

#[test]
fn a_one_gigabyte_download_to_a_slow_reader_keeps_memory_bounded() {
    const SIZE: u64 = 1 << 30;
    let root = common::TempDir::new("big-file");
    let big = std::fs::File::create(root.0.join("big.bin")).unwrap();
    // Sparse: no disk space used, read back as zeros.
    big.set_len(SIZE).unwrap();
    let dir = root.0.to_str().unwrap().to_owned();
    let server = common::start_example_with("static_files", &["--no-access-log"], |c| {
        c.env("BRISK_STATIC_DIR", &dir);
    });
    let pid = server.child.id();
    let mut stream = TcpStream::connect(server.addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    write!(
        stream,
        "GET /big.bin HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut reader = BufReader::with_capacity(1 << 20, stream);
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut byte = [0u8];
        reader.read_exact(&mut byte).unwrap();
        head.push(byte[0]);
    }
    let head = String::from_utf8(head).unwrap();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains(&format!("content-length: {SIZE}")),
        "{head}"
    );
    // Slow for two seconds (256 KiB every 50 ms), then as fast as it goes.
    let mut buf = vec![0u8; 256 * 1024];
    let mut received = 0u64;
    let mut peak_while_slow = 0;
    let slow_until = Instant::now() + Duration::from_secs(2);
    while Instant::now() < slow_until {
        reader.read_exact(&mut buf).unwrap();
        received += buf.len() as u64;
        peak_while_slow = peak_while_slow.max(common::rss_kib(pid));
        std::thread::sleep(Duration::from_millis(50));
    }
    loop {
        let n = reader.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        received += n as u64;
    }
    assert_eq!(received, SIZE);
    let (rss, peak) = (common::rss_kib(pid), common::peak_rss_kib(pid));
    eprintln!(
        "1 GiB download: RSS {rss} KiB now, {peak_while_slow} KiB while slow, peak {peak} KiB"
    );
    assert!(peak < 50 * 1024, "peak RSS {peak} KiB");
}

#[test]
fn sse_events_and_pings_arrive_and_a_client_leaving_stops_the_producer() {
    let server = common::start_example("streaming", &["--no-access-log"]);
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/streaming/sse_client.py");
    let out = std::process::Command::new("python3")
        .arg(script)
        .arg(server.addr.to_string())
        .output()
        .expect("run python3");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("ok"),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_csv_export_and_token_stream_arrive_piece_by_piece() {
    let server = common::start_example("streaming", &["--no-access-log"]);
    let csv = common::request(server.addr, "GET", "/export.csv?rows=20000", None);
    assert_eq!(csv.status, 200);
    assert_eq!(csv.header("transfer-encoding"), Some("chunked"));
    let text = csv.text();
    assert_eq!(text.lines().count(), 20_001);
    assert!(
        text.starts_with("id,name,price\n1,item 1,"),
        "{}",
        &text[..40]
    );

    // Tokens arrive spread over time, not all at the end.
    let mut stream = TcpStream::connect(server.addr).unwrap();
    write!(
        stream,
        "GET /tokens?delay_ms=100 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let start = Instant::now();
    let mut arrivals = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = stream.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        arrivals.push(start.elapsed());
    }
    assert!(arrivals.len() >= 5, "{arrivals:?}");
    let first_body = arrivals[1];
    let last = *arrivals.last().unwrap();
    assert!(
        last - first_body > Duration::from_millis(500),
        "{arrivals:?}"
    );
}
