//! Lesson 7 — state across workers: "each worker is an independent process,
//! in-memory state is not shared; use external storage" (seed 002), shown.
//!
//! The same hit counter three ways:
//!
//! * `POST /hit/memory`: an atomic in the process's memory. With
//!   `--workers 4`, every worker has its own, and none of them sees them all;
//! * `POST /hit/sqlite`: a row in an SQLite file (embedded, via rusqlite):
//!   shared by every process on one machine; rusqlite blocks, so the
//!   handlers are plain `fn`s (thread pool);
//! * `POST /hit/redis`: a Redis key (`INCR`), shared by every machine that
//!   reaches the server; the async client, so `async fn`.
//!
//! `GET /count/{memory,sqlite,redis}` reads a counter. The SQLite file and
//! the Redis URL come from `COUNTER_SQLITE` (default `counter.sqlite3`) and
//! `COUNTER_REDIS_URL` (default `redis://127.0.0.1:6379/`), because `--flags`
//! belong to brisk's own command line.
//!
//! ```text
//! redis-server --port 6390 --save '' --appendonly no &
//! COUNTER_SQLITE=/tmp/counter.sqlite3 COUNTER_REDIS_URL=redis://127.0.0.1:6390/ \
//!   cargo run --release --example lesson_counter -- --port 8107 --workers 4
//! cargo run --release --example guide_client -- 8107 POST /hit/memory 100 --concurrency 10 --by worker_id --max count
//! cargo run --release --example guide_client -- 8107 POST /hit/sqlite 100 --concurrency 10 --by worker_id --max count
//! cargo run --release --example guide_client -- 8107 POST /hit/redis 100 --concurrency 10 --by worker_id --max count
//! curl http://127.0.0.1:8107/count/sqlite
//! ```

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use brisk::prelude::*;
use redis::AsyncCommands;

fn worker_id() -> u32 {
    std::process::id()
}

// ---- 1. In memory: one counter per process ----------------------------------

/// Lives in this process's memory: every worker process has its own.
#[derive(Default)]
struct MemoryCounter {
    hits: AtomicI64,
}

#[post("/hit/memory")]
async fn hit_memory(counter: State<MemoryCounter>) -> Json<Value> {
    let count = counter.hits.fetch_add(1, Ordering::SeqCst) + 1;
    Json(json!({"count": count, "worker_id": worker_id()}))
}

#[get("/count/memory")]
async fn count_memory(counter: State<MemoryCounter>) -> Json<Value> {
    Json(json!({"count": counter.hits.load(Ordering::SeqCst), "worker_id": worker_id()}))
}

// ---- 2. SQLite: one counter per machine --------------------------------------

/// Where the database file is.
struct SqliteCounter {
    path: String,
}

impl SqliteCounter {
    /// A connection that waits (up to 5 s) instead of failing while another
    /// process holds the write lock.
    fn open(&self) -> rusqlite::Result<rusqlite::Connection> {
        let conn = rusqlite::Connection::open(&self.path)?;
        conn.busy_timeout(Duration::from_secs(5))?;
        Ok(conn)
    }

    /// Creates the table (every process runs this at start; harmless).
    fn create(&self) -> rusqlite::Result<()> {
        let conn = self.open()?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL)",
        )
    }
}

fn db_error(e: rusqlite::Error) -> HttpError {
    HttpError::new(500, format!("sqlite: {e}"))
}

/// rusqlite blocks, so this is a plain `fn`: it runs on the thread pool.
/// One statement increments and reads back, atomically, across processes.
#[post("/hit/sqlite")]
fn hit_sqlite(db: State<SqliteCounter>) -> Result<Json<Value>, HttpError> {
    let count: i64 = db
        .open()
        .and_then(|conn| {
            conn.query_row(
                "INSERT INTO counters (name, value) VALUES ('hits', 1)
                 ON CONFLICT (name) DO UPDATE SET value = value + 1
                 RETURNING value",
                [],
                |row| row.get(0),
            )
        })
        .map_err(db_error)?;
    Ok(Json(json!({"count": count, "worker_id": worker_id()})))
}

#[get("/count/sqlite")]
fn count_sqlite(db: State<SqliteCounter>) -> Result<Json<Value>, HttpError> {
    let count: i64 = db
        .open()
        .and_then(|conn| {
            conn.query_row(
                "SELECT coalesce((SELECT value FROM counters WHERE name = 'hits'), 0)",
                [],
                |row| row.get(0),
            )
        })
        .map_err(db_error)?;
    Ok(Json(json!({"count": count, "worker_id": worker_id()})))
}

// ---- 3. Redis: one counter for every machine ---------------------------------

fn redis_error(e: redis::RedisError) -> HttpError {
    HttpError::new(503, format!("redis: {e}"))
}

/// An async dependency: a connection to Redis for this request.
#[dependency]
async fn redis_conn(
    client: State<redis::Client>,
) -> Result<redis::aio::MultiplexedConnection, HttpError> {
    client
        .get_multiplexed_async_connection()
        .await
        .map_err(redis_error)
}

/// `INCR` is atomic in Redis, whoever sends it.
#[post("/hit/redis")]
async fn hit_redis(conn: Depends<redis_conn>) -> Result<Json<Value>, HttpError> {
    let mut conn = conn.into_inner();
    let count: i64 = conn.incr("hits", 1).await.map_err(redis_error)?;
    Ok(Json(json!({"count": count, "worker_id": worker_id()})))
}

#[get("/count/redis")]
async fn count_redis(conn: Depends<redis_conn>) -> Result<Json<Value>, HttpError> {
    let mut conn = conn.into_inner();
    let count: Option<i64> = conn.get("hits").await.map_err(redis_error)?;
    Ok(Json(
        json!({"count": count.unwrap_or(0), "worker_id": worker_id()}),
    ))
}

fn main() {
    let env = |name: &str, default: &str| std::env::var(name).unwrap_or_else(|_| default.into());
    let sqlite = SqliteCounter {
        path: env("COUNTER_SQLITE", "counter.sqlite3"),
    };
    sqlite.create().expect("create the SQLite table");
    // Opening a client does not connect yet: without Redis, only /hit/redis fails.
    let redis = redis::Client::open(env("COUNTER_REDIS_URL", "redis://127.0.0.1:6379/"))
        .expect("a valid Redis URL");
    App::new()
        .title("counter")
        .state(MemoryCounter::default())
        .state(sqlite)
        .state(redis)
        .routes(routes![
            hit_memory,
            count_memory,
            hit_sqlite,
            count_sqlite,
            hit_redis,
            count_redis
        ])
        .run();
}
