//! actix-web peer for the brisk side-by-side benchmark (bench/run).
//! Same endpoints and JSON bodies as bench/fastapi_app.py (seven for the
//! throughput scenarios; `/sse`, the WebSocket `/ws` and `/upload` for the
//! streaming ones); with
//! `BENCH_MIDDLEWARE=1` in the environment, actix-web's own equivalents of
//! the tower-http stack in brisk/examples/bench.rs (the `middleware`
//! scenario): actix-cors, `middleware::Compress`, and two `from_fn`
//! middlewares for the request id and for TraceLayer's default events.
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use actix_cors::Cors;
use actix_multipart::Multipart;
use actix_web::{
    App, Error, HttpResponse, HttpServer,
    body::MessageBody,
    dev::{ServiceRequest, ServiceResponse},
    error, get,
    http::header::{self, HeaderName, HeaderValue},
    middleware::{Compress, Next, from_fn},
    post,
    web::{self, Bytes, Json},
};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::io::AsyncWriteExt;
use tokio::sync::broadcast;
use tracing::Instrument;

#[derive(Serialize)]
struct Message {
    message: &'static str,
}

fn unprocessable(detail: String) -> actix_web::Error {
    error::InternalError::from_response(
        detail.clone(),
        HttpResponse::UnprocessableEntity().json(json!({ "detail": detail })),
    )
    .into()
}

#[get("/")]
async fn root() -> Json<Message> {
    Json(Message {
        message: "Hello World",
    })
}

