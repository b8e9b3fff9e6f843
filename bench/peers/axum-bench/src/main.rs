//! axum peer for the brisk side-by-side benchmark (bench/run).
//! Same endpoints and JSON bodies as bench/fastapi_app.py (seven for the
//! throughput scenarios; `/sse`, the WebSocket `/ws` and `/upload` for the
//! streaming ones); with
//! `BENCH_MIDDLEWARE=1` in the environment, the same tower-http stack as
//! brisk/examples/bench.rs (the `middleware` scenario).
use std::convert::Infallible;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::{
    Json, Router,
    extract::{
        DefaultBodyLimit, Multipart, Path, Query, WebSocketUpgrade,
        rejection::{JsonRejection, PathRejection, QueryRejection},
        ws::{self, WebSocket},
    },
    http::{HeaderName, HeaderValue, Method, StatusCode, header},
    response::{
        IntoResponse, Response,
        sse::{Event, Sse},
    },
    routing::{get, post},
};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;
use tokio::sync::broadcast;
use tower_http::{
    compression::CompressionLayer,
    cors::CorsLayer,
    request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer},
    trace::TraceLayer,
};

#[derive(Serialize)]
struct Message {
    message: &'static str,
}

fn unprocessable(detail: impl Into<String>) -> Response {
    (
        StatusCode::UNPROCESSABLE_ENTITY,
        Json(json!({ "detail": detail.into() })),
    )
        .into_response()
}

async fn root() -> Json<Message> {
    Json(Message {
        message: "Hello World",
    })
}

/// FastAPI's `def` handler runs in a threadpool; in axum the idiomatic
/// equivalent is spawn_blocking around the synchronous work.
async fn sync_root() -> Json<Message> {
    let m = tokio::task::spawn_blocking(|| Message {
        message: "Hello World",
    })
    .await
    .expect("blocking task panicked");
    Json(m)
}

#[derive(Deserialize)]
struct ItemQuery {
    q: Option<String>,
    #[serde(default = "default_limit")]
    limit: i64,
}

fn default_limit() -> i64 {
    10
}

#[derive(Serialize)]
struct ItemOut {
    item_id: i64,
    q: Option<String>,
    limit: i64,
}

async fn read_item(
    path: Result<Path<i64>, PathRejection>,
    query: Result<Query<ItemQuery>, QueryRejection>,
) -> Response {
    let Path(item_id) = match path {
        Ok(p) => p,
        Err(e) => return unprocessable(format!("item_id: {e}")),
    };
    let Query(query) = match query {
        Ok(q) => q,
        Err(e) => return unprocessable(format!("query: {e}")),
    };
    if let Some(q) = &query.q {
        if q.chars().count() > 50 {
            return unprocessable("q: String should have at most 50 characters");
        }
    }
    if !(1..=100).contains(&query.limit) {
        return unprocessable("limit: Input should be >= 1 and <= 100");
    }
    Json(ItemOut {
        item_id,
        q: query.q,
        limit: query.limit,
    })
    .into_response()
}

#[derive(Deserialize, Serialize)]
struct Item {
    name: String,
    description: Option<String>,
    price: f64,
    tax: Option<f64>,
    #[serde(default)]
    tags: Vec<String>,
}

async fn create_item(body: Result<Json<Item>, JsonRejection>) -> Response {
    match body {
        Ok(Json(item)) => Json(item).into_response(),
        Err(e) => unprocessable(e.body_text()),
    }
}

/// The pitfall on purpose: a blocking sleep inside an async handler.
async fn delay() -> Json<Value> {
    std::thread::sleep(Duration::from_secs(1));
    Json(json!({ "message": "done" }))
}

async fn sleep() -> Json<Value> {
    tokio::time::sleep(Duration::from_secs(1)).await;
    Json(json!({ "message": "done" }))
}

#[derive(Serialize)]
struct BigItem {
    id: u32,
    name: String,
    description: &'static str,
    price: f64,
}

#[derive(Serialize)]
struct Big {
    items: Vec<BigItem>,
}

/// `middleware`: about 5 KB of JSON, big enough to be worth compressing.
async fn big() -> Json<Big> {
    Json(Big {
        items: (0..64)
            .map(|i| BigItem {
                id: i,
                name: format!("item {i}"),
                description: "a thing that is for sale",
                price: f64::from(i) * 1.25,
            })
            .collect(),
    })
}

/// How often the `sse` scenario's publisher sends an event.
const SSE_INTERVAL: Duration = Duration::from_millis(20);

