//! [`Sse`]: Server-Sent Events (what sse-starlette's `EventSourceResponse`
//! gives FastAPI): a stream of [`Event`]s written in the `text/event-stream`
//! format, with keep-alive comments while the stream is quiet.
//!
//! The producer follows brisk's execution rule: an async stream is polled
//! on the event loop, a blocking iterator is pulled on the thread pool
//! ([`Sse::from_iter`]); a client that disconnects drops the stream.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use futures_util::{Stream, StreamExt};
use http::HeaderValue;
use http::header::{CACHE_CONTROL, CONTENT_TYPE};
use http_body::{Frame, SizeHint};
use serde::Serialize;
use tokio::time::{Instant, Sleep};

use super::{Body, IntoResponse, Response};
use crate::body::BoxError;

/// One Server-Sent Event: `data` (multi-line text is split into several
/// `data:` lines), and optionally `event`, `id`, `retry`, or a comment.
///
/// ```
/// use brisk::response::Event;
///
/// let e = Event::default().event("tick").id("7").data("line 1\nline 2");
/// assert_eq!(e.to_string(), "event: tick\nid: 7\ndata: line 1\ndata: line 2\n\n");
/// let j = Event::default().json_data(&serde_json::json!({"n": 1})).unwrap();
/// assert_eq!(j.to_string(), "data: {\"n\":1}\n\n");
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Event {
    buffer: String,
    data: Option<String>,
}

impl Event {
    /// Sets the data (each line becomes a `data:` line).
    pub fn data(mut self, data: impl AsRef<str>) -> Self {
        self.data = Some(data.as_ref().to_owned());
        self
    }

    /// Sets the data to `value` serialised as JSON.
    pub fn json_data<T: Serialize>(mut self, value: &T) -> serde_json::Result<Self> {
        self.data = Some(serde_json::to_string(value)?);
        Ok(self)
    }

    /// Sets the event type (`event:`); the client's `addEventListener(type)`.
    pub fn event(mut self, event: impl AsRef<str>) -> Self {
        self.field("event", event.as_ref());
        self
    }

    /// Sets the event id (`id:`); the browser sends the last one back as
    /// `Last-Event-ID` when it reconnects (read it with
    /// `last_event_id: Header<Option<String>>`).
    pub fn id(mut self, id: impl AsRef<str>) -> Self {
        self.field("id", id.as_ref());
        self
    }

    /// Tells the client how long to wait before reconnecting (`retry:`).
    pub fn retry(mut self, after: Duration) -> Self {
        self.field("retry", &after.as_millis().to_string());
        self
    }

    /// Adds a comment line (`: text`), ignored by clients.
    pub fn comment(mut self, text: impl AsRef<str>) -> Self {
        for line in text.as_ref().lines() {
            self.buffer.push_str(": ");
            self.buffer.push_str(line);
            self.buffer.push('\n');
        }
        self
    }

    fn field(&mut self, name: &str, value: &str) {
        // A field value cannot hold a line break; only its first line is kept.
        let value = value.lines().next().unwrap_or("");
        self.buffer.push_str(name);
        self.buffer.push_str(": ");
        self.buffer.push_str(value);
        self.buffer.push('\n');
    }
}

impl std::fmt::Display for Event {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.buffer)?;
        if let Some(data) = &self.data {
            if data.is_empty() {
                f.write_str("data: \n")?;
            }
            for line in data.split('\n') {
                if data.is_empty() {
                    break;
                }
                writeln!(f, "data: {}", line.strip_suffix('\r').unwrap_or(line))?;
            }
        }
        f.write_str("\n")
    }
}