/// FastAPI's `def` handler runs in a threadpool; in actix-web the idiomatic
/// equivalent is web::block around the synchronous work.
#[get("/sync")]
async fn sync_root() -> actix_web::Result<Json<Message>> {
    let m = web::block(|| Message {
        message: "Hello World",
    })
    .await?;
    Ok(Json(m))
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

#[get("/items/{item_id}")]
async fn read_item(
    path: web::Path<i64>,
    query: web::Query<ItemQuery>,
) -> actix_web::Result<Json<ItemOut>> {
    let item_id = path.into_inner();
    let query = query.into_inner();
    if let Some(q) = &query.q {
        if q.chars().count() > 50 {
            return Err(unprocessable(
                "q: String should have at most 50 characters".into(),
            ));
        }
    }
    if !(1..=100).contains(&query.limit) {
        return Err(unprocessable(
            "limit: Input should be >= 1 and <= 100".into(),
        ));
    }
    Ok(Json(ItemOut {
        item_id,
        q: query.q,
        limit: query.limit,
    }))
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

#[post("/items")]
async fn create_item(item: Json<Item>) -> Json<Item> {
    item
}

/// The pitfall on purpose: a blocking sleep inside an async handler.
#[post("/delay")]
async fn delay() -> HttpResponse {
    std::thread::sleep(Duration::from_secs(1));
    HttpResponse::Ok().json(json!({ "message": "done" }))
}

#[get("/sleep")]
async fn sleep() -> HttpResponse {
    actix_rt::time::sleep(Duration::from_secs(1)).await;
    HttpResponse::Ok().json(json!({ "message": "done" }))
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
/// every 20 ms to every open subscription (on any worker), formatted once.
fn sse_hub() -> &'static broadcast::Sender<Arc<str>> {
    static HUB: OnceLock<broadcast::Sender<Arc<str>>> = OnceLock::new();
    HUB.get_or_init(|| {
        let (tx, _) = broadcast::channel(256);
        let publisher = tx.clone();
        actix_rt::spawn(async move {
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
/// actix-web has no SSE type: the events are framed by hand, as its users do.
#[get("/sse")]
async fn sse(query: web::Query<SseQuery>) -> actix_web::Result<HttpResponse> {
    let n = query.n;
    if !(1..=100_000).contains(&n) {
        return Err(unprocessable(
            "n: Input should be >= 1 and <= 100000".into(),
        ));
    }
    let subscription = sse_hub().subscribe();
    let events = futures_util::stream::unfold(subscription, |mut rx| async move {
        loop {
            match rx.recv().await {
                Ok(payload) => {
                    let frame = Bytes::from(format!("data: {payload}\n\n"));
                    return Some((Ok::<_, Error>(frame), rx));
                }
                Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    })
    .take(n);
    Ok(HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .insert_header(("x-accel-buffering", "no"))
        .streaming(events))
}

/// `ws`: echo every text and binary message (actix-ws, the maintained
/// WebSocket crate for actix-web).
#[get("/ws")]
async fn ws_echo(
    req: actix_web::HttpRequest,
    body: web::Payload,
) -> actix_web::Result<HttpResponse> {
    let (response, mut session, mut messages) = actix_ws::handle(&req, body)?;
    actix_rt::spawn(async move {
        while let Some(Ok(message)) = messages.next().await {
            let sent = match message {
                actix_ws::Message::Text(text) => session.text(text).await,
                actix_ws::Message::Binary(bytes) => session.binary(bytes).await,
                actix_ws::Message::Ping(bytes) => session.pong(&bytes).await,
                actix_ws::Message::Close(reason) => {
                    let _ = session.close(reason).await;
                    return;
                }
                _ => Ok(()),
            };
            if sent.is_err() {
                return;
            }
        }
    });
    Ok(response)
}

/// `upload`: one multipart file, written to a temporary file as it arrives
/// (what FastAPI's and brisk's `UploadFile` do beyond 1 MiB), then removed.
#[post("/upload")]
async fn upload(mut form: Multipart) -> actix_web::Result<HttpResponse> {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    while let Some(field) = form.next().await {
        let mut field = field?;
        if field.name() != Some("file") {
            continue;
        }
        let filename = field
            .content_disposition()
            .and_then(|d| d.get_filename())
            .map(str::to_owned);
        let path = std::env::temp_dir().join(format!(
            "actix-bench-upload-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let mut file = tokio::fs::File::create(&path).await?;
        let mut size = 0u64;
        let mut result = Ok(());
        while let Some(chunk) = field.next().await {
            match chunk {
                Ok(chunk) => {
                    size += chunk.len() as u64;
                    file.write_all(&chunk).await?;
                }
                Err(e) => {
                    result = Err(e);
                    break;
                }
            }
        }
        drop(file);
        let _ = tokio::fs::remove_file(&path).await;
        result?;
        return Ok(HttpResponse::Ok().json(json!({ "filename": filename, "size": size })));
    }
    Err(unprocessable("file: Field required".into()))
}

const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// tower-http's SetRequestIdLayer (a UUID v4 unless the client sent one)
/// and PropagateRequestIdLayer (copied onto the response), in one.
async fn request_id(
    mut req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let id = match req.headers().get(&X_REQUEST_ID) {
        Some(id) => id.clone(),
        None => {
            let id = HeaderValue::from_str(&uuid::Uuid::new_v4().to_string())
                .expect("a UUID is a valid header value");
            req.headers_mut().insert(X_REQUEST_ID, id.clone());
            id
        }
    };
    let mut res = next.call(req).await?;
    if !res.headers().contains_key(&X_REQUEST_ID) {
        res.headers_mut().insert(X_REQUEST_ID, id);
    }
    Ok(res)
}

/// What `TraceLayer::new_for_http()` does by default: a DEBUG span with the
/// method, URI and version, a DEBUG event when the request starts and one
/// with the latency and status when the response is ready (an ERROR one for
/// a 5xx).
async fn trace(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let span = tracing::debug_span!(
        "request",
        method = %req.method(),
        uri = %req.uri(),
        version = ?req.version(),
    );
    async move {
        let started = Instant::now();
        tracing::debug!("started processing request");
        let res = next.call(req).await;
        let latency = started.elapsed();
        match &res {
            Ok(r) if r.status().is_server_error() => {
                tracing::error!(?latency, status = r.status().as_u16(), "response failed")
            }
            Ok(r) => tracing::debug!(
                ?latency,
                status = r.status().as_u16(),
                "finished processing request"
            ),
            Err(e) => tracing::error!(?latency, error = %e, "response failed"),
        }
        res
    }
    .instrument(span)
    .await
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

/// The app with the seven endpoints (the same for both configurations).
macro_rules! bench_app {
    () => {
        App::new()
            .app_data(
                web::PathConfig::default()
                    .error_handler(|e, _| unprocessable(format!("item_id: {e}"))),
            )
            .app_data(
                web::QueryConfig::default()
                    .error_handler(|e, _| unprocessable(format!("query: {e}"))),
            )
            .app_data(
                web::JsonConfig::default()
                    .error_handler(|e, _| unprocessable(format!("body: {e}"))),
            )
            .service(root)
            .service(sync_root)
            .service(read_item)
            .service(create_item)
            .service(delay)
            .service(sleep)
            .service(big)
            .service(sse)
            .service(ws_echo)
            .service(upload)
    };
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let port = port_from_args();
    let middleware = std::env::var_os("BENCH_MIDDLEWARE").is_some_and(|v| v == "1");
    eprintln!("actix-bench listening on 127.0.0.1:{port} (middleware stack: {middleware})");
    // Long keep-alive so the `idle` scenario measures held connections, not
    // the default 5 s idle timeout (uvicorn gets --timeout-keep-alive too).
    let keep_alive = Duration::from_secs(300);
    if middleware {
        // `wrap` puts the new middleware outside the others: the one
        // registered last runs first (request id, trace, CORS, gzip).
        HttpServer::new(|| {
            bench_app!()
                .wrap(Compress::default())
                .wrap(
                    Cors::default()
                        .allowed_origin("http://localhost:3000")
                        .allowed_methods(["GET", "POST"])
                        .allowed_headers([header::CONTENT_TYPE, X_REQUEST_ID])
                        .expose_headers([X_REQUEST_ID])
                        .max_age(600),
                )
                .wrap(from_fn(trace))
                .wrap(from_fn(request_id))
        })
        .keep_alive(keep_alive)
        .bind(("127.0.0.1", port))?
        .run()
        .await
    } else {
        HttpServer::new(|| bench_app!())
            .keep_alive(keep_alive)
            .bind(("127.0.0.1", port))?
            .run()
            .await
    }
}
