//! actix-web peer for the brisk side-by-side benchmark (bench/run).
//! Same six endpoints and JSON bodies as bench/fastapi_app.py.
use std::time::Duration;

use actix_web::{
    App, HttpResponse, HttpServer, error, get, post,
    web::{self, Json},
};
use serde::{Deserialize, Serialize};
use serde_json::json;

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
    Json(Message { message: "Hello World" })
}

/// FastAPI's `def` handler runs in a threadpool; in actix-web the idiomatic
/// equivalent is web::block around the synchronous work.
#[get("/sync")]
async fn sync_root() -> actix_web::Result<Json<Message>> {
    let m = web::block(|| Message { message: "Hello World" }).await?;
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
                port = other["--port=".len()..].parse().expect("--port needs a number");
            }
            other => eprintln!("ignoring unknown argument {other}"),
        }
        i += 1;
    }
    port
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let port = port_from_args();
    eprintln!("actix-bench listening on 127.0.0.1:{port}");
    HttpServer::new(|| {
        App::new()
            .app_data(web::PathConfig::default().error_handler(|e, _| {
                unprocessable(format!("item_id: {e}"))
            }))
            .app_data(web::QueryConfig::default().error_handler(|e, _| {
                unprocessable(format!("query: {e}"))
            }))
            .app_data(web::JsonConfig::default().error_handler(|e, _| {
                unprocessable(format!("body: {e}"))
            }))
            .service(root)
            .service(sync_root)
            .service(read_item)
            .service(create_item)
            .service(delay)
            .service(sleep)
    })
    // Long keep-alive so the `idle` scenario measures held connections, not
    // the default 5 s idle timeout (uvicorn gets --timeout-keep-alive too).
    .keep_alive(Duration::from_secs(300))
    .bind(("127.0.0.1", port))?
    .run()
    .await
}
