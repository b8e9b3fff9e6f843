//! Errors a handler or the framework turns into HTTP responses.
//!
//! Two shapes exist, both with a `detail` field as FastAPI's do:
//!
//! * [`HttpError`]: `{"detail": <anything>}` with a chosen status and optional
//!   headers (FastAPI's `HTTPException`).
//! * [`ValidationErrors`]: `422 {"detail": [{"type", "loc", "msg", "input", "ctx"?}]}`,
//!   the body pydantic v2 / FastAPI produce for invalid requests
//!   (FastAPI's `RequestValidationError`).
//!
//! And the app-wide answers to them, FastAPI's `@app.exception_handler`: a
//! response made from an error keeps the error (in its extensions), and
//! [`ExceptionHandlers`] registered with
//! [`App::exception_handler`](crate::App::exception_handler) may answer it
//! their own way: [`HttpError`] (also 404/405), [`ValidationErrors`],
//! [`Panic`] (the 500 of a panicking handler) and any type of the
//! application's marked `#[derive(Exception)]`.

use std::any::{Any, TypeId};
use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use serde::Serialize;
use serde_json::Value;

use crate::response::{IntoResponse, Response, json_response};

/// An error that answers the request with `{"detail": ...}` and a status code.
///
/// This is FastAPI's `HTTPException`: return it (or `Err(it)`) from a handler
/// or dependency and the request is answered with it.
///
/// ```
/// use brisk::HttpError;
/// use brisk::response::IntoResponse;
///
/// let err = HttpError::not_found("Item not found");
/// let resp = err.into_response();
/// assert_eq!(resp.status(), 404);
///
/// // Custom status, JSON detail and headers:
/// let err = HttpError::new(401, "Not authenticated").with_header("www-authenticate", "Bearer");
/// assert_eq!(err.status(), 401);
/// ```
#[derive(Debug, Clone)]
pub struct HttpError(Box<HttpErrorInner>);

/// Boxed so that `Result<T, HttpError>` stays small (clippy's
/// `result_large_err` in user code).
#[derive(Debug, Clone)]
struct HttpErrorInner {
    status: StatusCode,
    detail: Value,
    headers: HeaderMap,
}

impl HttpError {
    /// An error with the given status and `detail` (a string or any JSON value).
    ///
    /// Panics if `status` is not a valid HTTP status code (100..=999).
    ///
    /// ```
    /// let err = brisk::HttpError::new(409, serde_json::json!({"reason": "taken"}));
    /// assert_eq!(err.detail()["reason"], "taken");
    /// ```
    pub fn new(status: u16, detail: impl Into<Value>) -> Self {
        HttpError(Box::new(HttpErrorInner {
            status: StatusCode::from_u16(status).expect("HttpError: invalid status code"),
            detail: detail.into(),
            headers: HeaderMap::new(),
        }))
    }

    /// 400 Bad Request.
    ///
    /// ```
    /// assert_eq!(brisk::HttpError::bad_request("no").status(), 400);
    /// ```
    pub fn bad_request(detail: impl Into<Value>) -> Self {
        Self::new(400, detail)
    }

    /// 401 Unauthorized.
    ///
    /// ```
    /// assert_eq!(brisk::HttpError::unauthorized("who?").status(), 401);
    /// ```
    pub fn unauthorized(detail: impl Into<Value>) -> Self {
        Self::new(401, detail)
    }

    /// 403 Forbidden.
    ///
    /// ```
    /// assert_eq!(brisk::HttpError::forbidden("no").status(), 403);
    /// ```
    pub fn forbidden(detail: impl Into<Value>) -> Self {
        Self::new(403, detail)
    }

    /// 404 Not Found.
    ///
    /// ```
    /// assert_eq!(brisk::HttpError::not_found("Item not found").status(), 404);
    /// ```
    pub fn not_found(detail: impl Into<Value>) -> Self {
        Self::new(404, detail)
    }

    /// 500 Internal Server Error with FastAPI's body.
    ///
    /// ```
    /// assert_eq!(brisk::HttpError::internal().status(), 500);
    /// ```
    pub fn internal() -> Self {
        Self::new(500, "Internal Server Error")
    }

