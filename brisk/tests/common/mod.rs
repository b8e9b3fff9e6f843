//! Helpers shared by the integration tests: a minimal HTTP/1.1 client over a
//! real TCP socket (one request per connection, `Connection: close`), and a
//! way to start an example binary and learn its port.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A response read off the wire.
#[derive(Debug)]
pub struct RawResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl RawResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Sends one request and reads the whole response (the server closes the
/// connection because of `Connection: close`).
pub fn request(addr: SocketAddr, method: &str, path: &str, body: Option<&str>) -> RawResponse {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let body = body.unwrap_or("");
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(body.as_bytes()).unwrap();
    read_response(&mut BufReader::new(stream))
}

/// Reads one response from a buffered stream (Content-Length or chunked
/// bodies); an error if the connection fails or closes first.
pub fn try_read_response<R: Read>(reader: &mut BufReader<R>) -> std::io::Result<RawResponse> {
    let bad = |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_owned());
    let mut line = String::new();
    if reader.read_line(&mut line)? == 0 {
        return Err(std::io::ErrorKind::UnexpectedEof.into());
    }
    let status: u16 = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| bad("status line"))?;
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h)? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        let (k, v) = h.split_once(':').ok_or_else(|| bad("header"))?;
        headers.push((k.trim().to_owned(), v.trim().to_owned()));
    }
    let chunked = headers.iter().any(|(k, v)| {
        k.eq_ignore_ascii_case("transfer-encoding") && v.eq_ignore_ascii_case("chunked")
    });
    let body = if chunked {
        read_chunked(reader)?
    } else {
        let len: usize = headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(0);
        let mut body = vec![0; len];
        reader.read_exact(&mut body)?;
        body
    };
    Ok(RawResponse {
        status,
        headers,
        body,
    })
}

/// Reads a `Transfer-Encoding: chunked` body (trailers ignored).
fn read_chunked<R: Read>(reader: &mut BufReader<R>) -> std::io::Result<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let mut size_line = String::new();
        reader.read_line(&mut size_line)?;
        let size = usize::from_str_radix(size_line.trim().split(';').next().unwrap_or(""), 16)
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidData, "chunk size"))?;
        if size == 0 {
            // The empty line (or trailers) after the last chunk.
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line)? == 0 || line.trim().is_empty() {
                    return Ok(body);
                }
            }
        }
        let start = body.len();
        body.resize(start + size, 0);
        reader.read_exact(&mut body[start..])?;
        let mut crlf = [0u8; 2];
        reader.read_exact(&mut crlf)?;
    }
}

/// Reads one response from a buffered stream (Content-Length or chunked bodies).
pub fn read_response<R: Read>(reader: &mut BufReader<R>) -> RawResponse {
    try_read_response(reader).expect("a complete response")
}

/// An example binary running as a child process; killed on drop.
pub struct ExampleProcess {
    pub child: Child,
    pub addr: SocketAddr,
    pub log: std::sync::Arc<std::sync::Mutex<String>>,
}

impl Drop for ExampleProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Path of an example binary (next to the test binary). `cargo test` builds
/// the examples, but a filtered run (`--test examples`) does not, so build
/// them once per test process to never run a stale binary.
pub fn example_path(name: &str) -> std::path::PathBuf {
    static BUILT: std::sync::Once = std::sync::Once::new();
    BUILT.call_once(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let manifest = concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml");
        let status = Command::new(cargo)
            .args([
                "build",
                "--quiet",
                "--examples",
                "--manifest-path",
                manifest,
            ])
            .status()
            .expect("run cargo build --examples");
        assert!(status.success(), "building the examples failed");
    });
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().unwrap().parent().unwrap();
    dir.join("examples").join(name)
}

/// Starts an example on a free port and waits until it says where it listens.
pub fn start_example(name: &str, extra_args: &[&str]) -> ExampleProcess {
    start_example_with(name, extra_args, |_| {})
}

/// Like [`start_example`], with a chance to adjust the command first
/// (environment, resource limits).
pub fn start_example_with(
    name: &str,
    extra_args: &[&str],
    configure: impl FnOnce(&mut Command),
) -> ExampleProcess {
    let path = example_path(name);
    assert!(
        path.exists(),
        "example binary {path:?} not built (run `cargo test`, which builds examples)"
    );
    let mut command = Command::new(&path);
    command
        .args(["--port", "0"])
        .args(extra_args)
        .env_remove("RUST_LOG")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    configure(&mut command);
    let mut child = command.spawn().expect("spawn example");
    let stderr = child.stderr.take().unwrap();
    let log = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let (tx, rx) = std::sync::mpsc::channel();
    let log_writer = log.clone();
    std::thread::spawn(move || {
        let mut sent = false;
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            // Logged before the address is handed over, so that a test
            // sees the announcing line in the log once it has the address.
            {
                let mut l = log_writer.lock().unwrap();
                l.push_str(&line);
                l.push('\n');
            }
            let announced = line
                .split("serving on http://")
                .nth(1)
                .or_else(|| line.split("serving on https://").nth(1));
            if !sent && let Some(rest) = announced {
                let addr: SocketAddr = rest.split_whitespace().next().unwrap().parse().unwrap();
                let _ = tx.send(addr);
                sent = true;
            }
        }
    });
    let addr = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("example did not report its address");
    ExampleProcess { child, addr, log }
}

