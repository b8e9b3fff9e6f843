//! WebSockets: `#[websocket("/ws/{room}")]` path operations and the
//! [`WebSocket`] handle they receive (Starlette's `WebSocket`, FastAPI's
//! `@app.websocket`).
//!
//! A WebSocket route is a GET operation like any other: the router finds it,
//! its parameters and dependencies are extracted with the same rules (path,
//! query, header, cookie, `Depends`, `State`). Then:
//!
//! 1. [`handshake`] checks the request is a WebSocket upgrade (a plain GET
//!    gets FastAPI's 404; a wrong `Sec-WebSocket-Version` a 426).
//! 2. A parameter or dependency that fails: [`reject`] accepts and closes
//!    with 1008 (policy violation) and the errors as the reason, which is
//!    what a FastAPI client sees (browsers are never shown a refused
//!    handshake's HTTP status, so a close code is the only way to tell them).
//! 3. [`run`] starts the handler as a task of its own and waits for its
//!    decision: `accept()` answers `101 Switching Protocols` and the
//!    connection becomes a WebSocket (see `connection`); `close()` before
//!    accepting, or returning without accepting, answers 403; a panic
//!    before accepting, 500.
//!
//! The handler owns the connection from then on; when it returns, the
//! server closes with 1000 (1011 after a panic or an error). Request-scoped
//! dependency teardown and background tasks run after that.
//!
//! ```
//! use brisk::prelude::*;
//! use brisk::ws::{WebSocket, WebSocketError};
//!
//! #[websocket("/echo")]
//! async fn echo(mut ws: WebSocket) -> Result<(), WebSocketError> {
//!     ws.accept().await?;
//!     while let Some(text) = ws.next_text().await? {
//!         ws.send_text(format!("echo: {text}")).await?;
//!     }
//!     Ok(())
//! }
//!
//! let client = brisk::TestClient::new(App::new().routes(routes![echo]));
//! let mut ws = client.websocket("/echo").connect().unwrap();
//! ws.send_text("hi");
//! assert_eq!(ws.receive_text().unwrap(), "echo: hi");
//! ```

mod connection;

use std::any::Any;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_util::{FutureExt, Stream};
use http::header::{
    CONNECTION, HeaderName, HeaderValue, SEC_WEBSOCKET_ACCEPT, SEC_WEBSOCKET_KEY,
    SEC_WEBSOCKET_PROTOCOL, SEC_WEBSOCKET_VERSION, UPGRADE,
};
use http::{Method, StatusCode};
use serde::de::DeserializeOwned;
use tokio::sync::{oneshot, watch};

pub(crate) use connection::{CLOSE_TIMEOUT, truncate_reason};
pub use connection::{WebSocketReceiver, WebSocketSender};

use crate::body::Body;
use crate::error::{HttpError, ValidationErrors, panic_message, panic_response};
use crate::exec::scope::Outcome;
use crate::params::{FromRequest, ParamSpec, Rejection, RequestContext, WebSocketSettings};
use crate::response::{IntoResponse, Response};

/// One WebSocket message.
///
/// ```
/// use brisk::ws::Message;
/// assert_eq!(Message::from("hi"), Message::Text("hi".into()));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// A text message (valid UTF-8).
    Text(String),
    /// A binary message.
    Binary(Bytes),
}

impl From<&str> for Message {
    fn from(text: &str) -> Self {
        Message::Text(text.to_owned())
    }
}

impl From<String> for Message {
    fn from(text: String) -> Self {
        Message::Text(text)
    }
}

impl From<Bytes> for Message {
    fn from(bytes: Bytes) -> Self {
        Message::Binary(bytes)
    }
}

impl From<Vec<u8>> for Message {
    fn from(bytes: Vec<u8>) -> Self {
        Message::Binary(bytes.into())
    }
}

/// The connection is closed: by the client (its close code and reason), by
/// the server, or lost (1006). FastAPI's `WebSocketDisconnect`.
///
/// ```
/// let d = brisk::ws::WebSocketDisconnect::new(1001, "going away");
/// assert_eq!(d.to_string(), "WebSocket closed with 1001 (going away)");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebSocketDisconnect {
    /// The close code (RFC 6455 §7.4): 1000 normal, 1001 going away, 1005
    /// none given, 1006 lost without a close frame, ...
    pub code: u16,
    /// The close reason (may be empty).
    pub reason: String,
}