    /// Adds a response header (e.g. `WWW-Authenticate` on a 401).
    ///
    /// Panics if the name or value is not a valid header.
    ///
    /// ```
    /// let err = brisk::HttpError::unauthorized("x").with_header("www-authenticate", "Bearer");
    /// assert_eq!(err.headers()["www-authenticate"], "Bearer");
    /// ```
    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        self.0.headers.append(
            HeaderName::try_from(name).expect("HttpError: invalid header name"),
            HeaderValue::try_from(value).expect("HttpError: invalid header value"),
        );
        self
    }

    /// The status code.
    ///
    /// ```
    /// assert_eq!(brisk::HttpError::forbidden("x").status(), 403);
    /// ```
    pub fn status(&self) -> StatusCode {
        self.0.status
    }

    /// The `detail` value.
    ///
    /// ```
    /// assert_eq!(brisk::HttpError::forbidden("x").detail(), "x");
    /// ```
    pub fn detail(&self) -> &Value {
        &self.0.detail
    }

    /// The extra headers.
    ///
    /// ```
    /// assert!(brisk::HttpError::forbidden("x").headers().is_empty());
    /// ```
    pub fn headers(&self) -> &HeaderMap {
        &self.0.headers
    }
}

impl std::fmt::Display for HttpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.0.status, self.0.detail)
    }
}

impl std::error::Error for HttpError {}

impl IntoResponse for HttpError {
    fn into_response(self) -> Response {
        #[derive(Serialize)]
        struct Body<'a> {
            detail: &'a Value,
        }
        let mut resp = json_response(
            self.0.status,
            &Body {
                detail: &self.0.detail,
            },
        );
        resp.headers_mut().extend(self.0.headers.clone());
        Raised::attach(&mut resp, self);
        resp
    }
}

/// One segment of an error location: a field name or a list index.
///
/// ```
/// use brisk::error::LocPart;
/// let loc = vec![LocPart::from("body"), LocPart::from(0usize)];
/// assert_eq!(serde_json::to_string(&loc).unwrap(), r#"["body",0]"#);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum LocPart {
    /// An object key or parameter name.
    Key(Cow<'static, str>),
    /// A list index or a position in the input.
    Index(usize),
}

impl From<&'static str> for LocPart {
    fn from(s: &'static str) -> Self {
        LocPart::Key(Cow::Borrowed(s))
    }
}

impl From<String> for LocPart {
    fn from(s: String) -> Self {
        LocPart::Key(Cow::Owned(s))
    }
}

impl From<usize> for LocPart {
    fn from(i: usize) -> Self {
        LocPart::Index(i)
    }
}

/// One validation error, shaped exactly like a pydantic v2 error in FastAPI's
/// 422 body: `{"type", "loc", "msg", "input", "ctx"?}`.
///
/// ```
/// use brisk::error::ErrorItem;
/// let e = ErrorItem::missing(vec!["query".into(), "q".into()], serde_json::Value::Null);
/// assert_eq!(e.kind, "missing");
/// assert_eq!(e.msg, "Field required");
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ErrorItem {
    /// The machine-readable error type (`missing`, `int_parsing`, ...).
    #[serde(rename = "type")]
    pub kind: Cow<'static, str>,
    /// Where the error is: `["query", "limit"]`, `["body", "tags", 0]`.
    pub loc: Vec<LocPart>,
    /// The human-readable message, as pydantic words it.
    pub msg: Cow<'static, str>,
    /// The offending input (`null` when missing).
    pub input: Value,
    /// Extra context, e.g. `{"ge": 1}` for a bound.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ctx: Option<Value>,
}

impl ErrorItem {
    /// A new error item.
    ///
    /// ```
    /// let e = brisk::error::ErrorItem::new("int_parsing", vec!["path".into(), "id".into()],
    ///     "Input should be a valid integer, unable to parse string as an integer", "x".into());
    /// assert_eq!(e.input, "x");
    /// ```
    pub fn new(
        kind: impl Into<Cow<'static, str>>,
        loc: Vec<LocPart>,
        msg: impl Into<Cow<'static, str>>,
        input: Value,
    ) -> Self {
        ErrorItem {
            kind: kind.into(),
            loc,
            msg: msg.into(),
            input,
            ctx: None,
        }
    }