/// Writes `bytes` on a fresh connection and reads until the server closes
/// it or `limit` passes; returns what was read and whether it was closed.
pub fn raw_exchange(addr: SocketAddr, bytes: &[u8], limit: Duration) -> (Vec<u8>, bool) {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream.write_all(bytes).expect("write");
    read_until_closed(&mut stream, limit)
}

/// Reads from `stream` until EOF, a reset, or `limit`; returns the bytes
/// and whether the connection ended (false: still open at the deadline).
pub fn read_until_closed(stream: &mut TcpStream, limit: Duration) -> (Vec<u8>, bool) {
    let deadline = std::time::Instant::now() + limit;
    let mut out = Vec::new();
    let mut buf = [0u8; 65536];
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() {
            return (out, false);
        }
        stream.set_read_timeout(Some(left)).unwrap();
        match stream.read(&mut buf) {
            Ok(0) => return (out, true),
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return (out, false);
            }
            Err(_) => return (out, true), // reset by the server
        }
    }
}

/// Parses the first response in `bytes` (a Content-Length body).
pub fn parse_response(bytes: &[u8]) -> RawResponse {
    read_response(&mut BufReader::new(bytes))
}

/// One request over HTTP/2 cleartext (prior knowledge) with hyper's client.
pub fn h2_request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> Result<(u16, http::HeaderMap, Vec<u8>), String> {
    use http_body_util::BodyExt;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let stream = tokio::net::TcpStream::connect(addr)
            .await
            .map_err(|e| e.to_string())?;
        let (mut sender, conn) = hyper::client::conn::http2::handshake(
            hyper_util::rt::TokioExecutor::new(),
            hyper_util::rt::TokioIo::new(stream),
        )
        .await
        .map_err(|e| e.to_string())?;
        tokio::spawn(conn);
        let mut req = http::Request::builder()
            .method(method)
            .uri(format!("http://{addr}{path}"));
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let req = req
            .body(http_body_util::Full::new(bytes::Bytes::from(body)))
            .unwrap();
        let resp = tokio::time::timeout(Duration::from_secs(30), sender.send_request(req))
            .await
            .map_err(|_| "timed out".to_string())?
            .map_err(|e| e.to_string())?;
        let (parts, body) = resp.into_parts();
        let body = body.collect().await.map_err(|e| e.to_string())?.to_bytes();
        Ok((parts.status.as_u16(), parts.headers, body.to_vec()))
    })
}

/// The resident memory of process `pid`, in KiB.
pub fn rss_kib(pid: u32) -> u64 {
    proc_status_kib(pid, "VmRSS:")
}

/// The most resident memory process `pid` has had so far, in KiB.
pub fn peak_rss_kib(pid: u32) -> u64 {
    proc_status_kib(pid, "VmHWM:")
}