impl WebSocketDisconnect {
    /// A disconnect with `code` and `reason`.
    pub fn new(code: u16, reason: impl Into<String>) -> Self {
        WebSocketDisconnect {
            code,
            reason: reason.into(),
        }
    }
}

impl std::fmt::Display for WebSocketDisconnect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.reason.is_empty() {
            write!(f, "WebSocket closed with {}", self.code)
        } else {
            write!(f, "WebSocket closed with {} ({})", self.code, self.reason)
        }
    }
}

impl std::error::Error for WebSocketDisconnect {}

/// What can go wrong with a WebSocket operation.
///
/// Handlers usually return `Result<(), WebSocketError>` and use `?`: a
/// disconnect then ends the handler normally, and any other error closes
/// the connection with 1011 (internal error) and is logged.
///
/// ```
/// use brisk::ws::{WebSocketDisconnect, WebSocketError};
/// let e = WebSocketError::Disconnect(WebSocketDisconnect::new(1000, ""));
/// assert!(e.is_disconnect());
/// ```
#[derive(Debug)]
pub enum WebSocketError {
    /// The connection is closed (FastAPI's `WebSocketDisconnect`).
    Disconnect(WebSocketDisconnect),
    /// A message that is not what `receive_json` expected: pydantic's
    /// errors, located from the message's root. The connection stays open.
    Invalid(ValidationErrors),
    /// A message of the other kind (`receive_text` got binary, or the
    /// reverse). The connection stays open.
    UnexpectedMessage(Message),
    /// The handle was used out of order (sending before `accept`,
    /// accepting twice).
    State(&'static str),
}

impl WebSocketError {
    /// Whether this is the connection ending (not a bug or a bad message).
    pub fn is_disconnect(&self) -> bool {
        matches!(self, WebSocketError::Disconnect(_))
    }
}

impl std::fmt::Display for WebSocketError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WebSocketError::Disconnect(d) => d.fmt(f),
            WebSocketError::Invalid(errors) => {
                write!(f, "invalid WebSocket message: ")?;
                match serde_json::to_string(&errors.detail) {
                    Ok(text) => f.write_str(&text),
                    Err(_) => f.write_str("(unprintable errors)"),
                }
            }
            WebSocketError::UnexpectedMessage(Message::Text(_)) => {
                f.write_str("expected a binary WebSocket message, got text")
            }
            WebSocketError::UnexpectedMessage(Message::Binary(_)) => {
                f.write_str("expected a text WebSocket message, got binary")
            }
            WebSocketError::State(why) => f.write_str(why),
        }
    }
}

impl std::error::Error for WebSocketError {}

impl From<WebSocketDisconnect> for WebSocketError {
    fn from(d: WebSocketDisconnect) -> Self {
        WebSocketError::Disconnect(d)
    }
}

/// Closes a WebSocket with `code` and `reason` (Starlette's
/// `WebSocketException`): returned as the error of a dependency (or a
/// parameter's check) before the connection is accepted, the client sees
/// the connection accepted and closed with this code; returned by a
/// handler, the connection closes with it.
///
/// ```
/// use brisk::ws::WebSocketException;
/// let e = WebSocketException::new(1008, "token expired");
/// assert_eq!(e.code, 1008);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebSocketException {
    /// The close code.
    pub code: u16,
    /// The close reason (at most 123 bytes are sent).
    pub reason: String,
}

impl WebSocketException {
    /// An exception closing with `code` and `reason`.
    pub fn new(code: u16, reason: impl Into<String>) -> Self {
        WebSocketException {
            code,
            reason: reason.into(),
        }
    }
}

impl std::fmt::Display for WebSocketException {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "WebSocket closed by the app with {} ({})",
            self.code, self.reason
        )
    }
}

impl std::error::Error for WebSocketException {}

/// The close a [`WebSocketException`] asks for, riding on its HTTP answer.
#[derive(Clone)]
struct CloseWith(u16, String);

impl IntoResponse for WebSocketException {
    /// As an HTTP answer (the route was reached without an upgrade): 403
    /// with the reason as the `detail`.
    fn into_response(self) -> Response {
        let mut resp = HttpError::new(403, self.reason.clone()).into_response();
        resp.extensions_mut()
            .insert(CloseWith(self.code, self.reason));
        resp
    }
}

