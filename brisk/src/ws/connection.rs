//! An open WebSocket connection: one task per connection reads frames
//! (answering pings, the close handshake, keep-alive pings, size limits) and
//! hands messages to the handler through a bounded queue; the handler's
//! sends go straight to the socket.
//!
//! Why a reader task rather than reading only when the handler asks: a
//! handler that only sends (a notification feed) must still notice the
//! client leave, answer its pings and send keep-alives, and a bounded queue
//! gives backpressure (the task stops reading while the queue is full), as
//! uvicorn's `--ws-max-queue` does.

use std::any::Any;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, Stream, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{self, Error as WsError, error::CapacityError};

use super::{Message, WebSocketDisconnect, WebSocketError};
use crate::params::WebSocketSettings;

/// The upgraded byte stream: a hyper connection, or an in-memory pipe for
/// the `TestClient`.
pub(crate) trait Io: AsyncRead + AsyncWrite + Send + Unpin + 'static {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> Io for T {}

/// The WebSocket protocol over that stream.
pub(crate) type Socket = WebSocketStream<Box<dyn Io>>;

/// How long the server waits for the client's answer to its close frame
/// before it drops the connection.
pub(crate) const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);

/// The most a WebSocket read asks of the socket at once. tungstenite zeroes
/// this much of its buffer before every read, including reads that find
/// nothing: at its default of 128 KiB that memset was 42 % of the server's
/// CPU in the benchmark's 32-byte echo (perf during `bench/run`'s `ws`
/// scenario), and `bench/tools/ws_cpu_per_message.sh` showed the CPU per
/// message falling by about a third at 16 KiB (bench/README.md has the
/// figures). A larger message is still read whole, in 16 KiB reads.
const READ_BUFFER_SIZE: usize = 16 * 1024;

/// A close frame's reason is at most 123 bytes (RFC 6455 §5.5).
const MAX_REASON: usize = 123;

/// What the handler side and the reader task share.
pub(crate) struct Shared {
    /// The write half; `None` once the connection is over, so that a
    /// sender kept somewhere (a chat room's list) does not keep the socket
    /// open.
    sink: tokio::sync::Mutex<Option<SplitSink<Socket, tungstenite::Message>>>,
    /// A close the server asked for (the handler's `close`, its end, a
    /// shutdown): the first one wins.
    close_request: watch::Sender<Option<(u16, String)>>,
    /// How the connection ended, once known.
    ended: Mutex<Option<WebSocketDisconnect>>,
    /// Set once a close was asked for or the connection ended: until then
    /// `closing` and `ended` need not look (the common case, per message).
    over: AtomicBool,
}

impl Shared {
    fn ended(&self) -> Option<WebSocketDisconnect> {
        // Every send and receive asks: no lock while the connection is open.
        if !self.over.load(Ordering::Acquire) {
            return None;
        }
        self.ended.lock().expect("ws state").clone()
    }

    fn end(&self, why: WebSocketDisconnect) {
        self.ended.lock().expect("ws state").get_or_insert(why);
        self.over.store(true, Ordering::Release);
    }

    /// The close the server asked for, if any.
    fn closing(&self) -> Option<WebSocketDisconnect> {
        if !self.over.load(Ordering::Acquire) {
            return None;
        }
        self.close_request
            .borrow()
            .as_ref()
            .map(|(code, reason)| WebSocketDisconnect::new(*code, reason.clone()))
    }

    /// Asks the reader task to close the connection (once).
    pub(crate) fn request_close(&self, code: u16, reason: &str) {
        self.close_request.send_if_modified(|request| {
            if request.is_some() {
                return false;
            }
            *request = Some((code, truncate_reason(reason).to_owned()));
            self.over.store(true, Ordering::Release);
            true
        });
    }
}

/// A reason cut to the 123 bytes a close frame allows, on a character boundary.
pub(crate) fn truncate_reason(reason: &str) -> &str {
    if reason.len() <= MAX_REASON {
        return reason;
    }
    let mut end = MAX_REASON;
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    &reason[..end]
}

fn close_frame(code: u16, reason: &str) -> tungstenite::Message {
    tungstenite::Message::Close(Some(CloseFrame {
        code: code.into(),
        reason: truncate_reason(reason).to_owned().into(),
    }))
}

/// The sending half of an open WebSocket; cheap to clone, so that other
/// tasks (a chat room's broadcast) can send to this client.
///
/// ```no_run
/// use brisk::ws::{WebSocket, WebSocketSender};
///
/// async fn greet(sender: WebSocketSender) {
///     let _ = sender.send_text("hello from another task").await;
/// }
/// ```
#[derive(Clone)]
pub struct WebSocketSender {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for WebSocketSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebSocketSender").finish_non_exhaustive()
    }
}

