//! Production serving, against the `production` example: HTTPS with a
//! certificate made here (rcgen; RSA by openssl), ALPN, reload on SIGHUP,
//! workers; proxy headers; `--root-path`; Prometheus metrics across
//! workers, read by the Python Prometheus parser; JSON logs.

mod common;

use std::io::{BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use common::{ExampleProcess, TempDir, read_response, start_example, wait_until};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};

/// A certificate for 127.0.0.1 and localhost, written as PEM files.
struct CertFiles {
    cert: std::path::PathBuf,
    key: std::path::PathBuf,
    der: Vec<u8>,
}

fn ecdsa_cert(dir: &std::path::Path, name: &str) -> CertFiles {
    let made = rcgen::generate_simple_self_signed(vec!["127.0.0.1".into(), "localhost".into()])
        .expect("generate a certificate");
    let cert = dir.join(format!("{name}.crt"));
    let key = dir.join(format!("{name}.key"));
    std::fs::write(&cert, made.cert.pem()).unwrap();
    std::fs::write(&key, made.signing_key.serialize_pem()).unwrap();
    CertFiles {
        cert,
        key,
        der: made.cert.der().to_vec(),
    }
}

fn path(p: &std::path::Path) -> &str {
    p.to_str().unwrap()
}

/// Accepts any certificate and remembers the one it was shown.
#[derive(Debug)]
struct Remember {
    seen: Arc<Mutex<Vec<u8>>>,
    provider: Arc<rustls::crypto::CryptoProvider>,
}

impl ServerCertVerifier for Remember {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        *self.seen.lock().unwrap() = end_entity.to_vec();
        Ok(ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// A TLS connection (HTTP/1.1 by ALPN) and the certificate it was shown.
struct TlsConn {
    stream: rustls::StreamOwned<rustls::ClientConnection, TcpStream>,
    cert: Vec<u8>,
}

impl TlsConn {
    fn open(addr: SocketAddr) -> TlsConn {
        Self::open_pausing(addr, Duration::ZERO)
    }

    /// Like `open`, with the client's last handshake flight (its Finished)
    /// held back for `pause`: the server's handshake takes that long.
    fn open_pausing(addr: SocketAddr, pause: Duration) -> TlsConn {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let mut config = rustls::ClientConfig::builder_with_provider(Arc::clone(&provider))
            .with_safe_default_protocol_versions()
            .unwrap()
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(Remember {
                seen: Arc::clone(&seen),
                provider,
            }))
            .with_no_client_auth();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        let conn = rustls::ClientConnection::new(Arc::new(config), "localhost".try_into().unwrap())
            .unwrap();
        let tcp = TcpStream::connect(addr).unwrap();
        tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut stream = rustls::StreamOwned::new(conn, tcp);
        if !pause.is_zero() {
            // ClientHello out, then the server's flight in, until the client
            // has its Finished to send.
            while stream.conn.wants_write() {
                stream.conn.write_tls(&mut stream.sock).unwrap();
            }
            while !stream.conn.wants_write() {
                stream.conn.read_tls(&mut stream.sock).unwrap();
                stream.conn.process_new_packets().unwrap();
            }
            thread::sleep(pause);
        }
        while stream.conn.is_handshaking() {
            stream
                .conn
                .complete_io(&mut stream.sock)
                .expect("TLS handshake");
        }
        let cert = seen.lock().unwrap().clone();
        TlsConn { stream, cert }
    }

    fn get(&mut self, path: &str) -> common::RawResponse {
        write!(
            self.stream,
            "GET {path} HTTP/1.1\r\nhost: localhost\r\n\r\n"
        )
        .unwrap();
        self.stream.flush().unwrap();
        read_response(&mut BufReader::new(&mut self.stream))
    }
}

fn tool(name: &str) -> bool {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {name}")])
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        assert!(
            std::env::var("BRISK_REQUIRE_PY_TOOLS").is_err(),
            "{name} is required here (.ci/run installs it)"
        );
        eprintln!("SKIPPED: install {name} to run this check");
    }
    found
}

fn curl(args: &[&str]) -> String {
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "10"])
        .args(args)
        .output()
        .expect("run curl");
    assert!(
        out.status.success(),
        "curl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn start_tls(cert: &CertFiles, extra: &[&str]) -> ExampleProcess {
    let mut args = vec![
        "--ssl-certfile",
        path(&cert.cert),
        "--ssl-keyfile",
        path(&cert.key),
    ];
    args.extend_from_slice(extra);
    start_example("production", &args)
}

