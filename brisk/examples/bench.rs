//! The benchmark app: the same endpoints as the peers in `bench/` (axum,
//! actix-web, FastAPI). See `bench/README.md`.
//!
//! Seven endpoints serve the throughput scenarios; three more the
//! streaming ones: `GET /sse?n=N` (one publisher, every subscriber gets the
//! next N events of a 20 ms ticker), the WebSocket `/ws` (echo) and
//! `POST /upload` (a multipart file, spooled to disk beyond 1 MiB).
//!
//! With `BENCH_MIDDLEWARE=1` in the environment (the `middleware` scenario)
//! the app gets the same tower-http layers, configured the same way, as the
//! axum peer: request id (set, then propagated), TraceLayer, CORS for
//! `http://localhost:3000`, gzip.
//!
//! ```text
//! cargo run --release --example bench -- --port 8100 --no-access-log
//! BENCH_MIDDLEWARE=1 cargo run --release --example bench -- --port 8100 --no-access-log
//! ```

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use brisk::params::UploadFile;
use brisk::prelude::*;
use brisk::response::{Event, Sse};
use futures_util::StreamExt;
use http::{HeaderName, HeaderValue, Method, header};
use tokio::sync::broadcast;
use tower_http::compression::CompressionLayer;
use tower_http::cors::CorsLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

/// The answer of `hello` and `sync`: a typed struct, as in the axum and
/// actix-web peers (a `json!` value would cost a map and two strings more).
#[derive(Serialize, JsonSchema)]
struct Message {
    message: &'static str,
}

/// `hello`
#[get("/")]
async fn hello() -> Json<Message> {
    Json(Message {
        message: "Hello World",
    })
}

/// `sync`: the hello endpoint as a plain `fn` (thread pool hop).
#[get("/sync")]
fn hello_sync() -> Json<Message> {
    Json(Message {
        message: "Hello World",
    })
}

#[derive(Serialize, JsonSchema)]
struct ItemOut {
    item_id: i64,
    q: Option<String>,
    limit: i64,
}

/// `params`: path parameter, validated query string, bounded integer.
#[get("/items/{item_id}")]
async fn read_item(
    item_id: i64,
    #[param(max_length = 50)] q: Option<String>,
    #[param(default = 10, ge = 1, le = 100)] limit: i64,
) -> Json<ItemOut> {
    Json(ItemOut { item_id, q, limit })
}

#[derive(Serialize, Deserialize, JsonSchema)]
struct Item {
    name: String,
    description: Option<String>,
    price: f64,
    tax: Option<f64>,
    tags: Vec<String>,
}

/// `body`: a JSON body validated into a struct and echoed back.
#[post("/items")]
async fn create_item(item: Json<Item>) -> Json<Item> {
    item
}

/// `blocking`: the seeds' pitfall, a blocking sleep in an `async fn`.
#[post("/delay")]
async fn delay() -> Json<Value> {
    std::thread::sleep(Duration::from_secs(1));
    Json(json!({"message": "done"}))
}

/// `fanin`: an async sleep (concurrency capacity).
#[get("/sleep")]
async fn sleep() -> Json<Value> {
    tokio::time::sleep(Duration::from_secs(1)).await;
    Json(json!({"message": "done"}))
}

#[derive(Serialize, JsonSchema)]
struct BigItem {
    id: u32,
    name: String,
    description: &'static str,
    price: f64,
}

#[derive(Serialize, JsonSchema)]
struct Big {
    items: Vec<BigItem>,
}

/// `middleware`: about 5 KB of JSON, big enough to be worth compressing.
#[get("/big")]
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
/// every [`SSE_INTERVAL`] to every open subscription, formatted once.
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
                // No subscriber is not an error: the next one will come.
                let _ = publisher.send(format!(r#"{{"seq":{seq}}}"#).into());
            }
        });
        tx
    })
}

/// `sse`: the next `n` events of the shared publisher, then the end.
#[get("/sse")]
async fn sse(#[param(default = 50, ge = 1, le = 100_000)] n: usize) -> Sse {
    let subscription = sse_hub().subscribe();
    let events = futures_util::stream::unfold(subscription, |mut rx| async move {
        loop {
            match rx.recv().await {
                Ok(payload) => return Some((Event::default().data(&*payload), rx)),
                // A subscriber too slow for the channel skips what it missed.
                Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    })
    .take(n);
    Sse::new(events)
}

/// `ws`: echo every text and binary message.
#[websocket("/ws")]
async fn ws_echo(mut ws: WebSocket) -> Result<(), WebSocketError> {
    ws.accept().await?;
    loop {
        match ws.receive().await? {
            brisk::ws::Message::Text(text) => ws.send_text(text).await?,
            brisk::ws::Message::Binary(bytes) => ws.send_bytes(bytes).await?,
        }
    }
}

/// `upload`: one multipart file, spooled to a temporary file beyond 1 MiB.
#[post("/upload")]
async fn upload(file: UploadFile) -> Json<Value> {
    Json(json!({"filename": file.filename, "size": file.size()}))
}

/// The `middleware` scenario's stack, outermost first: request id (set),
/// trace, request id (propagate), CORS, gzip. The layer added last runs
/// first, as with axum's `Router::layer`.
fn with_middleware(app: App) -> App {
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

fn main() {
    let app = App::new().title("bench").routes(routes![
        hello,
        hello_sync,
        read_item,
        create_item,
        delay,
        sleep,
        big,
        sse,
        ws_echo,
        upload
    ]);
    let middleware = std::env::var_os("BENCH_MIDDLEWARE").is_some_and(|v| v == "1");
    let app = if middleware {
        with_middleware(app)
    } else {
        app
    };
    app.run();
}
