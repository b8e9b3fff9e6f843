//! Everything a handler can return, and how it becomes an HTTP response.
//!
//! The [`IntoResponse`] trait is implemented for [`Json`], [`JsonResponse`]
//! (FastAPI's `JSONResponse(content, status_code, headers)`), plain text
//! (`String`, `&'static str`), [`Html`], [`NoContent`], `()` (an empty body),
//! `(StatusCode, T)`, `Result<T, E>` where both sides are responses, and
//! [`HttpError`](crate::HttpError).

pub mod doc;
mod file;
mod sse;
mod stream;

pub(crate) use file::Deferred;
pub use file::{FileResponse, StaticFiles};
pub use sse::{Event, Sse};
pub use stream::{Chunk, StreamingResponse, iterate_in_threadpool};

use bytes::Bytes;
use http::header::{CONTENT_TYPE, HeaderName, HeaderValue};
use http::{HeaderMap, StatusCode};
use serde::Serialize;

/// The HTTP response type brisk produces.
pub type Response = http::Response<Body>;

pub use crate::body::Body;

/// Marks a response after which the connection should be closed (a body
/// that was refused or timed out): the server adds `Connection: close` on
/// HTTP/1.1.
#[derive(Clone, Copy, Debug)]
pub(crate) struct CloseConnection;

/// Turns a handler's return value into a [`Response`].
///
/// ```
/// use brisk::response::IntoResponse;
/// let resp = "hello".into_response();
/// assert_eq!(resp.headers()["content-type"], "text/plain; charset=utf-8");
/// ```
pub trait IntoResponse {
    /// Builds the response.
    fn into_response(self) -> Response;
}

/// Marks a response whose status the handler chose explicitly, so that the
/// operation's declared default status (`status = 201`) does not replace it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ExplicitStatus;

/// Serialises `value` as a JSON response with `status`.
///
/// A value that cannot be serialised (a map with non-string keys, a failing
/// `Serialize` impl) is a bug in the application: it answers 500 and logs why.
pub(crate) fn json_response<T: Serialize + ?Sized>(status: StatusCode, value: &T) -> Response {
    match to_json_bytes(value) {
        Ok(bytes) => {
            let mut resp = http::Response::new(Body::from(bytes));
            *resp.status_mut() = status;
            resp.headers_mut()
                .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
            resp
        }
        Err(err) => {
            tracing::error!(error = %err, "response could not be serialised to JSON");
            internal_server_error()
        }
    }
}

/// Answers up to this size are serialised into a buffer kept per thread
/// and copied out; larger ones keep the buffer they were written into.
const REUSED_JSON_BUFFER: usize = 16 << 10;

/// `value` as JSON bytes, serialised into a buffer reused per thread and
/// copied into one of exactly the answer's size.
///
/// Why: a fresh growable buffer frozen into `Bytes` is two allocations
/// (the buffer, and the shared header `Bytes` needs when its length is not
/// its capacity), with an atomic reference count written on drop; an
/// exactly-sized copy is one allocation and a plain free. The copy of a
/// small answer costs less than the allocation it saves (callgrind,
/// bench/tools/instructions_per_request.sh).
fn to_json_bytes<T: Serialize + ?Sized>(value: &T) -> serde_json::Result<Bytes> {
    thread_local! {
        static BUFFER: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    BUFFER.with(|buffer| {
        // A `Serialize` implementation that itself answers with JSON would
        // find the buffer taken: it gets a buffer of its own.
        let Ok(mut buf) = buffer.try_borrow_mut() else {
            return serde_json::to_vec(value).map(Bytes::from);
        };
        if buf.capacity() > 4 * REUSED_JSON_BUFFER {
            // Left large by a value that failed (or panicked) half-way.
            *buf = Vec::new();
        }
        buf.clear();
        serde_json::to_writer(&mut *buf, value)?;
        if buf.len() > REUSED_JSON_BUFFER {
            // Large: handed over as it is rather than copied (the next
            // answer starts a new buffer).
            return Ok(Bytes::from(std::mem::take(&mut *buf)));
        }
        Ok(Bytes::copy_from_slice(&buf))
    })
}

/// FastAPI-shaped 413 for a body over the limit; the connection closes after.
pub(crate) fn body_too_large() -> Response {
    let mut resp = json_response(
        StatusCode::PAYLOAD_TOO_LARGE,
        &serde_json::json!({"detail": "Request body too large"}),
    );
    resp.extensions_mut().insert(CloseConnection);
    resp
}

/// FastAPI's plain 500: `{"detail":"Internal Server Error"}`.
pub(crate) fn internal_server_error() -> Response {
    let mut resp = http::Response::new(Body::from(r#"{"detail":"Internal Server Error"}"#));
    *resp.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
    resp.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    resp
}

/// A JSON body: as a response, any `Serialize` value; as a parameter, the
/// request body validated into `T`.
///
/// ```
/// use brisk::prelude::*;
/// use brisk::response::IntoResponse;
///
/// let resp = Json(json!({"message": "Hello World"})).into_response();
/// assert_eq!(resp.status(), 200);
/// assert_eq!(resp.body().as_bytes().unwrap(), br#"{"message":"Hello World"}"#);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Json<T>(pub T);

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        json_response(StatusCode::OK, &self.0)
    }
}

impl<T> std::ops::Deref for Json<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

/// A JSON response with a chosen status and headers: FastAPI's
/// `JSONResponse(content=..., status_code=..., headers=...)`.
///
/// ```
/// use brisk::prelude::*;
/// use brisk::response::{IntoResponse, JsonResponse};
///
/// let resp = JsonResponse::new(&json!({"msg": "change me"}))
///     .status(202)
///     .header("x-server", "brisk")
///     .into_response();
/// assert_eq!(resp.status(), 202);
/// assert_eq!(resp.headers()["x-server"], "brisk");
/// ```
#[derive(Debug)]
pub struct JsonResponse {
    response: Response,
}

impl JsonResponse {
    /// A 200 response whose body is `content` as JSON.
    pub fn new<T: Serialize + ?Sized>(content: &T) -> Self {
        JsonResponse {
            response: json_response(StatusCode::OK, content),
        }
    }

    /// Sets the status code (panics on a code outside 100..=999).
    pub fn status(mut self, status: u16) -> Self {
        *self.response.status_mut() = StatusCode::from_u16(status).expect("invalid status code");
        self.response.extensions_mut().insert(ExplicitStatus);
        self
    }

    /// Adds a header (panics on an invalid name or value).
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.response.headers_mut().append(
            HeaderName::try_from(name).expect("invalid header name"),
            HeaderValue::try_from(value).expect("invalid header value"),
        );
        self
    }

    /// Adds every header of `headers`.
    pub fn headers(mut self, headers: HeaderMap) -> Self {
        self.response.headers_mut().extend(headers);
        self
    }
}