#[test]
fn https_with_alpn_h2_and_a_certificate_reloaded_on_sighup() {
    let dir = TempDir::new("tls-reload");
    let first = ecdsa_cert(&dir.0, "first");
    let server = start_tls(&first, &["--ssl-handshake-timeout", "1"]);
    assert!(server.log.lock().unwrap().contains("serving on https://"));

    // Our own client: the certificate is the one in the files.
    let mut kept = TlsConn::open(server.addr);
    assert_eq!(kept.cert, first.der);
    let resp = kept.get("/whoami");
    assert_eq!(resp.status, 200);
    assert_eq!(resp.json()["scheme"], "https");

    // curl, verifying the certificate; HTTP/2 and HTTP/1.1 by ALPN.
    if tool("curl") {
        let url = format!("https://127.0.0.1:{}/whoami", server.addr.port());
        let body = curl(&["--cacert", path(&first.cert), &url]);
        let json: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(json["scheme"], "https");
        let version = |flag: &str| {
            curl(&[
                flag,
                "--cacert",
                path(&first.cert),
                "-o",
                "/dev/null",
                "-w",
                "%{http_version}",
                &url,
            ])
        };
        assert_eq!(version("--http2"), "2");
        assert_eq!(version("--http1.1"), "1.1");
    }
    if tool("openssl") {
        let out = Command::new("sh")
            .args([
                "-c",
                &format!(
                    "openssl s_client -connect 127.0.0.1:{} -alpn h2,http/1.1 </dev/null 2>&1",
                    server.addr.port()
                ),
            ])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("ALPN protocol: h2"), "{text}");
    }

    // A handshake that never finishes is cut at --ssl-handshake-timeout.
    let mut stalled = TcpStream::connect(server.addr).unwrap();
    stalled.write_all(&[0x16, 0x03, 0x01, 0x02, 0x00]).unwrap(); // a record header, no more
    stalled
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let started = Instant::now();
    let mut buf = [0u8; 64];
    let n = stalled.read(&mut buf).unwrap_or(0);
    assert_eq!(n, 0, "closed without an answer");
    let took = started.elapsed().as_secs_f64();
    assert!((0.8..5.0).contains(&took), "cut after {took:.2} s");

    // New files, SIGHUP: new connections get the new certificate, the open
    // one keeps working.
    let second = ecdsa_cert(&dir.0, "second");
    std::fs::copy(&second.cert, &first.cert).unwrap();
    std::fs::copy(&second.key, &first.key).unwrap();
    unsafe { libc::kill(server.child.id() as i32, libc::SIGHUP) };
    wait_until("the certificate reloaded", Duration::from_secs(10), || {
        server
            .log
            .lock()
            .unwrap()
            .contains("TLS certificate reloaded")
    });
    let fresh = TlsConn::open(server.addr);
    assert_eq!(fresh.cert, second.der);
    let resp = kept.get("/whoami");
    assert_eq!(resp.status, 200, "the connection open before the reload");

    // Files that do not load: the current certificate stays.
    std::fs::write(&first.cert, "not a certificate").unwrap();
    unsafe { libc::kill(server.child.id() as i32, libc::SIGHUP) };
    wait_until("the failed reload logged", Duration::from_secs(10), || {
        server
            .log
            .lock()
            .unwrap()
            .contains("keeping the current certificate")
    });
    assert_eq!(TlsConn::open(server.addr).cert, second.der);
}

#[test]
fn a_slow_tls_handshake_does_not_use_up_the_first_requests_keep_alive() {
    let dir = TempDir::new("tls-slow-handshake");
    let cert = ecdsa_cert(&dir.0, "slow");
    let server = start_tls(
        &cert,
        &["--timeout-keep-alive", "1", "--ssl-handshake-timeout", "5"],
    );
    // A handshake of 0.8 s, then a request 0.5 s later: 1.3 s after the
    // connection was accepted, but within a keep-alive of the handshake.
    let mut conn = TlsConn::open_pausing(server.addr, Duration::from_millis(800));
    thread::sleep(Duration::from_millis(500));
    let resp = conn.get("/whoami");
    assert_eq!(resp.status, 200);
    assert_eq!(resp.json()["scheme"], "https");
}

