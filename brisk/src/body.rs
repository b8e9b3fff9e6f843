//! [`Body`]: the one body type of requests and responses, and the errors
//! reading a body can end with.
//!
//! Like axum's body, it is either a complete buffer (what brisk's JSON,
//! text and error responses are: one `write`, a known `Content-Length`) or
//! any boxed [`http_body::Body`] (hyper's incoming body, a stream, a body
//! wrapped by a tower layer). Work that must run once a response has been
//! sent (background tasks, teardown) rides along as a guard dropped with
//! the body.

use std::any::Any;
use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Frame, SizeHint};
use http_body_util::BodyExt;
use http_body_util::combinators::UnsyncBoxBody;

/// The error type of a streamed body: anything that can go wrong below.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A request or response body.
///
/// ```
/// use brisk::body::Body;
///
/// let body = Body::from("hello");
/// assert_eq!(body.as_bytes(), Some(&b"hello"[..]));
/// assert!(Body::empty().as_bytes().unwrap().is_empty());
/// ```
pub struct Body {
    kind: Kind,
    /// Dropped with the body, i.e. once the response has been written (or
    /// the connection is gone): runs background work attached to it.
    guard: Option<Box<dyn Any + Send>>,
}

enum Kind {
    /// A complete buffer, taken by the first poll.
    Full(Option<Bytes>),
    /// Anything else.
    Boxed(UnsyncBoxBody<Bytes, BoxError>),
}

impl Default for Body {
    fn default() -> Self {
        Body::empty()
    }
}

impl fmt::Debug for Body {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            Kind::Full(b) => f
                .debug_struct("Body")
                .field("len", &b.as_ref().map_or(0, Bytes::len))
                .finish_non_exhaustive(),
            Kind::Boxed(_) => f.write_str("Body(stream)"),
        }
    }
}

impl Body {
    /// An empty body.
    ///
    /// ```
    /// assert!(brisk::body::Body::empty().as_bytes().unwrap().is_empty());
    /// ```
    pub fn empty() -> Self {
        Body {
            kind: Kind::Full(None),
            guard: None,
        }
    }

    /// Wraps any body whose chunks are [`Bytes`] (a hyper body, a tower-http
    /// body, a stream body); a `Body` given here is returned unchanged.
    ///
    /// ```
    /// use http_body_util::Full;
    /// let body = brisk::body::Body::new(Full::new(bytes::Bytes::from_static(b"x")));
    /// assert!(body.as_bytes().is_none()); // a boxed body is not a buffer
    /// ```
    pub fn new<B>(body: B) -> Self
    where
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        // A `Body` passed back in (e.g. by a layer that did not change it)
        // keeps its fast path instead of being boxed twice.
        let mut slot = Some(body);
        if let Some(inner) = (&mut slot as &mut dyn Any).downcast_mut::<Option<Body>>() {
            return inner.take().expect("just set");
        }
        let body = slot.expect("not taken");
        Body {
            kind: Kind::Boxed(body.map_err(Into::into).boxed_unsync()),
            guard: None,
        }
    }

    /// The bytes of a complete body; `None` for a streamed one.
    ///
    /// ```
    /// assert_eq!(brisk::body::Body::from(vec![1u8, 2]).as_bytes(), Some(&[1u8, 2][..]));
    /// ```
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match &self.kind {
            Kind::Full(b) => Some(b.as_deref().unwrap_or_default()),
            Kind::Boxed(_) => None,
        }
    }

    /// Reads the whole body into one buffer.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let bytes = brisk::body::Body::from("abc").collect_bytes().await.unwrap();
    /// assert_eq!(bytes, "abc");
    /// # }
    /// ```
    pub async fn collect_bytes(self) -> Result<Bytes, BoxError> {
        match self.kind {
            Kind::Full(b) => Ok(b.unwrap_or_default()),
            Kind::Boxed(b) => Ok(b.collect().await?.to_bytes()),
        }
    }

    /// Attaches a value that is dropped with the body: once the response
    /// has been written, or the client has gone.
    pub(crate) fn attach_guard(&mut self, guard: Box<dyn Any + Send>) {
        match &mut self.guard {
            None => self.guard = Some(guard),
            Some(existing) => {
                // Rare (a response carrying two kinds of after-work): keep both.
                let first = std::mem::replace(existing, Box::new(()));
                *existing = Box::new((first, guard));
            }
        }
    }
}

impl From<Bytes> for Body {
    fn from(b: Bytes) -> Self {
        Body {
            kind: Kind::Full((!b.is_empty()).then_some(b)),
            guard: None,
        }
    }
}

impl From<Vec<u8>> for Body {
    fn from(b: Vec<u8>) -> Self {
        Body::from(Bytes::from(b))
    }
}

impl From<String> for Body {
    fn from(s: String) -> Self {
        Body::from(Bytes::from(s))
    }
}

impl From<&'static str> for Body {
    fn from(s: &'static str) -> Self {
        Body::from(Bytes::from_static(s.as_bytes()))
    }
}

impl From<()> for Body {
    fn from((): ()) -> Self {
        Body::empty()
    }
}

impl From<hyper::body::Incoming> for Body {
    fn from(incoming: hyper::body::Incoming) -> Self {
        Body::new(incoming)
    }
}

impl http_body::Body for Body {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        match &mut self.kind {
            Kind::Full(b) => Poll::Ready(b.take().map(|b| Ok(Frame::data(b)))),
            Kind::Boxed(b) => Pin::new(b).poll_frame(cx),
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.kind {
            Kind::Full(b) => b.is_none(),
            Kind::Boxed(b) => b.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.kind {
            Kind::Full(b) => SizeHint::with_exact(b.as_ref().map_or(0, |b| b.len() as u64)),
            Kind::Boxed(b) => b.size_hint(),
        }
    }
}

/// A request body that stopped arriving: nothing for longer than the idle
/// timeout, or slower than the minimum rate (see `--timeout-body-idle`,
/// `--min-body-rate`). brisk answers 408 and closes the connection.
///
/// ```
/// let e = brisk::body::BodyTimeout::Idle;
/// assert!(e.to_string().contains("request body"));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyTimeout {
    /// No bytes for longer than the idle timeout.
    Idle,
    /// Bytes arriving slower than the minimum rate.
    TooSlow,
}

impl fmt::Display for BodyTimeout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BodyTimeout::Idle => f.write_str("the request body stopped arriving"),
            BodyTimeout::TooSlow => f.write_str("the request body arrived too slowly"),
        }
    }
}

impl std::error::Error for BodyTimeout {}

/// Whether `err` (from reading a body) is, or wraps, a [`BodyTimeout`].
pub(crate) fn is_body_timeout(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut current = Some(err);
    while let Some(e) = current {
        if e.is::<BodyTimeout>() {
            return true;
        }
        current = e.source();
    }
    false
}
