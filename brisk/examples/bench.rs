//! The benchmark app: the same endpoints as the peers in `bench/` (axum,
//! actix-web, FastAPI). See `bench/README.md`.
//!
//! ```text
//! cargo run --release --example bench -- --port 8100 --no-access-log
//! ```

use std::time::Duration;

use brisk::prelude::*;

/// `hello`
#[get("/")]
async fn hello() -> Json<Value> {
    Json(json!({"message": "Hello World"}))
}

/// `sync`: the hello endpoint as a plain `fn` (thread pool hop).
#[get("/sync")]
fn hello_sync() -> Json<Value> {
    Json(json!({"message": "Hello World"}))
}

/// `params`: path parameter, validated query string, bounded integer.
#[get("/items/{item_id}")]
async fn read_item(
    item_id: i64,
    #[param(max_length = 50)] q: Option<String>,
    #[param(default = 10, ge = 1, le = 100)] limit: i64,
) -> Json<Value> {
    Json(json!({"item_id": item_id, "q": q, "limit": limit}))
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

fn main() {
    App::new()
        .title("bench")
        .routes(routes![
            hello,
            hello_sync,
            read_item,
            create_item,
            delay,
            sleep
        ])
        .run();
}