/// A Server-Sent Events answer: `text/event-stream`, `Cache-Control:
/// no-cache`, `X-Accel-Buffering: no` (so proxies pass events on at once),
/// and a `: ping` comment whenever the stream has been quiet for the
/// keep-alive interval (15 s by default, as sse-starlette).
///
/// ```
/// use std::time::Duration;
/// use brisk::prelude::*;
/// use brisk::response::{Event, Sse};
///
/// /// Three ticks, one every 10 ms.
/// #[get("/clock")]
/// async fn clock(last_event_id: Header<Option<String>>) -> Sse {
///     let start: u32 = last_event_id.0.and_then(|id| id.parse().ok()).unwrap_or(0);
///     let ticks = futures_util::stream::iter(start + 1..=start + 3).then(|n| async move {
///         tokio::time::sleep(Duration::from_millis(10)).await;
///         Event::default().id(n.to_string()).data(format!("tick {n}"))
///     });
///     Sse::new(ticks).keep_alive(Duration::from_secs(5))
/// }
/// use futures_util::StreamExt;
///
/// let client = brisk::TestClient::new(App::new().routes(routes![clock]));
/// let resp = client.get("/clock").header("last-event-id", "4").send();
/// assert_eq!(resp.header("content-type"), Some("text/event-stream"));
/// assert_eq!(resp.text(), "id: 5\ndata: tick 5\n\nid: 6\ndata: tick 6\n\nid: 7\ndata: tick 7\n\n");
/// ```
pub struct Sse {
    events: Pin<Box<dyn Stream<Item = Result<Event, BoxError>> + Send>>,
    keep_alive: Option<Duration>,
}

impl Sse {
    /// Events from an async stream (polled on the event loop).
    pub fn new<S>(events: S) -> Self
    where
        S: Stream<Item = Event> + Send + 'static,
    {
        Self::try_new(events.map(Ok::<_, std::convert::Infallible>))
    }

    /// Events from an async stream of results; an error ends the stream.
    pub fn try_new<S, E>(events: S) -> Self
    where
        S: Stream<Item = Result<Event, E>> + Send + 'static,
        E: Into<BoxError>,
    {
        Sse {
            events: Box::pin(events.map(|e| e.map_err(Into::into))),
            keep_alive: Some(Duration::from_secs(15)),
        }
    }

    /// Events from a blocking iterator, each pulled on the thread pool.
    #[allow(clippy::should_implement_trait)]
    pub fn from_iter<I>(events: I) -> Self
    where
        I: IntoIterator<Item = Event>,
        I::IntoIter: Send + 'static,
    {
        Self::new(super::stream::iterate_in_threadpool(events))
    }

    /// Sends a `: ping` comment after this long without an event (`None`:
    /// never). Default 15 s.
    pub fn keep_alive(mut self, every: impl Into<Option<Duration>>) -> Self {
        self.keep_alive = every.into();
        self
    }
}

impl IntoResponse for Sse {
    fn into_response(self) -> Response {
        let body = SseBody {
            events: self.events,
            ping: self
                .keep_alive
                .map(|every| (every, Box::pin(tokio::time::sleep(every)))),
        };
        let mut resp = http::Response::new(Body::new(body));
        let headers = resp.headers_mut();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
        resp
    }
}

struct SseBody {
    events: Pin<Box<dyn Stream<Item = Result<Event, BoxError>> + Send>>,
    /// The keep-alive interval and the timer of the next ping.
    ping: Option<(Duration, Pin<Box<Sleep>>)>,
}

impl http_body::Body for SseBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        match this.events.as_mut().poll_next(cx) {
            Poll::Ready(Some(Ok(event))) => {
                if let Some((every, ping)) = this.ping.as_mut() {
                    ping.as_mut().reset(Instant::now() + *every);
                }
                let mut buf = BytesMut::new().writer();
                let _ = std::io::Write::write_fmt(&mut buf, format_args!("{event}"));
                Poll::Ready(Some(Ok(Frame::data(buf.into_inner().freeze()))))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => {
                let Some((every, ping)) = this.ping.as_mut() else {
                    return Poll::Pending;
                };
                if ping.as_mut().poll(cx).is_ready() {
                    ping.as_mut().reset(Instant::now() + *every);
                    return Poll::Ready(Some(Ok(Frame::data(Bytes::from_static(b": ping\n\n")))));
                }
                Poll::Pending
            }
        }
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::default()
    }
}