    /// pydantic's `missing` error: "Field required".
    ///
    /// ```
    /// let e = brisk::error::ErrorItem::missing(vec!["header".into(), "x-token".into()], serde_json::Value::Null);
    /// assert_eq!(e.msg, "Field required");
    /// ```
    pub fn missing(loc: Vec<LocPart>, input: Value) -> Self {
        Self::new("missing", loc, "Field required", input)
    }

    /// Attaches a `ctx` object.
    ///
    /// ```
    /// let e = brisk::error::ErrorItem::missing(vec![], serde_json::Value::Null)
    ///     .with_ctx(serde_json::json!({"ge": 1}));
    /// assert_eq!(e.ctx.unwrap()["ge"], 1);
    /// ```
    pub fn with_ctx(mut self, ctx: Value) -> Self {
        self.ctx = Some(ctx);
        self
    }
}

/// All validation errors of one request; answers `422 {"detail": [...]}`.
///
/// ```
/// use brisk::error::{ErrorItem, ValidationErrors};
/// use brisk::response::IntoResponse;
///
/// let errors = ValidationErrors::from(vec![ErrorItem::missing(vec!["query".into(), "q".into()], serde_json::Value::Null)]);
/// assert_eq!(errors.into_response().status(), 422);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ValidationErrors {
    /// The individual errors, in FastAPI's order.
    pub detail: Vec<ErrorItem>,
    /// The request body that was received, if one was read (as JSON when it
    /// parses, else as text): FastAPI's `RequestValidationError.body`, for
    /// exception handlers. Not part of the default 422 answer.
    #[serde(skip)]
    pub body: Option<Value>,
}

impl ValidationErrors {
    /// True when no error was recorded.
    ///
    /// ```
    /// assert!(brisk::error::ValidationErrors::default().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.detail.is_empty()
    }
}

impl From<Vec<ErrorItem>> for ValidationErrors {
    fn from(detail: Vec<ErrorItem>) -> Self {
        ValidationErrors { detail, body: None }
    }
}

impl IntoResponse for ValidationErrors {
    fn into_response(self) -> Response {
        let mut resp = json_response(StatusCode::UNPROCESSABLE_ENTITY, &self);
        Raised::attach(&mut resp, self);
        resp
    }
}

/// A handler (or middleware) panicked: brisk answers FastAPI's plain 500,
/// which an exception handler for `Panic` can replace (FastAPI's
/// `@app.exception_handler(Exception)`).
///
/// ```
/// use brisk::prelude::*;
/// use brisk::error::Panic;
///
/// #[get("/boom")]
/// async fn boom() -> String { panic!("oops") }
///
/// let app = App::new()
///     .routes(routes![boom])
///     .exception_handler(|_req: &http::request::Parts, p: Panic| {
///         JsonResponse::new(&json!({"detail": "Something broke", "why": p.message})).status(500)
///     });
/// let resp = brisk::TestClient::new(app).get("/boom").send();
/// assert_eq!(resp.json::<Value>()["why"], "oops");
/// ```
#[derive(Debug, Clone)]
pub struct Panic {
    /// The panic's message.
    pub message: String,
}

/// The error a response was made from, kept in the response's extensions
/// until an exception handler answers it (or the response goes out as is).
#[derive(Clone)]
pub(crate) struct Raised(Arc<Mutex<Option<RaisedError>>>);

/// An error value and its type, taken by the handler that answers it.
type RaisedError = (TypeId, Box<dyn Any + Send>);

impl Raised {
    /// Keeps `error` with `resp`.
    pub(crate) fn attach<E: Send + 'static>(resp: &mut Response, error: E) {
        resp.extensions_mut()
            .insert(Raised(Arc::new(Mutex::new(Some((
                TypeId::of::<E>(),
                Box::new(error) as Box<dyn Any + Send>,
            ))))));
    }
}