/// The upgraded connection's source: hyper's, or the `TestClient`'s pipe.
enum UpgradeSource {
    Hyper(hyper::upgrade::OnUpgrade),
    Test(tokio::io::DuplexStream),
}

impl UpgradeSource {
    async fn into_io(self) -> Result<Box<dyn connection::Io>, WebSocketError> {
        match self {
            UpgradeSource::Hyper(on_upgrade) => match on_upgrade.await {
                Ok(upgraded) => Ok(Box::new(hyper_util::rt::TokioIo::new(upgraded))),
                Err(err) => {
                    tracing::debug!(error = %err, "WebSocket upgrade failed");
                    Err(WebSocketError::Disconnect(WebSocketDisconnect::new(
                        1006, "",
                    )))
                }
            },
            UpgradeSource::Test(pipe) => Ok(Box::new(pipe)),
        }
    }
}

/// The `TestClient`'s end of an upgrade: the server half of an in-memory
/// pipe, put in the request's extensions (which must be `Clone`).
#[derive(Clone)]
pub(crate) struct TestUpgrade(pub(crate) Arc<Mutex<Option<tokio::io::DuplexStream>>>);

/// What the server adds to a request asking for an upgrade: draining (to
/// close with 1001 on shutdown) and a way to keep the connection counted
/// as busy while the WebSocket is open (so that shutdown waits for it).
#[derive(Clone)]
pub(crate) struct UpgradeHold {
    pub(crate) draining: watch::Receiver<bool>,
    pub(crate) enter: Arc<dyn Fn() -> Box<dyn Any + Send> + Send + Sync>,
}

/// What the handshake leaves in the request context for the `WebSocket`
/// parameter.
struct Handshake {
    key: HeaderValue,
    upgrade: UpgradeSource,
    hold: Option<UpgradeHold>,
    subprotocols: Vec<String>,
}

/// What the `WebSocket` parameter leaves for [`run`]: where the handler's
/// decision arrives, and where to say the handler ended.
struct Waiting {
    key: HeaderValue,
    /// Shared with the `WebSocket`, so that a later parameter's failure
    /// can still answer the handshake with a close.
    upgrade: SharedUpgrade,
    decided: oneshot::Receiver<Decision>,
    done: watch::Sender<Option<u16>>,
}

/// The upgrade, until someone answers the handshake.
type SharedUpgrade = Arc<Mutex<Option<UpgradeSource>>>;

fn take_upgrade(upgrade: &SharedUpgrade) -> Option<UpgradeSource> {
    upgrade.lock().expect("upgrade slot").take()
}

/// The handler's answer to the handshake.
enum Decision {
    Accept {
        subprotocol: Option<String>,
        headers: Vec<(HeaderName, HeaderValue)>,
    },
    Refuse,
    /// The handler panicked before deciding (sent while unwinding).
    Panicked,
}

/// A WebSocket connection, received as a parameter of a
/// `#[websocket("/path")]` operation (Starlette's `WebSocket`).
///
/// Accept it first; then receive and send. It is also a [`Stream`] of
/// messages, and [`split`](WebSocket::split) gives a sender other tasks can
/// use while this one receives.
///
/// ```
/// use brisk::prelude::*;
/// use brisk::ws::{WebSocket, WebSocketError};
/// use serde::Deserialize;
///
/// #[derive(Deserialize, JsonSchema)]
/// struct Move { x: u8, y: u8 }
///
/// #[websocket("/game/{id}")]
/// async fn game(mut ws: WebSocket, id: u32) -> Result<(), WebSocketError> {
///     ws.accept().await?;
///     loop {
///         match ws.receive_json::<Move>().await {
///             Ok(m) => ws.send_json(&json!({"game": id, "x": m.x, "y": m.y})).await?,
///             // A bad message gets an answer; the connection stays open.
///             Err(WebSocketError::Invalid(errors)) => ws.send_json(&errors).await?,
///             Err(other) => return Err(other),
///         }
///     }
/// }
///
/// let client = brisk::TestClient::new(App::new().routes(routes![game]));
/// let mut ws = client.websocket("/game/7").connect().unwrap();
/// ws.send_json(&json!({"x": 1, "y": 2}));
/// assert_eq!(ws.receive_json::<Value>().unwrap(), json!({"game": 7, "x": 1, "y": 2}));
/// ws.send_json(&json!({"x": -1}));
/// let errors: Value = ws.receive_json().unwrap();
/// assert_eq!(errors["detail"][0]["loc"], json!(["x"]));
/// ```
pub struct WebSocket {
    state: State,
    subprotocols: Vec<String>,
}