impl WebSocketSender {
    async fn send(&self, message: tungstenite::Message) -> Result<(), WebSocketError> {
        if let Some(why) = self.shared.closing().or_else(|| self.shared.ended()) {
            return Err(WebSocketError::Disconnect(why));
        }
        let mut sink = self.shared.sink.lock().await;
        let Some(sink) = sink.as_mut() else {
            return Err(self.disconnected());
        };
        match sink.send(message).await {
            Ok(()) => Ok(()),
            Err(err) => {
                tracing::debug!(error = %err, "WebSocket send failed");
                Err(self.disconnected())
            }
        }
    }

    fn disconnected(&self) -> WebSocketError {
        WebSocketError::Disconnect(
            self.shared
                .ended()
                .unwrap_or_else(|| WebSocketDisconnect::new(1006, "")),
        )
    }

    /// Sends a text message.
    pub async fn send_text(&self, text: impl Into<String>) -> Result<(), WebSocketError> {
        self.send(tungstenite::Message::text(text.into())).await
    }

    /// Sends a binary message.
    pub async fn send_bytes(&self, bytes: impl Into<Bytes>) -> Result<(), WebSocketError> {
        self.send(tungstenite::Message::binary(bytes.into())).await
    }

    /// Sends `value` as a JSON text message.
    pub async fn send_json<T: serde::Serialize + ?Sized>(
        &self,
        value: &T,
    ) -> Result<(), WebSocketError> {
        let text = serde_json::to_string(value).map_err(|err| {
            WebSocketError::Invalid(crate::error::ValidationErrors::from(vec![
                crate::error::ErrorItem::new(
                    "serialization_error",
                    Vec::new(),
                    err.to_string(),
                    serde_json::Value::Null,
                ),
            ]))
        })?;
        self.send_text(text).await
    }

    /// Starts the closing handshake with `code` and `reason` (at most 123
    /// bytes). Later sends fail with a disconnect carrying this code.
    pub async fn close(&self, code: u16, reason: &str) {
        self.shared.request_close(code, reason);
    }

    /// Whether the connection is closed or closing.
    pub fn is_closed(&self) -> bool {
        self.shared.closing().is_some() || self.shared.ended().is_some()
    }
}

/// The receiving half of an open WebSocket: messages in the order the
/// client sent them; also a [`Stream`] of them, which ends when the
/// connection does.
pub struct WebSocketReceiver {
    shared: Arc<Shared>,
    queue: mpsc::Receiver<Message>,
}

impl std::fmt::Debug for WebSocketReceiver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebSocketReceiver").finish_non_exhaustive()
    }
}

impl WebSocketReceiver {
    /// The next message, or how the connection ended (FastAPI's
    /// `WebSocketDisconnect`). Cancel-safe: usable in `tokio::select!`.
    pub async fn receive(&mut self) -> Result<Message, WebSocketError> {
        // After the server's own close, receiving is over at once.
        if let Some(why) = self.shared.closing() {
            return Err(WebSocketError::Disconnect(why));
        }
        match self.queue.recv().await {
            Some(message) => Ok(message),
            None => Err(WebSocketError::Disconnect(self.ending())),
        }
    }

    fn ending(&self) -> WebSocketDisconnect {
        self.shared
            .ended()
            .or_else(|| self.shared.closing())
            .unwrap_or_else(|| WebSocketDisconnect::new(1006, ""))
    }
}

impl Stream for WebSocketReceiver {
    type Item = Message;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Message>> {
        if self.shared.closing().is_some() {
            return Poll::Ready(None);
        }
        self.queue.poll_recv(cx)
    }
}

/// Opens the connection over an upgraded stream: starts its reader task
/// and returns the two halves.
pub(crate) async fn open(
    io: Box<dyn Io>,
    settings: WebSocketSettings,
    handler_done: watch::Receiver<Option<u16>>,
    draining: Option<watch::Receiver<bool>>,
    hold: Option<Box<dyn Any + Send>>,
) -> (WebSocketSender, WebSocketReceiver) {
    let socket = WebSocketStream::from_raw_socket(
        io,
        tungstenite::protocol::Role::Server,
        Some(config(&settings)),
    )
    .await;
    let (sink, stream) = socket.split();
    let (close_request, close_requests) = watch::channel(None);
    let shared = Arc::new(Shared {
        sink: tokio::sync::Mutex::new(Some(sink)),
        close_request,
        ended: Mutex::new(None),
        over: AtomicBool::new(false),
    });
    let (queue_tx, queue) = mpsc::channel(settings.max_queue);
    let reader = Reader {
        shared: Arc::clone(&shared),
        stream,
        queue: queue_tx,
        settings,
    };
    tokio::spawn(reader.run(close_requests, handler_done, draining, hold));
    (
        WebSocketSender {
            shared: Arc::clone(&shared),
        },
        WebSocketReceiver { shared, queue },
    )
}