impl IntoResponse for JsonResponse {
    fn into_response(self) -> Response {
        self.response
    }
}

fn text_response(body: Body, content_type: &'static str) -> Response {
    let mut resp = http::Response::new(body);
    resp.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    resp
}

impl IntoResponse for String {
    fn into_response(self) -> Response {
        text_response(self.into(), "text/plain; charset=utf-8")
    }
}

impl IntoResponse for &'static str {
    fn into_response(self) -> Response {
        text_response(self.into(), "text/plain; charset=utf-8")
    }
}

/// An HTML response body.
///
/// ```
/// use brisk::response::{Html, IntoResponse};
/// let resp = Html("<h1>hi</h1>").into_response();
/// assert_eq!(resp.headers()["content-type"], "text/html; charset=utf-8");
/// ```
#[derive(Debug, Clone)]
pub struct Html<T>(pub T);

impl<T: Into<Body>> IntoResponse for Html<T> {
    fn into_response(self) -> Response {
        text_response(self.0.into(), "text/html; charset=utf-8")
    }
}

/// `204 No Content` with an empty body (and, as FastAPI sends it,
/// `content-type: application/json`).
///
/// ```
/// use brisk::response::{IntoResponse, NoContent};
/// assert_eq!(NoContent.into_response().status(), 204);
/// ```
#[derive(Debug, Clone, Copy)]
pub struct NoContent;

impl IntoResponse for NoContent {
    fn into_response(self) -> Response {
        let mut resp = http::Response::new(Body::empty());
        *resp.status_mut() = StatusCode::NO_CONTENT;
        resp.headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        resp.extensions_mut().insert(ExplicitStatus);
        resp
    }
}

/// `()` is JSON `null` with the operation's status, as a FastAPI path
/// operation returning `None` answers (with `status = 204`, no body at all).
///
/// ```
/// use brisk::response::IntoResponse;
/// assert_eq!(().into_response().body().as_bytes(), Some(&b"null"[..]));
/// ```
impl IntoResponse for () {
    fn into_response(self) -> Response {
        json_response(StatusCode::OK, &())
    }
}

/// Any `http::Response` whose body yields `Bytes` (what tower layers give
/// back, e.g. tower-http's compressed bodies); a brisk `Response` as is.
impl<B> IntoResponse for http::Response<B>
where
    B: http_body::Body<Data = bytes::Bytes> + Send + 'static,
    B::Error: Into<crate::body::BoxError>,
{
    fn into_response(self) -> Response {
        self.map(Body::new)
    }
}