enum State {
    Pending(Box<Pending>),
    Open {
        sender: WebSocketSender,
        receiver: WebSocketReceiver,
    },
    Closed,
}

struct Pending {
    decide: Option<oneshot::Sender<Decision>>,
    upgrade: SharedUpgrade,
    hold: Option<UpgradeHold>,
    settings: WebSocketSettings,
    handler_done: watch::Receiver<Option<u16>>,
}

impl Pending {
    fn decide(&mut self, decision: Decision) -> bool {
        self.decide
            .take()
            .is_some_and(|tx| tx.send(decision).is_ok())
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        // Dropped without deciding: refused, or a panic on its way.
        let decision = if std::thread::panicking() {
            Decision::Panicked
        } else {
            Decision::Refuse
        };
        self.decide(decision);
    }
}

impl std::fmt::Debug for WebSocket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = match self.state {
            State::Pending(_) => "pending",
            State::Open { .. } => "open",
            State::Closed => "closed",
        };
        f.debug_struct("WebSocket")
            .field("state", &state)
            .finish_non_exhaustive()
    }
}

impl WebSocket {
    /// The subprotocols the client offered (`Sec-WebSocket-Protocol`), in
    /// its order of preference.
    pub fn subprotocols(&self) -> &[String] {
        &self.subprotocols
    }

    /// Accepts the connection (`101 Switching Protocols`).
    pub async fn accept(&mut self) -> Result<(), WebSocketError> {
        self.accept_with(None, &[]).await
    }

    /// Accepts the connection choosing `subprotocol` (one the client
    /// offered) and adding `headers` to the 101 answer.
    ///
    /// ```no_run
    /// # async fn f(mut ws: brisk::ws::WebSocket) -> Result<(), brisk::ws::WebSocketError> {
    /// let chosen = ws.subprotocols().iter().find(|p| *p == "chat.v2").cloned();
    /// ws.accept_with(chosen.as_deref(), &[("x-server", "brisk")]).await?;
    /// # Ok(()) }
    /// ```
    pub async fn accept_with(
        &mut self,
        subprotocol: Option<&str>,
        headers: &[(&str, &str)],
    ) -> Result<(), WebSocketError> {
        let State::Pending(pending) = &mut self.state else {
            return Err(WebSocketError::State(
                "the WebSocket was already accepted or closed",
            ));
        };
        let mut extra = Vec::with_capacity(headers.len());
        for (name, value) in headers {
            let (Ok(name), Ok(value)) =
                (HeaderName::try_from(*name), HeaderValue::try_from(*value))
            else {
                return Err(WebSocketError::State(
                    "an invalid header name or value in accept_with",
                ));
            };
            extra.push((name, value));
        }
        if let Some(protocol) = subprotocol
            && HeaderValue::try_from(protocol).is_err()
        {
            return Err(WebSocketError::State(
                "an invalid subprotocol in accept_with",
            ));
        }
        // Counted as busy before the 101 goes out: the connection's task
        // must not see it idle between the answer and the socket opening.
        let (draining, held) = match pending.hold.take() {
            Some(hold) => (Some(hold.draining), Some((hold.enter)())),
            None => (None, None),
        };
        let accepted = pending.decide(Decision::Accept {
            subprotocol: subprotocol.map(str::to_owned),
            headers: extra,
        });
        let upgrade = take_upgrade(&pending.upgrade);
        let settings = pending.settings;
        let handler_done = pending.handler_done.clone();
        self.state = State::Closed;
        let (true, Some(upgrade)) = (accepted, upgrade) else {
            return Err(WebSocketError::Disconnect(WebSocketDisconnect::new(
                1006, "",
            )));
        };
        let io = upgrade.into_io().await?;
        let (sender, receiver) = connection::open(io, settings, handler_done, draining, held).await;
        self.state = State::Open { sender, receiver };
        Ok(())
    }