/// Answers an error of an application type marked `#[derive(Exception)]`:
/// a plain 500 carrying the error, for the app's exception handler for that
/// type to answer (FastAPI's custom exception classes). Without a handler,
/// the 500 goes out and the error is logged.
#[doc(hidden)]
pub fn raise<E: Send + 'static>(error: E) -> Response {
    let mut resp = crate::response::internal_server_error();
    resp.extensions_mut()
        .insert(Unhandled(std::any::type_name::<E>()));
    Raised::attach(&mut resp, error);
    resp
}

/// The type name of an exception raised with [`raise`], for the log when no
/// handler answers it.
#[derive(Clone, Copy)]
struct Unhandled(&'static str);

type BoxedHandler =
    Box<dyn Fn(&http::request::Parts, Box<dyn Any + Send>) -> Response + Send + Sync>;

/// The app's exception handlers, by error type.
///
/// ```
/// use brisk::error::{ExceptionHandlers, HttpError};
/// use brisk::response::IntoResponse;
///
/// let mut handlers = ExceptionHandlers::default();
/// handlers.insert(|_req: &http::request::Parts, e: HttpError| {
///     (http::StatusCode::IM_A_TEAPOT, format!("{}", e.detail())).into_response()
/// });
/// assert!(!handlers.is_empty());
/// ```
#[derive(Default)]
pub struct ExceptionHandlers(HashMap<TypeId, BoxedHandler>);

impl std::fmt::Debug for ExceptionHandlers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ExceptionHandlers({} handlers)", self.0.len())
    }
}

impl ExceptionHandlers {
    /// Answers errors of type `E` with `handler` from now on.
    pub fn insert<E, F, R>(&mut self, handler: F)
    where
        E: Send + 'static,
        F: Fn(&http::request::Parts, E) -> R + Send + Sync + 'static,
        R: IntoResponse,
    {
        self.0.insert(
            TypeId::of::<E>(),
            Box::new(move |parts, error| match error.downcast::<E>() {
                Ok(error) => handler(parts, *error).into_response(),
                Err(_) => crate::response::internal_server_error(),
            }),
        );
    }

    /// Whether no handler is registered.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether `resp` was made from a raised error ([`answer`](Self::answer)
    /// has something to look at).
    pub(crate) fn raised(resp: &Response) -> bool {
        resp.extensions().get::<Raised>().is_some()
    }

    /// Whether [`answer`](Self::answer) would hand `resp` to a handler
    /// (which is then given the request's head).
    pub(crate) fn would_handle(&self, resp: &Response) -> bool {
        !self.0.is_empty() && Self::raised(resp)
    }

    /// `resp`, or the registered handler's answer to the error it was made from.
    pub(crate) fn answer(&self, parts: &http::request::Parts, resp: Response) -> Response {
        let Some(raised) = resp.extensions().get::<Raised>() else {
            return resp;
        };
        let unhandled = resp.extensions().get::<Unhandled>().copied();
        if self.0.is_empty() {
            if let Some(Unhandled(name)) = unhandled {
                tracing::error!(
                    exception = name,
                    "no exception handler for this error type; answered 500"
                );
            }
            return resp;
        }
        let Some((type_id, error)) = raised.0.lock().ok().and_then(|mut e| e.take()) else {
            return resp;
        };
        match self.0.get(&type_id) {
            Some(handler) => handler(parts, error),
            None => {
                if let Some(Unhandled(name)) = unhandled {
                    tracing::error!(
                        exception = name,
                        "no exception handler for this error type; answered 500"
                    );
                }
                resp
            }
        }
    }
}

/// FastAPI's 500 for a panic, carrying it for an exception handler.
pub(crate) fn panic_response(message: String) -> Response {
    let mut resp = crate::response::internal_server_error();
    Raised::attach(&mut resp, Panic { message });
    resp
}

/// The text of a panic payload (`panic!("...")` gives a `&str` or `String`).
pub(crate) fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> &str {
    panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("<non-string panic payload>")
}