#[test]
fn rsa_keys_and_bad_files() {
    let dir = TempDir::new("tls-rsa");
    if tool("openssl") {
        let cert = dir.0.join("rsa.crt");
        let key = dir.0.join("rsa.key");
        let status = Command::new("openssl")
            .args([
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            ])
            .args([
                "-subj",
                "/CN=localhost",
                "-addext",
                "subjectAltName=IP:127.0.0.1",
            ])
            .args(["-keyout", path(&key), "-out", path(&cert)])
            .stderr(std::process::Stdio::null())
            .status()
            .unwrap();
        assert!(status.success());
        let server = start_example(
            "production",
            &["--ssl-certfile", path(&cert), "--ssl-keyfile", path(&key)],
        );
        let mut conn = TlsConn::open(server.addr);
        assert_eq!(conn.get("/").status, 200);
    }
    // A missing key file: a clear error and exit code 1, before serving.
    let made = ecdsa_cert(&dir.0, "ok");
    let out = Command::new(common::example_path("production"))
        .args(["--port", "0", "--ssl-certfile", path(&made.cert)])
        .args(["--ssl-keyfile", path(&dir.0.join("missing.key"))])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--ssl-keyfile"), "{stderr}");
}

#[test]
fn proxy_headers_only_from_trusted_addresses() {
    let forwarded = |server: &ExampleProcess, headers: &[(&str, &str)]| {
        let mut stream = TcpStream::connect(server.addr).unwrap();
        let mut req = String::from("GET /whoami HTTP/1.1\r\nhost: x\r\n");
        for (k, v) in headers {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        req.push_str("connection: close\r\n\r\n");
        stream.write_all(req.as_bytes()).unwrap();
        read_response(&mut BufReader::new(stream)).json()
    };
    let xff = [
        ("x-forwarded-for", "203.0.113.9, 127.0.0.1"),
        ("x-forwarded-proto", "https"),
    ];
    // Trusted by default: 127.0.0.1 is our address.
    let trusting = start_example("production", &[]);
    let seen = forwarded(&trusting, &xff);
    assert_eq!(seen["client"], "203.0.113.9");
    assert_eq!(seen["scheme"], "https");
    assert_eq!(seen["forwarded"], true);
    let seen = forwarded(&trusting, &[("forwarded", "for=198.51.100.4;proto=https")]);
    assert_eq!(seen["client"], "198.51.100.4");
    wait_until("the access log", Duration::from_secs(5), || {
        trusting
            .log
            .lock()
            .unwrap()
            .contains("client=203.0.113.9:0")
    });

    // Not trusted: the headers are ignored.
    let wary = start_example("production", &["--forwarded-allow-ips", "10.0.0.0/8"]);
    let seen = forwarded(&wary, &xff);
    assert_eq!(seen["client"], "127.0.0.1");
    assert_eq!(seen["scheme"], "http");
    assert_eq!(seen["forwarded"], false);
    let off = start_example("production", &["--no-proxy-headers"]);
    assert_eq!(forwarded(&off, &xff)["client"], "127.0.0.1");
}

#[test]
fn root_path_and_json_logs() {
    let server = start_example(
        "production",
        &["--root-path", "/api/v1/", "--log-format", "json"],
    );
    let get = |p: &str| common::request(server.addr, "GET", p, None);
    // The proxy may strip the prefix or not.
    assert_eq!(get("/whoami").status, 200);
    assert_eq!(get("/api/v1/whoami").status, 200);
    let doc = get("/openapi.json").json();
    assert_eq!(doc["servers"], serde_json::json!([{"url": "/api/v1"}]));
    let page = get("/docs").text();
    assert!(page.contains("url: '/api/v1/openapi.json'"), "{page}");
    assert!(page.contains("/api/v1/docs/swagger-ui-bundle.js"), "{page}");

    let mut stream = TcpStream::connect(server.addr).unwrap();
    stream
        .write_all(b"GET /whoami?x=1 HTTP/1.1\r\nhost: x\r\nx-request-id: req-42\r\ntraceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\r\nconnection: close\r\n\r\n")
        .unwrap();
    assert_eq!(read_response(&mut BufReader::new(stream)).status, 200);
    let mut access = serde_json::Value::Null;
    wait_until("the access line", Duration::from_secs(5), || {
        let log = server.log.lock().unwrap().clone();
        for line in log.lines() {
            let parsed: serde_json::Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}"));
            if parsed["request_id"] == "req-42" {
                access = parsed;
            }
        }
        !access.is_null()
    });
    assert_eq!(access["target"], "brisk::access");
    assert_eq!(access["level"], "INFO");
    assert_eq!(access["method"], "GET");
    assert_eq!(access["path"], "/whoami?x=1");
    assert_eq!(access["route"], "/whoami");
    assert_eq!(access["status"], 200);
    assert_eq!(access["trace_id"], "4bf92f3577b34da6a3ce929d0e0e4736");
    assert!(access["client"].as_str().unwrap().starts_with("127.0.0.1:"));
    assert!(access["duration_ms"].as_f64().unwrap() >= 0.0);
    assert_eq!(access["pid"], server.child.id());
    assert!(access["timestamp"].as_str().unwrap().starts_with("20"));
}