/// The `sse` publisher: started by the first subscriber, then `{"seq": k}`
/// every 20 ms to every open subscription, formatted once.
fn sse_hub() -> &'static broadcast::Sender<Arc<str>> {
    static HUB: OnceLock<broadcast::Sender<Arc<str>>> = OnceLock::new();
    HUB.get_or_init(|| {
        let (tx, _) = broadcast::channel(256);
        let publisher = tx.clone();
        tokio::spawn(async move {
            let mut ticks =
                tokio::time::interval_at(tokio::time::Instant::now() + SSE_INTERVAL, SSE_INTERVAL);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            for seq in 0u64.. {
                ticks.tick().await;
                let _ = publisher.send(format!(r#"{{"seq":{seq}}}"#).into());
            }
        });
        tx
    })
}

#[derive(Deserialize)]
struct SseQuery {
    #[serde(default = "default_events")]
    n: usize,
}

fn default_events() -> usize {
    50
}

/// `sse`: the next `n` events of the shared publisher, then the end.
async fn sse(Query(query): Query<SseQuery>) -> Response {
    if !(1..=100_000).contains(&query.n) {
        return unprocessable("n: Input should be >= 1 and <= 100000");
    }
    let subscription = sse_hub().subscribe();
    let events = futures_util::stream::unfold(subscription, |mut rx| async move {
        loop {
            match rx.recv().await {
                Ok(payload) => {
                    return Some((Ok::<_, Infallible>(Event::default().data(&*payload)), rx));
                }
                Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    })
    .take(query.n);
    Sse::new(events).into_response()
}

/// `ws`: echo every text and binary message.
async fn ws_echo(upgrade: WebSocketUpgrade) -> Response {
    upgrade.on_upgrade(|mut socket: WebSocket| async move {
        while let Some(Ok(message)) = socket.recv().await {
            let echo = match message {
                ws::Message::Text(_) | ws::Message::Binary(_) => message,
                ws::Message::Close(_) => return,
                _ => continue,
            };
            if socket.send(echo).await.is_err() {
                return;
            }
        }
    })
}

/// `upload`: one multipart file, written to a temporary file as it arrives
/// (what FastAPI's and brisk's `UploadFile` do beyond 1 MiB), then removed.
async fn upload(mut form: Multipart) -> Response {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let bad = |e: axum::extract::multipart::MultipartError| {
        (
            StatusCode::BAD_REQUEST,
            Json(json!({ "detail": e.body_text() })),
        )
            .into_response()
    };
    loop {
        let mut field = match form.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => return unprocessable("file: Field required"),
            Err(e) => return bad(e),
        };
        if field.name() != Some("file") {
            continue;
        }
        let filename = field.file_name().map(str::to_owned);
        let path = std::env::temp_dir().join(format!(
            "axum-bench-upload-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let mut file = tokio::fs::File::create(&path)
            .await
            .expect("temporary file");
        let mut size = 0u64;
        let result = loop {
            match field.chunk().await {
                Ok(Some(chunk)) => {
                    size += chunk.len() as u64;
                    file.write_all(&chunk).await.expect("write temporary file");
                }
                Ok(None) => break Ok(()),
                Err(e) => break Err(e),
            }
        };
        drop(file);
        let _ = tokio::fs::remove_file(&path).await;
        return match result {
            Ok(()) => Json(json!({ "filename": filename, "size": size })).into_response(),
            Err(e) => bad(e),
        };
    }
}

/// The `middleware` scenario's stack, outermost first: request id (set),
/// trace, request id (propagate), CORS, gzip. `Router::layer` wraps what is
/// there already, so the layer added last runs first.
fn with_middleware(app: Router) -> Router {
    let x_request_id = HeaderName::from_static("x-request-id");
    app.layer(CompressionLayer::new())
        .layer(
            CorsLayer::new()
                .allow_origin(HeaderValue::from_static("http://localhost:3000"))
                .allow_methods([Method::GET, Method::POST])
                .allow_headers([header::CONTENT_TYPE, x_request_id.clone()])
                .expose_headers([x_request_id.clone()])
                .max_age(Duration::from_secs(600)),
        )
        .layer(PropagateRequestIdLayer::new(x_request_id.clone()))
        .layer(TraceLayer::new_for_http())
        .layer(SetRequestIdLayer::new(x_request_id, MakeRequestUuid))
}

fn port_from_args() -> u16 {
    let args: Vec<String> = std::env::args().collect();
    let mut port = 8000;
    let mut i = 1;
    while i < args.len() {
        match args[i].as_str() {
            "--port" => {
                port = args
                    .get(i + 1)
                    .and_then(|p| p.parse().ok())
                    .expect("--port needs a number");
                i += 1;
            }
            other if other.starts_with("--port=") => {
                port = other["--port=".len()..]
                    .parse()
                    .expect("--port needs a number");
            }
            other => eprintln!("ignoring unknown argument {other}"),
        }
        i += 1;
    }
    port
}

#[tokio::main]
async fn main() {
    let port = port_from_args();
    let app = Router::new()
        .route("/", get(root))
        .route("/sync", get(sync_root))
        .route("/items/{item_id}", get(read_item))
        .route("/items", post(create_item))
        .route("/delay", post(delay))
        .route("/sleep", get(sleep))
        .route("/big", get(big))
        .route("/sse", get(sse))
        .route("/ws", get(ws_echo))
        // axum's 2 MB default body limit would refuse the `upload` scenario.
        .route("/upload", post(upload).layer(DefaultBodyLimit::disable()));
    let middleware = std::env::var_os("BENCH_MIDDLEWARE").is_some_and(|v| v == "1");
    let app = if middleware {
        with_middleware(app)
    } else {
        app
    };
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .expect("bind");
    eprintln!("axum-bench listening on 127.0.0.1:{port} (middleware stack: {middleware})");
    axum::serve(listener, app).await.expect("serve");
}