    fn open(&mut self) -> Result<(&WebSocketSender, &mut WebSocketReceiver), WebSocketError> {
        match &mut self.state {
            State::Open { sender, receiver } => Ok((sender, receiver)),
            State::Pending(_) => Err(WebSocketError::State(
                "the WebSocket is not accepted yet: call `accept` first",
            )),
            State::Closed => Err(WebSocketError::Disconnect(WebSocketDisconnect::new(
                1006, "",
            ))),
        }
    }

    /// The next message, or the disconnect that ended the connection.
    /// Cancel-safe (usable in `tokio::select!`).
    pub async fn receive(&mut self) -> Result<Message, WebSocketError> {
        self.open()?.1.receive().await
    }

    /// The next message, which must be text.
    pub async fn receive_text(&mut self) -> Result<String, WebSocketError> {
        match self.receive().await? {
            Message::Text(text) => Ok(text),
            other => Err(WebSocketError::UnexpectedMessage(other)),
        }
    }

    /// The next text message, or `None` once the client has closed the
    /// connection: the loop of an echo handler.
    pub async fn next_text(&mut self) -> Result<Option<String>, WebSocketError> {
        match self.receive_text().await {
            Ok(text) => Ok(Some(text)),
            Err(WebSocketError::Disconnect(_)) => Ok(None),
            Err(other) => Err(other),
        }
    }

    /// The next message, which must be binary.
    pub async fn receive_bytes(&mut self) -> Result<Bytes, WebSocketError> {
        match self.receive().await? {
            Message::Binary(bytes) => Ok(bytes),
            other => Err(WebSocketError::UnexpectedMessage(other)),
        }
    }

    /// The next message (text or binary) parsed as JSON and validated as
    /// `T`, with pydantic's errors in [`WebSocketError::Invalid`].
    pub async fn receive_json<T>(&mut self) -> Result<T, WebSocketError>
    where
        T: DeserializeOwned + schemars::JsonSchema + 'static,
    {
        let parsed = match self.receive().await? {
            Message::Text(text) => crate::params::parse_message::<T>(text.as_bytes()),
            Message::Binary(bytes) => crate::params::parse_message::<T>(&bytes),
        };
        parsed.map_err(|errors| WebSocketError::Invalid(ValidationErrors::from(errors)))
    }

    /// Sends a text message.
    pub async fn send_text(&mut self, text: impl Into<String>) -> Result<(), WebSocketError> {
        self.open()?.0.send_text(text).await
    }

    /// Sends a binary message.
    pub async fn send_bytes(&mut self, bytes: impl Into<Bytes>) -> Result<(), WebSocketError> {
        self.open()?.0.send_bytes(bytes).await
    }

    /// Sends `value` as JSON in a text message.
    pub async fn send_json<T: serde::Serialize + ?Sized>(
        &mut self,
        value: &T,
    ) -> Result<(), WebSocketError> {
        self.open()?.0.send_json(value).await
    }

    /// Closes the connection with `code` and `reason`. Before `accept`,
    /// refuses the handshake instead (HTTP 403, as uvicorn does).
    pub async fn close(&mut self, code: u16, reason: &str) {
        match &mut self.state {
            State::Pending(pending) => {
                pending.decide(Decision::Refuse);
                self.state = State::Closed;
            }
            State::Open { sender, .. } => sender.close(code, reason).await,
            State::Closed => {}
        }
    }

    /// A sender other tasks can use (a chat room's member list) and the
    /// receiving half. Fails before `accept`.
    pub fn split(self) -> Result<(WebSocketSender, WebSocketReceiver), WebSocketError> {
        match self.state {
            State::Open { sender, receiver } => Ok((sender, receiver)),
            State::Pending(_) => Err(WebSocketError::State(
                "the WebSocket is not accepted yet: call `accept` first",
            )),
            State::Closed => Err(WebSocketError::Disconnect(WebSocketDisconnect::new(
                1006, "",
            ))),
        }
    }

    /// A clone of the sending half (for other tasks). Fails before `accept`.
    pub fn sender(&mut self) -> Result<WebSocketSender, WebSocketError> {
        Ok(self.open()?.0.clone())
    }
}

impl Stream for WebSocket {
    type Item = Message;

    /// The messages until the connection ends (nothing before `accept`).
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Message>> {
        match &mut self.state {
            State::Open { receiver, .. } => Pin::new(receiver).poll_next(cx),
            _ => Poll::Ready(None),
        }
    }
}

