//! The operational knobs: worker processes, limits and timeouts, TLS,
//! proxy headers, Prometheus metrics (at `/metrics`) and JSON logs.
//!
//! ```text
//! cargo run --release --example production -- --port 8008 --workers 2 \
//!     --limit-concurrency 100 --timeout-keep-alive 5 --timeout-request 30
//! cargo run --release --example production -- --port 8443 \
//!     --ssl-certfile cert.pem --ssl-keyfile key.pem --log-format json
//! ```
//!
//! Every flag also reads a `BRISK_*` variable; `--help` lists them all.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use brisk::prelude::*;

/// Which process answered.
#[get("/")]
async fn root() -> Json<Value> {
    Json(json!({"message": "Hello World", "worker_id": std::process::id()}))
}

/// The client and scheme as the app sees them: behind a trusted proxy
/// (`--forwarded-allow-ips`), the ones its headers name.
#[get("/whoami")]
async fn whoami(conn: brisk::connection::ConnectionInfo) -> Json<Value> {
    Json(json!({
        "client": conn.client_host(),
        "port": conn.client_port(),
        "scheme": conn.scheme().as_str(),
        "forwarded": conn.is_forwarded(),
        "worker_id": std::process::id(),
    }))
}

/// Awaits `ms` milliseconds (does not block the event loop).
#[get("/slow")]
async fn slow(#[param(default = 100, le = 60_000)] ms: u64) -> Json<Value> {
    tokio::time::sleep(Duration::from_millis(ms)).await;
    Json(json!({"slept_ms": ms, "worker_id": std::process::id()}))
}

/// Blocks its event-loop thread for good (to see the supervisor replace a
/// hung worker).
#[post("/block-forever")]
async fn block_forever() -> Json<Value> {
    loop {
        std::thread::sleep(Duration::from_secs(3600));
    }
}

/// Counts work that a cancelled handler never got to do.
static FINISHED: AtomicU64 = AtomicU64::new(0);

/// Has 500 ms; would take 5 s: answers 504 and is cancelled.
#[get("/too-slow", timeout = "500ms")]
async fn too_slow() -> Json<Value> {
    tokio::time::sleep(Duration::from_secs(5)).await;
    FINISHED.fetch_add(1, Ordering::SeqCst);
    Json(json!({"finished": true}))
}

/// Sleeps 1 s then records that it finished; a client that disconnects
/// before that cancels it.
#[get("/abandon-me")]
async fn abandon_me() -> Json<Value> {
    tokio::time::sleep(Duration::from_secs(1)).await;
    FINISHED.fetch_add(1, Ordering::SeqCst);
    Json(json!({"finished": true}))
}

/// How many of the handlers above ran to the end in this process.
#[get("/finished")]
async fn finished() -> Json<Value> {
    Json(json!({"finished": FINISHED.load(Ordering::SeqCst), "worker_id": std::process::id()}))
}

/// Echoes a JSON body (to see 413 past `--max-body-size`).
#[post("/echo")]
async fn echo(body: Json<Value>) -> Json<Value> {
    body
}

fn main() {
    App::new()
        .title("production")
        .on_startup_blocking(|| {
            // To see what the supervisor does when workers cannot start.
            if std::env::var_os("PRODUCTION_FAIL_STARTUP").is_some() {
                panic!("startup failed: database unreachable");
            }
        })
        .metrics_url("/metrics")
        .routes(routes![
            root,
            whoami,
            slow,
            block_forever,
            too_slow,
            abandon_me,
            finished,
            echo
        ])
        .run();
}
