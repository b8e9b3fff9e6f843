//! Streaming answers: a CSV export generated row by row by a blocking
//! iterator (pulled on the thread pool), a Server-Sent Events clock, and an
//! LLM-style token stream with a delay per token.
//!
//! ```text
//! cargo run --release --example streaming -- --port 8000
//! curl http://127.0.0.1:8000/export.csv?rows=5
//! curl -N http://127.0.0.1:8000/clock            # an event a second, pings between
//! curl -N http://127.0.0.1:8000/tokens?prompt=hi # a token every 50 ms
//! curl http://127.0.0.1:8000/produced            # events produced so far
//! ```
//!
//! The clock counts the events it has produced (`GET /produced`): when a
//! client goes away, its stream is dropped and the count stops.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use brisk::prelude::*;
use brisk::response::{Event, Sse, StreamingResponse};
use futures_util::StreamExt;

/// Events the clock streams have produced, across clients.
#[derive(Default)]
struct Produced(AtomicU64);

/// A CSV export, one row at a time: a plain iterator (it could read a
/// database cursor with blocking calls) pulled on the thread pool, so the
/// event loop never waits for it; a slow client slows the iterator down.
#[get("/export.csv")]
async fn export(#[param(default = 1000, ge = 0, le = 10_000_000)] rows: u64) -> StreamingResponse {
    let header = std::iter::once("id,name,price\n".to_owned());
    let body = (1..=rows).map(|i| format!("{i},item {i},{}.{:02}\n", i % 100, i % 7));
    StreamingResponse::from_iter(header.chain(body))
        .media_type("text/csv")
        .header("content-disposition", "attachment; filename=\"export.csv\"")
}

/// A clock over Server-Sent Events: the time every `interval_ms`, with
/// keep-alive comments between events (`ping_ms`) and the event id a
/// reconnecting browser sends back as `Last-Event-ID`.
#[get("/clock")]
async fn clock(
    #[param(default = 1000, ge = 10)] interval_ms: u64,
    #[param(default = 15_000, ge = 10)] ping_ms: u64,
    last_event_id: Header<Option<u64>>,
    produced: State<Produced>,
) -> Sse {
    let start = last_event_id.0.map_or(0, |id| id + 1);
    let produced = Arc::clone(&produced.0);
    let ticks = tokio_stream_interval(Duration::from_millis(interval_ms));
    let events = ticks.enumerate().map(move |(n, ())| {
        produced.0.fetch_add(1, Ordering::Relaxed);
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        Event::default()
            .event("tick")
            .id((start + n as u64).to_string())
            .json_data(&json!({"unix_ms": now.as_millis() as u64}))
            .expect("a JSON object")
    });
    Sse::new(events).keep_alive(Duration::from_millis(ping_ms))
}

/// An interval as a stream of `()`, first tick after one period.
fn tokio_stream_interval(every: Duration) -> impl futures_util::Stream<Item = ()> + Send {
    futures_util::stream::unfold(
        tokio::time::interval_at(tokio::time::Instant::now() + every, every),
        |mut interval| async move {
            interval.tick().await;
            Some(((), interval))
        },
    )
}

/// How many clock events have been produced so far.
#[get("/produced")]
async fn produced(produced: State<Produced>) -> Json<Value> {
    Json(json!({"events": produced.0.0.load(Ordering::Relaxed)}))
}

/// An LLM-style answer: one token every `delay_ms`, as plain text
/// (`curl -N` shows them arrive), or as SSE with `?sse=true`.
#[get("/tokens")]
async fn tokens(
    #[param(default = "Tell me about brisk".to_owned())] prompt: String,
    #[param(default = 50, le = 5000)] delay_ms: u64,
    #[param(default = false)] sse: bool,
) -> brisk::response::Response {
    let answer = format!(
        "You asked: \"{prompt}\". brisk streams this answer token by token, \
         on the event loop, and stops the moment you hang up."
    );
    let words: Vec<String> = answer.split_inclusive(' ').map(str::to_owned).collect();
    let delay = Duration::from_millis(delay_ms);
    let stream = futures_util::stream::iter(words).then(move |word| async move {
        tokio::time::sleep(delay).await;
        word
    });
    if sse {
        let events = stream
            .map(|word| {
                Event::default()
                    .json_data(&json!({"token": word}))
                    .expect("JSON")
            })
            .chain(futures_util::stream::once(async {
                Event::default().event("done").data("[DONE]")
            }));
        Sse::new(events).into_response()
    } else {
        StreamingResponse::new(stream)
            .media_type("text/plain; charset=utf-8")
            .into_response()
    }
}

fn main() {
    App::new()
        .title("Streaming")
        .state(Produced::default())
        .routes(routes![export, clock, produced, tokens])
        .run();
}