/// tungstenite's settings from brisk's.
pub(crate) fn config(settings: &WebSocketSettings) -> tungstenite::protocol::WebSocketConfig {
    tungstenite::protocol::WebSocketConfig::default()
        .read_buffer_size(READ_BUFFER_SIZE)
        .max_message_size(Some(settings.max_message_size))
        .max_frame_size(Some(settings.max_frame_size))
}

/// The per-connection reader task.
struct Reader {
    shared: Arc<Shared>,
    stream: SplitStream<Socket>,
    queue: mpsc::Sender<Message>,
    settings: WebSocketSettings,
}

/// What the server side asks of a connection besides its frames: the
/// handler's `close`, the handler's end, a shutdown.
struct Signals {
    close_requests: watch::Receiver<Option<(u16, String)>>,
    handler_done: watch::Receiver<Option<u16>>,
    draining: Option<watch::Receiver<bool>>,
}

enum Signal {
    /// A close was asked for (by the handler, its end, a failure, a shutdown).
    CloseRequested(Option<(u16, String)>),
    /// The connection state is gone: nothing will ask again.
    Gone,
    /// The handler returned, with the close code it chose.
    HandlerDone(u16),
    /// The server started draining.
    Draining,
}

/// The next signal, with the receivers handed back. It owns them so that
/// the reader keeps one such future across its loop (pinned once, replaced
/// only when it fires) instead of registering three watch waiters anew for
/// every frame.
async fn next_signal(mut signals: Signals) -> (Signal, Signals) {
    let signal = tokio::select! {
        biased;
        changed = signals.close_requests.changed() => match changed {
            Ok(()) => Signal::CloseRequested(signals.close_requests.borrow_and_update().clone()),
            Err(_) => Signal::Gone,
        },
        changed = signals.handler_done.changed() => Signal::HandlerDone(match changed {
            Ok(()) => signals.handler_done.borrow_and_update().unwrap_or(1000),
            Err(_) => 1000,
        }),
        () = wait_draining(&mut signals.draining) => Signal::Draining,
    };
    (signal, signals)
}