/// The scrape, parsed by prometheus_client's OpenMetrics parser into
/// `[name, labels, value]` samples.
fn scrape(url: &str, cacert: &std::path::Path) -> Vec<(String, serde_json::Value, f64)> {
    let text = curl(&["--cacert", path(cacert), url]);
    let script = r#"
import json, sys
from prometheus_client.openmetrics.parser import text_string_to_metric_families
out = []
for family in text_string_to_metric_families(sys.stdin.read()):
    for s in family.samples:
        out.append([s.name, s.labels, s.value])
print(json.dumps(out))
"#;
    let mut child = Command::new("python3")
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "the parser rejected:\n{text}");
    let samples: Vec<(String, serde_json::Value, f64)> =
        serde_json::from_slice(&out.stdout).unwrap();
    samples
}

fn sample(
    samples: &[(String, serde_json::Value, f64)],
    name: &str,
    labels: &[(&str, &str)],
) -> f64 {
    samples
        .iter()
        .filter(|(n, l, _)| n == name && labels.iter().all(|(k, v)| l[*k] == *v))
        .map(|(_, _, v)| v)
        .sum()
}

#[test]
fn metrics_across_two_https_workers() {
    if !tool("curl") || !common::python_tool("prometheus_client", "prometheus-client") {
        return;
    }
    let dir = TempDir::new("metrics");
    let cert = ecdsa_cert(&dir.0, "m");
    let server = start_tls(&cert, &["--workers", "2"]);
    let base = format!("https://127.0.0.1:{}", server.addr.port());
    let mut pids = std::collections::HashSet::new();
    wait_until("both workers answer", Duration::from_secs(20), || {
        let body = curl(&["--cacert", path(&cert.cert), &format!("{base}/")]);
        let json: serde_json::Value = serde_json::from_str(&body).unwrap();
        pids.insert(json["worker_id"].as_u64().unwrap());
        pids.len() == 2
    });
    let warmup: f64 = sample(
        &scrape(&format!("{base}/metrics"), &cert.cert),
        "brisk_requests_total",
        &[("route", "/")],
    );
    // Known traffic, on new connections (so both workers take some).
    for i in 0..30 {
        let body = curl(&["--cacert", path(&cert.cert), &format!("{base}/whoami")]);
        assert!(body.contains("https"), "{body}");
        if i % 3 == 0 {
            let out = curl(&[
                "--cacert",
                path(&cert.cert),
                "-o",
                "/dev/null",
                "-w",
                "%{http_code}",
                &format!("{base}/nowhere"),
            ]);
            assert_eq!(out, "404");
        }
    }
    // The other worker's figures are at most a second old.
    std::thread::sleep(Duration::from_millis(2500));
    let samples = scrape(&format!("{base}/metrics"), &cert.cert);
    let get = |name: &str, labels: &[(&str, &str)]| sample(&samples, name, labels);
    assert_eq!(get("brisk_workers", &[]), 2.0);
    assert_eq!(
        get(
            "brisk_requests_total",
            &[("method", "GET"), ("route", "/whoami"), ("status", "200")]
        ),
        30.0
    );
    assert_eq!(
        get(
            "brisk_requests_total",
            &[("route", "none"), ("status", "404")]
        ),
        10.0
    );
    assert!(get("brisk_requests_total", &[("route", "/")]) >= warmup);
    assert_eq!(
        get(
            "brisk_request_duration_seconds_count",
            &[("route", "/whoami")]
        ),
        30.0
    );
    assert_eq!(
        get(
            "brisk_request_duration_seconds_bucket",
            &[("route", "/whoami"), ("le", "+Inf")]
        ),
        30.0
    );
    assert_eq!(get("brisk_threadpool_size", &[]), 80.0, "40 per worker");
    // The scrape itself is being answered (and not counted in the totals).
    assert_eq!(get("brisk_requests_in_flight", &[]), 1.0);
    assert!(
        samples
            .iter()
            .any(|(n, _, _)| n == "brisk_event_loop_lag_seconds")
    );
    assert!(
        samples
            .iter()
            .any(|(n, _, _)| n == "brisk_log_lines_dropped_total")
    );
    assert!(
        samples
            .iter()
            .any(|(n, _, _)| n == "brisk_connections_open")
    );
}