/// A redirect: 307 (the method and body are kept) by default, as
/// Starlette's `RedirectResponse`.
///
/// ```
/// use brisk::response::{IntoResponse, RedirectResponse};
///
/// let resp = RedirectResponse::new("/items/").into_response();
/// assert_eq!(resp.status(), 307);
/// assert_eq!(resp.headers()["location"], "/items/");
/// assert_eq!(RedirectResponse::new("/").status(301).into_response().status(), 301);
/// ```
#[derive(Debug, Clone)]
pub struct RedirectResponse {
    location: String,
    status: StatusCode,
}

impl RedirectResponse {
    /// A 307 redirect to `location` (a URL or a path).
    pub fn new(location: impl Into<String>) -> Self {
        RedirectResponse {
            location: location.into(),
            status: StatusCode::TEMPORARY_REDIRECT,
        }
    }

    /// Another redirect status: 301, 302, 303 or 308 (panics on others).
    pub fn status(mut self, status: u16) -> Self {
        assert!(
            matches!(status, 301 | 302 | 303 | 307 | 308),
            "a redirect status is 301, 302, 303, 307 or 308"
        );
        self.status = StatusCode::from_u16(status).expect("a redirect status");
        self
    }
}

impl IntoResponse for RedirectResponse {
    fn into_response(self) -> Response {
        let mut resp = http::Response::new(Body::empty());
        *resp.status_mut() = self.status;
        resp.extensions_mut().insert(ExplicitStatus);
        match HeaderValue::try_from(self.location) {
            Ok(location) => {
                resp.headers_mut().insert(http::header::LOCATION, location);
                resp
            }
            Err(_) => {
                tracing::error!("a redirect location is not a valid header value");
                internal_server_error()
            }
        }
    }
}

/// A status code chosen at run time, with any response body.
///
/// ```
/// use brisk::prelude::*;
/// use brisk::response::IntoResponse;
/// let resp = (StatusCode::ACCEPTED, Json(json!({"queued": true}))).into_response();
/// assert_eq!(resp.status(), 202);
/// ```
impl<T: IntoResponse> IntoResponse for (StatusCode, T) {
    fn into_response(self) -> Response {
        let mut resp = self.1.into_response();
        *resp.status_mut() = self.0;
        resp.extensions_mut().insert(ExplicitStatus);
        resp
    }
}

impl<T: IntoResponse, E: IntoResponse> IntoResponse for Result<T, E> {
    fn into_response(self) -> Response {
        match self {
            Ok(v) => v.into_response(),
            Err(e) => e.into_response(),
        }
    }
}

/// Applies an operation's declared status (`status = 201`) to a response the
/// handler did not give an explicit status. A status that allows no body
/// (204, 304, 1xx) drops it, keeping the headers, as FastAPI does.
pub(crate) fn apply_default_status(resp: &mut Response, status: StatusCode) {
    if status != StatusCode::OK
        && resp.status() == StatusCode::OK
        && resp.extensions().get::<ExplicitStatus>().is_none()
    {
        *resp.status_mut() = status;
    }
    let status = resp.status();
    if status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED
        || status.is_informational()
    {
        *resp.body_mut() = Body::empty();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Serialises as JSON, after answering with JSON itself (the per-thread
    /// buffer is then in use).
    struct AnswersWhileSerialised(u32);

    impl Serialize for AnswersWhileSerialised {
        fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            let inner = to_json_bytes(&serde_json::json!({"inner": self.0})).unwrap();
            assert_eq!(&inner[..], br#"{"inner":7}"#);
            serializer.serialize_u32(self.0)
        }
    }

    #[test]
    fn json_bodies_are_right_whatever_their_size_and_after_a_failure() {
        let small = serde_json::json!({"message": "Hello World"});
        assert_eq!(
            &to_json_bytes(&small).unwrap()[..],
            br#"{"message":"Hello World"}"#
        );
        // Larger than the reused buffer: handed over, and the next answer
        // is still right.
        let large = "x".repeat(REUSED_JSON_BUFFER * 2);
        let bytes = to_json_bytes(&large).unwrap();
        assert_eq!(bytes.len(), large.len() + 2);
        assert_eq!(&bytes[..3], b"\"xx");
        assert_eq!(&to_json_bytes(&[1, 2]).unwrap()[..], b"[1,2]");
        // A map with keys JSON cannot have fails half-way; nothing of it
        // is left for the next answer.
        let bad: std::collections::BTreeMap<Vec<u8>, u8> = [(vec![1], 1)].into();
        assert!(to_json_bytes(&(&large, bad)).is_err());
        assert_eq!(
            &to_json_bytes(&small).unwrap()[..],
            br#"{"message":"Hello World"}"#
        );
        // Serialising that answers with JSON meanwhile.
        assert_eq!(
            &to_json_bytes(&[AnswersWhileSerialised(7)]).unwrap()[..],
            b"[7]"
        );
        let resp = json_response(StatusCode::CREATED, &small);
        assert_eq!(resp.status(), 201);
        assert_eq!(resp.headers()[CONTENT_TYPE], "application/json");
    }
}