/// A `kB` field of `/proc/<pid>/status` (0 if unreadable).
fn proc_status_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// Polls `cond` every 20 ms until it holds; panics with `what` after `limit`.
pub fn wait_until(what: &str, limit: Duration, mut cond: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + limit;
    while !cond() {
        assert!(
            std::time::Instant::now() < deadline,
            "{what} within {limit:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// What a [`KeepAliveLoad`] saw.
#[derive(Debug, Default, Clone)]
pub struct LoadReport {
    /// 2xx answers.
    pub ok: u64,
    /// Other answers.
    pub non_2xx: u64,
    /// Connections that failed without having been told to close (what wrk
    /// counts as connect/read/write errors).
    pub socket_errors: u64,
    /// Answers that said `Connection: close` (the client then reconnects).
    pub closes: u64,
}

/// A wrk-like load generator: `connections` keep-alive connections, each
/// sending `GET path` as soon as the previous answer is read, reconnecting
/// when an answer says `Connection: close`.
pub struct KeepAliveLoad {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    threads: Vec<std::thread::JoinHandle<LoadReport>>,
}

impl KeepAliveLoad {
    pub fn start(addr: SocketAddr, connections: usize, path: &str) -> KeepAliveLoad {
        use std::sync::atomic::Ordering;
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n\r\n");
        let threads = (0..connections)
            .map(|_| {
                let stop = stop.clone();
                let request = request.clone();
                std::thread::spawn(move || {
                    let mut report = LoadReport::default();
                    let mut conn: Option<(TcpStream, BufReader<TcpStream>)> = None;
                    while !stop.load(Ordering::Relaxed) {
                        if conn.is_none() {
                            match TcpStream::connect(addr) {
                                Ok(s) => {
                                    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
                                    let reader = BufReader::new(s.try_clone().unwrap());
                                    conn = Some((s, reader));
                                }
                                Err(_) => {
                                    report.socket_errors += 1;
                                    std::thread::sleep(Duration::from_millis(10));
                                    continue;
                                }
                            }
                        }
                        let (writer, reader) = conn.as_mut().unwrap();
                        if writer.write_all(request.as_bytes()).is_err() {
                            report.socket_errors += 1;
                            conn = None;
                            continue;
                        }
                        match try_read_response(reader) {
                            Ok(resp) => {
                                if (200..300).contains(&resp.status) {
                                    report.ok += 1;
                                } else {
                                    report.non_2xx += 1;
                                }
                                if resp
                                    .header("connection")
                                    .is_some_and(|v| v.eq_ignore_ascii_case("close"))
                                {
                                    report.closes += 1;
                                    conn = None;
                                }
                            }
                            Err(_) => {
                                report.socket_errors += 1;
                                conn = None;
                            }
                        }
                    }
                    report
                })
            })
            .collect();
        KeepAliveLoad { stop, threads }
    }

    pub fn finish(self) -> LoadReport {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let mut total = LoadReport::default();
        for t in self.threads {
            let r = t.join().expect("load thread");
            total.ok += r.ok;
            total.non_2xx += r.non_2xx;
            total.socket_errors += r.socket_errors;
            total.closes += r.closes;
        }
        total
    }
}

/// Whether a third-party Python tool is installed. `.ci/run` installs them
/// and sets BRISK_REQUIRE_PY_TOOLS=1, making a missing one a failure;
/// elsewhere the test says it skipped.
pub fn python_tool(module: &str, pip_name: &str) -> bool {
    let check = Command::new("python3")
        .args(["-c", &format!("import {module}")])
        .status();
    if matches!(check, Ok(s) if s.success()) {
        return true;
    }
    assert!(
        std::env::var("BRISK_REQUIRE_PY_TOOLS").is_err(),
        "{pip_name} is required here (pip install {pip_name})"
    );
    eprintln!("SKIPPED: pip install {pip_name} to run this check");
    false
}

/// A fresh directory for one test's files.
pub fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("brisk-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create a temporary directory");
    dir
}

/// A fresh directory for one test's files, removed when dropped.
pub struct TempDir(pub std::path::PathBuf);

impl TempDir {
    pub fn new(name: &str) -> Self {
        TempDir(temp_dir(name))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs `tests/browser/<script>` with node against `addr` (headless
/// Chromium through Playwright) and asserts it printed OK. Without node's
/// modules or chromium it says it skipped, unless BRISK_REQUIRE_BROWSER is
/// set (`.ci/run` sets it and installs them), when it fails.
pub fn run_browser_script(script: &str, addr: SocketAddr) {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser");
    let ready = dir.join("node_modules/playwright-core").exists()
        && std::path::Path::new("/usr/bin/chromium").exists()
        && Command::new("node").arg("--version").output().is_ok();
    if !ready {
        assert!(
            std::env::var("BRISK_REQUIRE_BROWSER").is_err(),
            "the browser tests need node, `npm ci` in brisk/tests/browser and chromium"
        );
        eprintln!("SKIPPED: apt-get install chromium && npm ci --prefix brisk/tests/browser");
        return;
    }
    let out = Command::new("node")
        .arg(dir.join(script))
        .arg(format!("http://{addr}"))
        .output()
        .expect("run node");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("OK"),
        "{script} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Every difference between two JSON values, one line each with its path
/// (`/paths/~1items~1/get/summary: expected "A", got "B"`); numbers are
/// compared as numbers (FastAPI's `1.0` and brisk's `1` are equal).
pub fn json_differences(expected: &serde_json::Value, actual: &serde_json::Value) -> Vec<String> {
    use serde_json::Value;
    fn walk(path: &str, e: &Value, a: &Value, out: &mut Vec<String>) {
        match (e, a) {
            (Value::Object(e), Value::Object(a)) => {
                for (k, ev) in e {
                    let p = format!("{path}/{}", k.replace('~', "~0").replace('/', "~1"));
                    match a.get(k) {
                        Some(av) => walk(&p, ev, av, out),
                        None => out.push(format!("{p}: missing (expected {ev})")),
                    }
                }
                for (k, av) in a {
                    if !e.contains_key(k) {
                        let p = format!("{path}/{}", k.replace('~', "~0").replace('/', "~1"));
                        out.push(format!("{p}: unexpected {av}"));
                    }
                }
            }
            (Value::Array(e), Value::Array(a)) if e.len() == a.len() => {
                for (i, (ev, av)) in e.iter().zip(a).enumerate() {
                    walk(&format!("{path}/{i}"), ev, av, out);
                }
            }
            (Value::Number(e), Value::Number(a)) if e.as_f64() == a.as_f64() => {}
            (e, a) if e == a => {}
            (e, a) => out.push(format!("{path}: expected {e}, got {a}")),
        }
    }
    let mut out = Vec::new();
    walk("", expected, actual, &mut out);
    out
}