impl FromRequest for WebSocket {
    async fn from_request(
        cx: &mut RequestContext,
        _spec: &'static ParamSpec,
    ) -> Result<Self, Rejection> {
        let handshake = cx
            .websocket_slot()
            .take()
            .and_then(|slot| slot.downcast::<Handshake>().ok());
        let Some(handshake) = handshake else {
            tracing::error!(
                "a `WebSocket` parameter outside a #[websocket] operation, or declared twice"
            );
            return Err(Rejection::Respond(HttpError::internal().into_response()));
        };
        let Handshake {
            key,
            upgrade,
            hold,
            subprotocols,
        } = *handshake;
        let (decide, decided) = oneshot::channel();
        let (done, handler_done) = watch::channel(None);
        let upgrade = Arc::new(Mutex::new(Some(upgrade)));
        *cx.websocket_slot() = Some(Box::new(Waiting {
            key,
            upgrade: Arc::clone(&upgrade),
            decided,
            done,
        }));
        Ok(WebSocket {
            state: State::Pending(Box::new(Pending {
                decide: Some(decide),
                upgrade,
                hold,
                settings: *cx.app().websocket(),
                handler_done,
            })),
            subprotocols,
        })
    }
}

/// Whether a comma-separated header contains `token` (case-insensitive).
fn has_token(headers: &http::HeaderMap, name: HeaderName, token: &str) -> bool {
    headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case(token))
}

/// Checks that the request is a WebSocket handshake and keeps what the
/// `WebSocket` parameter needs. Called first by the code `#[websocket]`
/// generates.
#[doc(hidden)]
pub fn handshake(cx: &mut RequestContext) -> Result<(), Response> {
    let headers = &cx.parts().headers;
    let is_upgrade = has_token(headers, UPGRADE, "websocket");
    if cx.parts().method != Method::GET || !is_upgrade {
        // What FastAPI answers a plain request to a WebSocket route.
        return Err(HttpError::not_found("Not Found").into_response());
    }
    if !has_token(headers, CONNECTION, "upgrade") {
        return Err(HttpError::bad_request("Missing `Connection: upgrade`").into_response());
    }
    if headers
        .get(SEC_WEBSOCKET_VERSION)
        .map(HeaderValue::as_bytes)
        != Some(b"13")
    {
        return Err(HttpError::new(426, "Unsupported WebSocket version")
            .with_header("sec-websocket-version", "13")
            .into_response());
    }
    let Some(key) = headers.get(SEC_WEBSOCKET_KEY).cloned() else {
        return Err(HttpError::bad_request("Missing `Sec-WebSocket-Key`").into_response());
    };
    let subprotocols = headers
        .get_all(SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|p| p.trim().to_owned())
        .filter(|p| !p.is_empty())
        .collect();
    let extensions = &mut cx.parts.extensions;
    let upgrade = match extensions.remove::<hyper::upgrade::OnUpgrade>() {
        Some(on_upgrade) => UpgradeSource::Hyper(on_upgrade),
        None => match extensions
            .get::<TestUpgrade>()
            .and_then(|t| t.0.lock().expect("test upgrade").take())
        {
            Some(pipe) => UpgradeSource::Test(pipe),
            None => {
                return Err(HttpError::bad_request(
                    "WebSockets need an HTTP/1.1 connection that can be upgraded",
                )
                .into_response());
            }
        },
    };
    let hold = extensions.get::<UpgradeHold>().cloned();
    *cx.websocket_slot() = Some(Box::new(Handshake {
        key,
        upgrade,
        hold,
        subprotocols,
    }));
    Ok(())
}

/// How a handler's return value ends the connection.
#[doc(hidden)]
pub trait HandlerEnd: Send + 'static {
    /// `None`: a normal end (1000); else the close code and reason.
    fn close_with(self) -> Option<(u16, String)>;
}

impl HandlerEnd for () {
    fn close_with(self) -> Option<(u16, String)> {
        None
    }
}

impl<E: std::fmt::Display + Send + 'static> HandlerEnd for Result<(), E> {
    fn close_with(self) -> Option<(u16, String)> {
        let err = self.err()?;
        let any: &dyn Any = &err;
        if let Some(WebSocketError::Disconnect(_)) = any.downcast_ref::<WebSocketError>() {
            return None;
        }
        if let Some(exception) = any.downcast_ref::<WebSocketException>() {
            return Some((exception.code, exception.reason.clone()));
        }
        tracing::error!(error = %err, "WebSocket handler failed; closing with 1011");
        Some((1011, String::new()))
    }
}

