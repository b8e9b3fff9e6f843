//! actix-web peer for the brisk side-by-side benchmark (bench/run).
//! Same seven endpoints and JSON bodies as bench/fastapi_app.py; with
//! `BENCH_MIDDLEWARE=1` in the environment, actix-web's own equivalents of
//! the tower-http stack in brisk/examples/bench.rs (the `middleware`
//! scenario): actix-cors, `middleware::Compress`, and two `from_fn`
//! middlewares for the request id and for TraceLayer's default events.
use std::time::{Duration, Instant};

use actix_cors::Cors;
use actix_web::{
    App, Error, HttpResponse, HttpServer,
    body::MessageBody,
    dev::{ServiceRequest, ServiceResponse},
    error, get,
    http::header::{self, HeaderName, HeaderValue},
    middleware::{Compress, Next, from_fn},
    post,
    web::{self, Json},
};
use serde::{Deserialize, Serialize};
use serde_json::json;
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