impl Reader {
    async fn run(
        mut self,
        close_requests: watch::Receiver<Option<(u16, String)>>,
        handler_done: watch::Receiver<Option<u16>>,
        draining: Option<watch::Receiver<bool>>,
        // Keeps the connection counted by the server until this task ends.
        _hold: Option<Box<dyn Any + Send>>,
    ) {
        let far = Instant::now() + Duration::from_secs(86_400 * 365);
        let mut signal = std::pin::pin!(next_signal(Signals {
            close_requests,
            handler_done,
            draining,
        }));
        // One timer for whichever deadline is next (the close handshake's,
        // the pong's, the next keep-alive ping's): kept registered across
        // frames and reset only when that deadline moves, since registering
        // a timer takes the timer driver's lock.
        let mut timer = std::pin::pin!(tokio::time::sleep_until(far));
        // A message received but not yet queued (the queue was full).
        let mut undelivered: Option<Message> = None;
        // Set once the server sent its close frame: the client has until then to answer.
        let mut close_deadline: Option<Instant> = None;
        let ping_every = self.settings.ping_interval;
        let mut next_ping = ping_every.map_or(far, |every| Instant::now() + every);
        let mut pong_due: Option<Instant> = None;
        loop {
            let closing = close_deadline.is_some();
            let due = match close_deadline {
                Some(deadline) => deadline,
                None => pong_due.map_or(next_ping, |pong| pong.min(next_ping)),
            };
            if timer.deadline() != due {
                timer.as_mut().reset(due);
            }
            tokio::select! {
                biased;
                (received, signals) = &mut signal, if !closing => {
                    match received {
                        Signal::CloseRequested(request) => {
                            if let Some((code, reason)) = request {
                                self.shared.send_close(code, &reason).await;
                                close_deadline = Some(Instant::now() + CLOSE_TIMEOUT);
                            }
                        }
                        Signal::Gone => break,
                        // A no-op when the handler already closed.
                        Signal::HandlerDone(code) => self.shared.request_close(code, ""),
                        Signal::Draining => self.shared.request_close(1001, "server shutting down"),
                    }
                    signal.set(next_signal(signals));
                }
                () = &mut timer => {
                    let now = Instant::now();
                    if closing {
                        break;
                    }
                    if pong_due.is_some_and(|pong| pong <= now) {
                        tracing::debug!("WebSocket keep-alive ping unanswered; closing with 1011");
                        self.shared.request_close(1011, "keepalive ping timeout");
                        pong_due = None;
                    }
                    if let Some(every) = ping_every
                        && next_ping <= now
                    {
                        next_ping = now + every;
                        if pong_due.is_none() {
                            pong_due = Some(now + self.settings.ping_timeout);
                            self.shared.send_raw(tungstenite::Message::Ping(Bytes::new())).await;
                        }
                    }
                }
                permit = self.queue.reserve(), if undelivered.is_some() => {
                    let message = undelivered.take().expect("a message to deliver");
                    // An error means the handler is gone: the message is moot.
                    if let Ok(permit) = permit {
                        permit.send(message);
                    }
                }
                frame = self.stream.next(), if undelivered.is_none() => {
                    let message = match frame {
                        Some(Ok(tungstenite::Message::Text(text))) if !closing => {
                            Message::Text(text.as_str().to_owned())
                        }
                        Some(Ok(tungstenite::Message::Binary(bytes))) if !closing => {
                            Message::Binary(bytes)
                        }
                        Some(Ok(tungstenite::Message::Pong(_))) => {
                            pong_due = None;
                            continue;
                        }
                        Some(Ok(tungstenite::Message::Close(frame))) => {
                            // tungstenite has queued the answering close frame;
                            // the next read sends it and ends the stream.
                            let why = match frame {
                                Some(f) => WebSocketDisconnect::new(u16::from(f.code), f.reason.as_str()),
                                None => WebSocketDisconnect::new(1005, ""),
                            };
                            self.shared.end(self.shared.closing().unwrap_or(why));
                            continue;
                        }
                        // Pings are answered by tungstenite; data after our
                        // close is dropped.
                        Some(Ok(_)) => continue,
                        Some(Err(err)) => {
                            self.shared.fail(err).await;
                            break;
                        }
                        None => break,
                    };
                    // Straight into the queue when there is room (the common
                    // case); only a full queue waits for a permit above.
                    match self.queue.try_send(message) {
                        Ok(()) | Err(mpsc::error::TrySendError::Closed(_)) => {}
                        Err(mpsc::error::TrySendError::Full(message)) => undelivered = Some(message),
                    }
                }
            }
        }
        self.shared.end(
            self.shared
                .closing()
                .unwrap_or_else(|| WebSocketDisconnect::new(1006, "")),
        );
        // Drop the write half too, so the socket closes now.
        self.shared.sink.lock().await.take();
    }
}

impl Shared {
    /// A read error: a limit exceeded (1009), invalid UTF-8 (1007), a
    /// protocol violation (1002), or the connection lost (1006).
    async fn fail(&self, err: WsError) {
        let (code, reason) = match &err {
            WsError::Capacity(CapacityError::MessageTooLong { .. }) => (1009, "message too big"),
            WsError::Capacity(_) => (1009, "frame too big"),
            WsError::Utf8(_) => (1007, "invalid UTF-8"),
            WsError::Protocol(_) => (1002, "protocol error"),
            _ => {
                tracing::debug!(error = %err, "WebSocket connection lost");
                self.end(WebSocketDisconnect::new(1006, ""));
                return;
            }
        };
        tracing::debug!(error = %err, code, "closing WebSocket");
        self.request_close(code, reason);
        self.end(WebSocketDisconnect::new(code, reason));
        self.send_close(code, reason).await;
    }

    async fn send_close(&self, code: u16, reason: &str) {
        self.send_raw(close_frame(code, reason)).await;
    }

    async fn send_raw(&self, message: tungstenite::Message) {
        if let Some(sink) = self.sink.lock().await.as_mut()
            && let Err(err) = sink.send(message).await
        {
            tracing::debug!(error = %err, "WebSocket control frame not sent");
        }
    }
}

/// Resolves when the server starts draining; never if it cannot say (no
/// signal, or its sender gone: then it is dropped and not asked again).
async fn wait_draining(draining: &mut Option<watch::Receiver<bool>>) {
    if let Some(rx) = draining.as_mut() {
        if rx.wait_for(|draining| *draining).await.is_ok() {
            return;
        }
        *draining = None;
    }
    std::future::pending().await
}
