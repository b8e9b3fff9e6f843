//! A FastAPI tutorial-style API (items and users, path/query/body
//! parameters, dependencies), to browse at `/docs` and `/redoc`.
//!
//! ```text
//! cargo run --release --example tutorial -- --port 8009
//! open http://127.0.0.1:8009/docs
//! ```
//!
//! `brisk/tests/openapi.rs` compares its `/openapi.json` with FastAPI's for
//! the same app (`brisk/tests/fastapi/tutorial_app.py`) and runs
//! schemathesis against it.

use brisk::params::HttpBearer;
use brisk::prelude::*;

/// An item for sale.
#[derive(Serialize, Deserialize, JsonSchema, Clone)]
struct Item {
    name: String,
    description: Option<String>,
    price: f64,
    tax: Option<f64>,
    #[serde(default)]
    tags: Vec<String>,
}

/// A user.
#[derive(Serialize, Deserialize, JsonSchema, Clone)]
struct User {
    username: String,
    full_name: Option<String>,
}

/// Query parameters shared by list endpoints.
#[dependency]
async fn common_parameters(
    q: Option<String>,
    #[param(default = 0)] skip: i64,
    #[param(default = 100)] limit: i64,
) -> Value {
    json!({"q": q, "skip": skip, "limit": limit})
}

/// Rejects requests without the right `X-Token` header.
#[dependency]
async fn verify_token(x_token: Header<String>) -> Result<(), HttpError> {
    if x_token.0 == "fake-super-secret-token" {
        Ok(())
    } else {
        Err(HttpError::bad_request("X-Token header invalid"))
    }
}

/// Lists items, paginated.
#[get("/items/", tags = ["items"])]
async fn read_items(commons: Depends<common_parameters>) -> Json<Value> {
    Json(commons.into_inner())
}

/// Reads one item.
#[get("/items/{item_id}", tags = ["items"])]
async fn read_item(
    #[param(ge = 1, le = 1000)] item_id: i64,
    #[param(min_length = 3, max_length = 50, pattern = "^[a-z]+$")] q: Option<String>,
    #[param(default = 1.0, gt = 0, lt = 10.5)] size: f64,
) -> Json<Value> {
    Json(json!({"item_id": item_id, "q": q, "size": size}))
}

/// Creates an item.
#[post("/items/", tags = ["items"], status = 201)]
async fn create_item(item: Json<Item>) -> Json<Item> {
    item
}

/// The current user (requires the X-Token header).
#[get("/users/me", tags = ["users"], dependencies = [verify_token])]
async fn read_user_me() -> Json<User> {
    Json(User {
        username: "me".into(),
        full_name: None,
    })
}

/// Items for holders of a bearer token (the `HTTPBearer` security scheme).
#[get("/secure/items", tags = ["items"])]
async fn read_secure_items(credentials: HttpBearer) -> Json<Value> {
    Json(json!({"token": credentials.token}))
}

/// Replaces a user (a plain `fn`: runs on the thread pool).
#[put("/users/{username}", tags = ["users"])]
fn update_user(
    username: String,
    user: Json<User>,
    x_request_id: Header<Option<String>>,
) -> Json<User> {
    let _ = (username, x_request_id);
    user
}

fn main() {
    App::new()
        .title("Tutorial")
        .version("1.0.0")
        .routes(routes![
            read_items,
            read_item,
            create_item,
            read_user_me,
            update_user,
            read_secure_items
        ])
        .run();
}
