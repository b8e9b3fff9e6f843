//! Lesson 3 — dependencies, sync and async, with teardown (FastAPI's
//! `Depends` and "dependencies with yield").
//!
//! `db_session` stands for a *blocking* database driver, so it is a plain
//! `fn` dependency (brisk runs it on the thread pool); `http_client` stands
//! for an async client, so it is an `async fn` (it runs on the event loop).
//! Both return `Teardown<T>`: the value plus cleanup code that runs after
//! the response has been sent. `current_user` is a sub-dependency that uses
//! the same, per-request cached, session. Every step is written to a journal
//! that `GET /journal` reads (and empties).
//!
//! ```text
//! cargo run --release --example lesson_dependencies -- --port 8103 --event-loop-threads 1
//! curl http://127.0.0.1:8103/orders; curl http://127.0.0.1:8103/journal
//! cargo run --release --example guide_client -- 8103 GET /orders 10
//! ```

use std::sync::Mutex;
use std::time::Duration;

use brisk::depends::{Outcome, Teardown};
use brisk::prelude::*;

/// How long opening a session or a client takes.
const CONNECT: Duration = Duration::from_millis(500);

/// What happened, in order (shared by all requests of this process).
#[derive(Default)]
struct Journal {
    lines: Mutex<Vec<String>>,
}

impl Journal {
    fn note(&self, line: impl Into<String>) {
        self.lines.lock().unwrap().push(line.into());
    }
}

#[derive(Clone)]
struct DbSession;

#[derive(Clone)]
struct HttpClient;

fn how(outcome: &Outcome) -> &'static str {
    if outcome.is_error() {
        "request failed"
    } else {
        "request ok"
    }
}

/// A blocking driver: a plain `fn`, so it runs on the thread pool and its
/// `std::thread::sleep` blocks a pool thread, never the event loop.
#[dependency]
fn db_session(journal: State<Journal>) -> Teardown<DbSession> {
    std::thread::sleep(CONNECT); // the sync driver connecting
    journal.note("db_session: opened (plain fn, on the thread pool)");
    Teardown::blocking(DbSession, move |outcome: Outcome| {
        journal.note(format!(
            "db_session: closed after the response ({})",
            how(&outcome)
        ));
    })
}

/// An async client: an `async fn`, so it runs on the event loop and its
/// wait hands the loop back to other requests.
#[dependency]
async fn http_client(journal: State<Journal>) -> Teardown<HttpClient> {
    tokio::time::sleep(CONNECT).await; // the async client connecting
    journal.note("http_client: opened (async fn, on the event loop)");
    Teardown::new(HttpClient, move |outcome: Outcome| async move {
        journal.note(format!(
            "http_client: closed after the response ({})",
            how(&outcome)
        ));
    })
}

/// A sub-dependency: it needs the session, and gets the same one the
/// handler gets (one per request, cached).
#[dependency]
async fn current_user(_db: Depends<db_session>, journal: State<Journal>) -> String {
    journal.note("current_user: looked up with the request's session");
    "alice".to_owned()
}

/// Needs all three; runs once they are ready.
#[get("/orders")]
async fn orders(
    user: Depends<current_user>,
    _db: Depends<db_session>,
    _http: Depends<http_client>,
    journal: State<Journal>,
) -> Json<Value> {
    journal.note("handler: runs with everything ready, returns the response");
    Json(json!({"user": user.into_inner(), "orders": [1, 2, 3]}))
}

/// The journal so far, one line per step; reading it empties it.
#[get("/journal")]
async fn read_journal(journal: State<Journal>) -> String {
    let lines = std::mem::take(&mut *journal.lines.lock().unwrap());
    lines.join("\n") + "\n"
}

fn main() {
    App::new()
        .title("dependencies")
        .state(Journal::default())
        .routes(routes![orders, read_journal])
        .run();
}