/// Aborts the handler task if the handshake is abandoned (the client left
/// or the request timed out) before the handler decided.
struct AbortUnlessDecided(Option<tokio::task::AbortHandle>);

impl Drop for AbortUnlessDecided {
    fn drop(&mut self) {
        if let Some(handle) = self.0.take() {
            handle.abort();
        }
    }
}

/// Runs a WebSocket handler as a task of its own and answers the handshake
/// with its decision. Called by the code `#[websocket]` generates.
#[doc(hidden)]
pub async fn run<F>(cx: &mut RequestContext, handler: F) -> Response
where
    F: Future + Send + 'static,
    F::Output: HandlerEnd,
{
    let waiting = cx
        .websocket_slot()
        .take()
        .and_then(|slot| slot.downcast::<Waiting>().ok());
    let Some(waiting) = waiting else {
        // The handler takes no `WebSocket`: it cannot accept. Run it for
        // its effects and refuse, as Starlette would.
        let _ = handler.await;
        return refused();
    };
    let Waiting {
        key, decided, done, ..
    } = *waiting;
    let app = Arc::clone(cx.app_arc());
    let route = cx.route().id;
    let mut scope = std::mem::take(cx.scope());
    let (finished_tx, finished) = oneshot::channel::<Option<String>>();
    let task = tokio::spawn(async move {
        let result = std::panic::AssertUnwindSafe(crate::exec::run_watched(
            app.watchdog(),
            app.pool(),
            route,
            handler,
        ))
        .catch_unwind()
        .await;
        let (close, outcome, panic) = match result {
            Ok(end) => (end.close_with(), Outcome::Response(StatusCode::OK), None),
            Err(panic) => {
                let message = panic_message(&panic).to_owned();
                tracing::error!(panic = %message, "WebSocket handler panicked; closing with 1011");
                (
                    Some((1011, String::new())),
                    Outcome::Panicked(message.clone()),
                    Some(message),
                )
            }
        };
        let _ = finished_tx.send(panic);
        // The reader task closes with this code (unless already closed).
        let code = close.as_ref().map_or(1000, |(code, _)| *code);
        let _ = done.send(Some(code));
        scope.run_function_cleanups(&outcome).await;
        drop(scope.into_after_response(outcome, app.pool()));
    });
    let mut abort = AbortUnlessDecided(Some(task.abort_handle()));
    let decision = decided.await;
    match decision {
        Ok(Decision::Accept {
            subprotocol,
            headers,
        }) => {
            abort.0 = None;
            switching_protocols(&key, subprotocol, headers)
        }
        Ok(Decision::Panicked) => {
            abort.0 = None;
            let message = finished.await.ok().flatten().unwrap_or_default();
            panic_response(message)
        }
        Ok(Decision::Refuse) | Err(_) => {
            abort.0 = None;
            refused()
        }
    }
}

/// The handshake refused (uvicorn's answer to a close before accept).
fn refused() -> Response {
    HttpError::forbidden("WebSocket connection refused").into_response()
}

/// The `101 Switching Protocols` answer.
fn switching_protocols(
    key: &HeaderValue,
    subprotocol: Option<String>,
    headers: Vec<(HeaderName, HeaderValue)>,
) -> Response {
    let mut resp = http::Response::new(Body::empty());
    *resp.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    resp.extensions_mut()
        .insert(crate::response::ExplicitStatus);
    let h = resp.headers_mut();
    h.insert(UPGRADE, HeaderValue::from_static("websocket"));
    h.insert(CONNECTION, HeaderValue::from_static("upgrade"));
    let accept = tokio_tungstenite::tungstenite::handshake::derive_accept_key(key.as_bytes());
    if let Ok(accept) = HeaderValue::try_from(accept) {
        h.insert(SEC_WEBSOCKET_ACCEPT, accept);
    }
    if let Some(protocol) = subprotocol.and_then(|p| HeaderValue::try_from(p).ok()) {
        h.insert(SEC_WEBSOCKET_PROTOCOL, protocol);
    }
    for (name, value) in headers {
        h.append(name, value);
    }
    resp
}

