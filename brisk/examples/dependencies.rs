//! Dependencies the FastAPI way: a database session with teardown, the
//! current user from a header, sub-dependencies, one sync and one async.
//!
//! ```text
//! cargo run --release --example dependencies -- --port 8006
//! curl -H 'authorization: Bearer alice' http://127.0.0.1:8006/users/me/items
//! curl http://127.0.0.1:8006/users/me/items            # 401
//! curl http://127.0.0.1:8006/stats                     # sessions opened/closed
//! ```

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use brisk::depends::{Outcome, Teardown};
use brisk::prelude::*;

/// A stand-in database: a few items per owner, and counters to show that
/// every session opened is closed again.
#[derive(Default)]
struct Database {
    opened: AtomicU64,
    closed: AtomicU64,
}

/// One session per request (cached: everything in the request shares it).
#[derive(Clone)]
struct Session {
    id: u64,
    db: Arc<Database>,
}

impl Session {
    fn items_of(&self, owner: &str) -> Vec<Value> {
        (1..=2)
            .map(|i| json!({"id": i, "owner": owner, "title": format!("{owner}'s item {i}"), "session": self.id}))
            .collect()
    }
}

/// Sync dependency (runs on the thread pool, as a sync DB driver would):
/// opens a session and closes it after the response has been sent.
#[dependency]
fn get_db(db: State<Database>) -> Teardown<Session> {
    let id = db.opened.fetch_add(1, Ordering::SeqCst) + 1;
    tracing::info!(session = id, "session opened");
    let session = Session {
        id,
        db: Arc::clone(&db.0),
    };
    let closing = session.clone();
    Teardown::blocking(session, move |outcome: Outcome| {
        closing.db.closed.fetch_add(1, Ordering::SeqCst);
        tracing::info!(
            session = closing.id,
            failed = outcome.is_error(),
            "session closed"
        );
    })
}

#[derive(Clone, Serialize, JsonSchema)]
struct User {
    username: String,
}

/// Async dependency: the current user from `Authorization: Bearer <name>`.
#[dependency]
async fn current_user(authorization: Header<Option<String>>) -> Result<User, HttpError> {
    match authorization
        .0
        .as_deref()
        .and_then(|h| h.strip_prefix("Bearer "))
    {
        Some(name) if !name.is_empty() => Ok(User {
            username: name.to_owned(),
        }),
        _ => {
            Err(HttpError::unauthorized("Not authenticated")
                .with_header("WWW-Authenticate", "Bearer"))
        }
    }
}

/// Sub-dependency: needs both the user and the session.
#[dependency]
async fn my_items(user: Depends<current_user>, db: Depends<get_db>) -> Vec<Value> {
    db.items_of(&user.username)
}

/// Query parameters shared by list endpoints.
#[dependency]
fn pagination(
    #[param(default = 0, ge = 0)] skip: usize,
    #[param(default = 10, ge = 1, le = 100)] limit: usize,
) -> (usize, usize) {
    (skip, limit)
}

/// The current user.
#[get("/users/me")]
async fn read_me(user: Depends<current_user>) -> Json<User> {
    Json(user.into_inner())
}

/// The current user's items, paginated.
#[get("/users/me/items")]
async fn read_my_items(
    items: Depends<my_items>,
    page: Depends<pagination>,
    db: Depends<get_db>,
) -> Json<Value> {
    let (skip, limit) = *page;
    let items: Vec<&Value> = items.iter().skip(skip).take(limit).collect();
    Json(json!({"items": items, "session": db.id}))
}

/// Sessions opened and closed so far.
#[get("/stats")]
async fn stats(db: State<Database>) -> Json<Value> {
    Json(
        json!({"opened": db.opened.load(Ordering::SeqCst), "closed": db.closed.load(Ordering::SeqCst)}),
    )
}

fn main() {
    App::new()
        .title("dependencies")
        .state(Database::default())
        .routes(routes![read_me, read_my_items, stats])
        .run();
}
