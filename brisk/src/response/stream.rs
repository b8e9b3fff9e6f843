//! [`StreamingResponse`]: an answer produced piece by piece (Starlette's
//! `StreamingResponse`), from an async `Stream` (polled on the event loop)
//! or a blocking `Iterator` (each item pulled on the bounded thread pool,
//! as Starlette's `iterate_in_threadpool`).
//!
//! hyper asks for the next piece only when it can write it, so a slow
//! client slows the producer down and memory stays bounded (backpressure);
//! when the client goes away the body is dropped, which cancels the stream
//! (or drops the iterator). Without a declared length the answer is chunked
//! (HTTP/1.1) or plain DATA frames (HTTP/2).

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use http::header::{CONTENT_TYPE, HeaderName, HeaderValue};
use http::{HeaderMap, StatusCode};
use http_body::{Frame, SizeHint};

use super::{Body, ExplicitStatus, IntoResponse, Response};
use crate::body::BoxError;
use crate::exec::ThreadPool;

/// A chunk a stream may yield: bytes or text.
pub trait Chunk: Send + 'static {
    /// The chunk's bytes.
    fn into_bytes(self) -> Bytes;
}

impl Chunk for Bytes {
    fn into_bytes(self) -> Bytes {
        self
    }
}

impl Chunk for Vec<u8> {
    fn into_bytes(self) -> Bytes {
        Bytes::from(self)
    }
}

impl Chunk for String {
    fn into_bytes(self) -> Bytes {
        Bytes::from(self)
    }
}

impl Chunk for &'static str {
    fn into_bytes(self) -> Bytes {
        Bytes::from_static(self.as_bytes())
    }
}

impl Chunk for &'static [u8] {
    fn into_bytes(self) -> Bytes {
        Bytes::from_static(self)
    }
}

/// An answer streamed piece by piece.
///
/// ```
/// use brisk::prelude::*;
/// use brisk::response::StreamingResponse;
///
/// /// A CSV export from a blocking iterator (each row made on the thread pool).
/// #[get("/export.csv")]
/// async fn export() -> StreamingResponse {
///     let rows = (1..=3).map(|i| format!("{i},item {i}\n"));
///     StreamingResponse::from_iter(std::iter::once("id,name\n".to_owned()).chain(rows))
///         .media_type("text/csv")
/// }
///
/// /// Tokens from an async stream.
/// #[get("/tokens")]
/// async fn tokens() -> StreamingResponse {
///     let words = futures_util::stream::iter(["Hello", " ", "world"]);
///     StreamingResponse::new(words).media_type("text/plain")
/// }
///
/// let client = brisk::TestClient::new(App::new().routes(routes![export, tokens]));
/// assert_eq!(client.get("/export.csv").send().text(), "id,name\n1,item 1\n2,item 2\n3,item 3\n");
/// assert_eq!(client.get("/tokens").send().text(), "Hello world");
/// ```
pub struct StreamingResponse {
    body: Body,
    status: Option<StatusCode>,
    headers: HeaderMap,
}

impl StreamingResponse {
    /// Streams the items of an async stream (polled on the event loop).
    pub fn new<S>(stream: S) -> Self
    where
        S: Stream + Send + 'static,
        S::Item: Chunk,
    {
        Self::try_new(stream.map(Ok::<_, std::convert::Infallible>))
    }

    /// Streams the items of an async stream of results; an error ends the
    /// answer early (the client sees it cut short).
    pub fn try_new<S, T, E>(stream: S) -> Self
    where
        S: Stream<Item = Result<T, E>> + Send + 'static,
        T: Chunk,
        E: Into<BoxError>,
    {
        let frames = stream.map(|item| {
            item.map(|c| Frame::data(c.into_bytes()))
                .map_err(Into::into)
        });
        StreamingResponse {
            body: Body::new(http_body_util::StreamBody::new(frames)),
            status: None,
            headers: HeaderMap::new(),
        }
    }

    /// Streams the items of a blocking iterator, each pulled on the app's
    /// bounded thread pool (never on the event loop).
    #[allow(clippy::should_implement_trait)]
    pub fn from_iter<I>(iter: I) -> Self
    where
        I: IntoIterator,
        I::IntoIter: Send + 'static,
        I::Item: Chunk,
    {
        Self::new(iterate_in_threadpool(iter))
    }

    /// Sets the status (default: the operation's, 200).
    pub fn status(mut self, status: u16) -> Self {
        self.status = Some(StatusCode::from_u16(status).expect("invalid status code"));
        self
    }

    /// Sets the media type (`Content-Type`).
    pub fn media_type(self, media_type: &str) -> Self {
        self.header(CONTENT_TYPE.as_str(), media_type)
    }

    /// Adds a header (panics on an invalid name or value).
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.append(
            HeaderName::try_from(name).expect("invalid header name"),
            HeaderValue::try_from(value).expect("invalid header value"),
        );
        self
    }

    /// Declares the total length in bytes: sent as `Content-Length`
    /// instead of chunking.
    pub fn content_length(self, bytes: u64) -> Self {
        let StreamingResponse {
            body,
            status,
            mut headers,
        } = self;
        // Also as a header, for whatever reads the response before hyper
        // (middleware, the TestClient).
        headers.insert(http::header::CONTENT_LENGTH, HeaderValue::from(bytes));
        StreamingResponse {
            body: Body::new(KnownLength {
                body,
                length: bytes,
            }),
            status,
            headers,
        }
    }
}

impl IntoResponse for StreamingResponse {
    fn into_response(self) -> Response {
        let mut resp = http::Response::new(self.body);
        *resp.headers_mut() = self.headers;
        if let Some(status) = self.status {
            *resp.status_mut() = status;
            resp.extensions_mut().insert(ExplicitStatus);
        }
        resp
    }
}

/// A body whose total length is declared up front.
struct KnownLength {
    body: Body,
    length: u64,
}

impl http_body::Body for KnownLength {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.length)
    }
}

/// The items of a blocking iterator as an async stream: each `next()` runs
/// on the app's bounded thread pool (Starlette's `iterate_in_threadpool`).
/// The iterator travels to the pool and back with each item, so dropping
/// the stream (the client left) drops it, there or here.
///
/// ```
/// use futures_util::StreamExt;
/// # #[tokio::main] async fn main() {
/// let squares: Vec<u32> = brisk::response::iterate_in_threadpool((1..4).map(|i| i * i)).collect().await;
/// assert_eq!(squares, [1, 4, 9]);
/// # }
/// ```
pub fn iterate_in_threadpool<I>(iter: I) -> impl Stream<Item = I::Item> + Send + 'static
where
    I: IntoIterator,
    I::IntoIter: Send + 'static,
    I::Item: Send + 'static,
{
    let pool = crate::exec::threadpool::current();
    futures_util::stream::unfold(
        (Some(iter.into_iter()), pool),
        |(iter, pool): (Option<I::IntoIter>, std::sync::Arc<ThreadPool>)| async move {
            let mut iter = iter?;
            let (iter, item) = pool
                .run(move || {
                    let item = iter.next();
                    (iter, item)
                })
                .await;
            let item = item?;
            Some((item, (Some(iter), pool)))
        },
    )
}