/// The close reason for a refused handshake: the JSON `detail` when it
/// fits in a close frame, else its first message.
fn reason_from(resp: &Response, detail: Option<serde_json::Value>) -> (u16, String) {
    if let Some(CloseWith(code, reason)) = resp.extensions().get::<CloseWith>() {
        return (*code, reason.clone());
    }
    let Some(detail) = detail else {
        return (1008, String::new());
    };
    let compact = detail.to_string();
    if compact.len() <= 123 {
        return (1008, compact);
    }
    let first = detail
        .as_array()
        .and_then(|errors| errors.first())
        .map(|e| {
            let loc: Vec<String> = e["loc"]
                .as_array()
                .map(|l| {
                    l.iter()
                        .map(|p| p.to_string().trim_matches('"').to_owned())
                        .collect()
                })
                .unwrap_or_default();
            format!(
                "{}: {}",
                loc.join("."),
                e["msg"].as_str().unwrap_or("invalid")
            )
        })
        .or_else(|| detail.as_str().map(str::to_owned))
        .unwrap_or_default();
    (1008, truncate_reason(&first).to_owned())
}

/// Answers a handshake whose parameters or dependencies failed (`resp` is
/// the HTTP answer they produced): accepted, then closed with 1008 and the
/// errors as the reason (or a [`WebSocketException`]'s code and reason).
#[doc(hidden)]
pub async fn reject(cx: &mut RequestContext, resp: Response) -> Response {
    let slot = cx.websocket_slot().take();
    let (key, upgrade, hold) = match slot {
        Some(slot) => match slot.downcast::<Handshake>() {
            Ok(handshake) => (handshake.key, Some(handshake.upgrade), handshake.hold),
            // The `WebSocket` parameter was extracted before the failure.
            Err(slot) => match slot.downcast::<Waiting>() {
                Ok(waiting) => (waiting.key, take_upgrade(&waiting.upgrade), None),
                Err(_) => return resp,
            },
        },
        None => return resp,
    };
    let status = resp.status();
    let (head, body) = resp.into_parts();
    let detail = match body.collect_bytes().await {
        Ok(bytes) => serde_json::from_slice::<serde_json::Value>(&bytes)
            .ok()
            .and_then(|v| v.get("detail").cloned()),
        Err(_) => None,
    };
    let (code, reason) = reason_from(&http::Response::from_parts(head, Body::empty()), detail);
    tracing::debug!(%status, code, reason, "WebSocket handshake rejected");
    let settings = *cx.app().websocket();
    if let Some(upgrade) = upgrade {
        // Busy from before the 101 (see `accept_with`).
        let held = hold.map(|hold| (hold.enter)());
        tokio::spawn(async move {
            let Ok(io) = upgrade.into_io().await else {
                return;
            };
            let (_done_tx, done) = watch::channel(None);
            let (sender, mut receiver) = connection::open(io, settings, done, None, held).await;
            sender.close(code, &reason).await;
            // Wait for the client's answer (bounded by the close timeout).
            let _ = tokio::time::timeout(CLOSE_TIMEOUT * 2, async {
                while receiver.receive().await.is_ok() {}
            })
            .await;
        });
    }
    switching_protocols(&key, None, Vec::new())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorItem;

    fn one_error(msg: &str) -> ValidationErrors {
        ValidationErrors::from(vec![ErrorItem::missing(
            vec!["query".into(), msg.to_owned().into()],
            serde_json::Value::Null,
        )])
    }

    #[test]
    fn a_short_detail_is_the_reason_and_a_long_one_is_summarised() {
        let resp = http::Response::new(Body::empty());
        let short = serde_json::to_value(&one_error("q").detail).unwrap();
        let (code, reason) = reason_from(&resp, Some(short.clone()));
        assert_eq!(code, 1008);
        assert_eq!(reason, short.to_string());
        let long = serde_json::to_value(&one_error(&"x".repeat(200)).detail).unwrap();
        let (_, reason) = reason_from(&resp, Some(long));
        assert!(reason.starts_with("query.xxx"), "{reason}");
        assert!(reason.len() <= 123);
    }

    #[test]
    fn an_exception_gives_its_code() {
        let resp = WebSocketException::new(4001, "token expired").into_response();
        assert_eq!(resp.status(), 403);
        assert_eq!(reason_from(&resp, None), (4001, "token expired".into()));
    }
}
