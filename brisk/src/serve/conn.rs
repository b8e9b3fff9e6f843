//! One connection, from its first bytes to its close: HTTP/1.1 or HTTP/2
//! (cleartext with prior knowledge, chosen from those bytes; or TLS, chosen
//! by ALPN), served by hyper, with a deadline at every stage.
//!
//! | stage | deadline |
//! |---|---|
//! | waiting for the first bytes (in the acceptor) | `--timeout-keep-alive` |
//! | the TLS handshake (with `--ssl-certfile`) | `--ssl-handshake-timeout` |
//! | waiting for and reading a request head (HTTP/1.1) | `--timeout-keep-alive` from when the connection is served (after its first bytes or the TLS handshake) or its last answer was written, one timer per connection (see `serve_http`); 431 beyond `--limit-max-header-size` |
//! | idle between requests | `--timeout-keep-alive` (HTTP/1.1: the same deadline; HTTP/2: no open stream for that long → GOAWAY) |
//! | reading a request body | `--timeout-body-idle` between chunks, `--min-body-rate` on average → 408 |
//! | writing a response | `--timeout-write-idle` without progress → closed |
//! | running the handler | `--timeout-request` / `timeout = "..."` → 504 (in the app) |
//!
//! hyper-util's `auto` builder is not used: it detects the protocol by
//! reading with no deadline at all (a silent connection sat there forever),
//! and it hides hyper's exact head-size limit. The detection it does is one
//! comparison with HTTP/2's connection preface, done here on the bytes the
//! lane already read.

use std::convert::Infallible;
use std::future::Future;
use std::io::Read;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures_util::FutureExt;
use futures_util::future::{Either, ready};
use http::header::{CONNECTION, HOST, HeaderValue, UPGRADE};
use http::{Request, StatusCode, Version};
use http_body::{Body as HttpBody, Frame, SizeHint};
use hyper::body::Incoming;
use hyper::server::conn::{http1, http2};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::io::AsyncReadExt;

use super::deadline::{BodyDeadlines, DeadlineBody, Lingering};
use super::io::{ConnIo, Transport};
use super::proxy::TrustedProxies;
use super::tls::Tls;
use super::tracker::{BusyGuard, ConnHandle};
use crate::body::{Body, BoxError};
use crate::connection::{ConnectionInfo, Scheme};
use crate::error::HttpError;
use crate::response::{CloseConnection, IntoResponse};
use crate::service::AppService;

/// HTTP/2's connection preface (RFC 9113 §3.4).
const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// hyper's default largest read buffer; raised when the head limit needs it.
const HYPER_DEFAULT_MAX_BUF: usize = 8192 + 4096 * 100;

/// How long an HTTP/2 connection asked to go away may take to finish its
/// streams before it is dropped.
const H2_GOAWAY_GRACE: Duration = Duration::from_secs(30);

/// The per-connection limits and deadlines, from the server configuration.
#[derive(Debug, Clone)]
pub(crate) struct ConnSettings {
    /// Waiting for a request head (or the first bytes), and idle between requests.
    pub(crate) head_timeout: Duration,
    /// Reading a request body.
    pub(crate) body: BodyDeadlines,
    /// A response write making no progress.
    pub(crate) write_idle: Duration,
    /// A TLS handshake, from the first byte.
    pub(crate) tls_handshake: Duration,
    /// The largest request head in bytes.
    pub(crate) max_header_size: usize,
    /// The most header lines in a request head.
    pub(crate) max_headers: usize,
}

/// hyper's connection builders, TLS and the proxies to trust, configured
/// once per server.
pub(crate) struct Protocols {
    h1: http1::Builder,
    h2: http2::Builder<TokioExecutor>,
    settings: ConnSettings,
    /// `--ssl-certfile`: every connection is TLS.
    pub(crate) tls: Option<Arc<Tls>>,
    /// `--proxy-headers`: whose forwarding headers to believe.
    proxies: Option<TrustedProxies>,
}

impl Protocols {
    pub(crate) fn new(
        settings: ConnSettings,
        tls: Option<Arc<Tls>>,
        proxies: Option<TrustedProxies>,
    ) -> Self {
        let mut h1 = http1::Builder::new();
        h1.timer(TokioTimer::new())
            // The connection's own deadline does this (see `serve_http`).
            .header_read_timeout(None)
            .max_header_size(settings.max_header_size)
            // hyper parses a head into scratch arrays that live on the stack
            // up to 100 entries; a larger limit makes them two heap
            // allocations per request (8 KiB each at 256: measured as the
            // largest allocations of a keep-alive request, with contended
            // allocator locks). Hence the default of 100.
            .max_headers(settings.max_headers)
            .max_buf_size(HYPER_DEFAULT_MAX_BUF.max(settings.max_header_size + 8192));
        let mut h2 = http2::Builder::new(TokioExecutor::new());
        h2.timer(TokioTimer::new())
            .max_header_list_size(u32::try_from(settings.max_header_size).unwrap_or(u32::MAX));
        Protocols {
            h1,
            h2,
            settings,
            tls,
            proxies,
        }
    }

    pub(crate) fn settings(&self) -> &ConnSettings {
        &self.settings
    }

    /// The request's client and scheme: the connection's, or a trusted
    /// proxy's (see `proxy`).
    fn connection_info(&self, conn: &Conn, headers: &http::HeaderMap) -> ConnectionInfo {
        let direct = ConnectionInfo::new(conn.peer, conn.scheme);
        match &self.proxies {
            Some(proxies) => proxies.resolve(direct, headers),
            None => direct,
        }
    }
}

/// Serves one connection until it ends, is shed, or the server stops.
pub(crate) async fn serve_connection(
    app: Arc<AppService>,
    protocols: Arc<Protocols>,
    handle: ConnHandle,
    stream: std::net::TcpStream,
    peer: SocketAddr,
) {
    // Read what the client already sent before registering (see `io`).
    let mut first = [0u8; 4096];
    let prefix = match (&stream).read(&mut first) {
        Ok(0) => return, // closed before sending anything
        // Exactly-sized: this buffer lives as long as the connection.
        Ok(n) => Bytes::copy_from_slice(&first[..n]),
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => Bytes::new(),
        Err(e) => {
            return tracing::debug!(%peer, error = %e, "connection failed before its first request");
        }
    };
    let mut stream = match tokio::net::TcpStream::from_std(stream) {
        Ok(s) => s,
        Err(e) => return tracing::debug!(%peer, error = %e, "could not register connection"),
    };
    let _ = stream.set_nodelay(true);
    let settings = protocols.settings();
    let state = Arc::clone(handle.state());
    let Some(tls) = protocols.tls.clone() else {
        let prefix = match complete_preface(&mut stream, prefix, settings.head_timeout).await {
            Some(p) => p,
            None => return,
        };
        let is_h2 = prefix.starts_with(H2_PREFACE);
        let io = ConnIo::new(prefix, stream, settings.write_idle, Arc::clone(&state));
        let conn = Conn {
            peer,
            scheme: Scheme::Http,
            is_h2,
        };
        return serve_http(app, protocols, handle, io, conn).await;
    };
    // TLS: the handshake (bounded, and given up if the connection is shed),
    // then HTTP/2 if ALPN chose it.
    let raw = ConnIo::new(prefix, stream, settings.write_idle, Arc::clone(&state));
    let handshake = tokio::time::timeout(settings.tls_handshake, tls.acceptor().accept(raw));
    let stream = tokio::select! {
        done = handshake => match done {
            Ok(Ok(stream)) => stream,
            Ok(Err(e)) => return tracing::debug!(%peer, error = %e, "TLS handshake failed"),
            Err(_) => return tracing::debug!(%peer, "TLS handshake timed out (--ssl-handshake-timeout)"),
        },
        () = state.shed() => return,
    };
    let is_h2 = stream.get_ref().1.alpn_protocol() == Some(b"h2");
    let io = ConnIo::new(
        Bytes::new(),
        stream,
        settings.write_idle,
        Arc::clone(&state),
    );
    let conn = Conn {
        peer,
        scheme: Scheme::Https,
        is_h2,
    };
    serve_http(app, protocols, handle, io, conn).await;
}

/// What the HTTP layer needs to know about its connection.
#[derive(Clone, Copy)]
struct Conn {
    peer: SocketAddr,
    scheme: Scheme,
    is_h2: bool,
}

/// Serves HTTP/1.1 or HTTP/2 over `io` (plain or TLS) until the connection
/// ends, is shed, or the server stops.
async fn serve_http<T: Transport + Send + 'static>(
    app: Arc<AppService>,
    protocols: Arc<Protocols>,
    handle: ConnHandle,
    io: ConnIo<T>,
    conn_info: Conn,
) {
    let Conn { peer, is_h2, .. } = conn_info;
    let settings = protocols.settings();
    let state = Arc::clone(handle.state());
    let io = TokioIo::new(io);
    let mut draining = handle.draining();
    let service = {
        let state = Arc::clone(&state);
        let body_deadlines = settings.body;
        let draining = draining.clone();
        let protocols = Arc::clone(&protocols);
        service_fn(move |mut req: Request<Incoming>| {
            let busy = state.enter();
            let closing = state.is_closing();
            if req.headers().contains_key(UPGRADE) {
                req.extensions_mut().insert(upgrade_hold(&state, &draining));
            }
            let connection = protocols.connection_info(&conn_info, req.headers());
            answer(&app, req, busy, closing, body_deadlines, connection).map(Ok::<_, Infallible>)
        })
    };
    // Idle from now: the waits for the first bytes and the TLS handshake
    // had deadlines of their own.
    state.idle_from_now();
    if is_h2 {
        let conn = protocols.h2.serve_connection(io, service);
        tokio::pin!(conn);
        let mut going_away = false;
        // Armed once the connection is asked to go away.
        let mut hard_stop = Box::pin(tokio::time::sleep(Duration::from_secs(86_400)));
        loop {
            // While a stream is open, look again a keep-alive later; once
            // idle, exactly when the keep-alive runs out.
            let wake = if state.is_busy() {
                std::time::Instant::now() + settings.head_timeout
            } else {
                state.idle_since() + settings.head_timeout
            };
            let idle_check = tokio::time::sleep_until(wake.into());
            tokio::select! {
                result = conn.as_mut() => {
                    if let Err(e) = result {
                        tracing::debug!(%peer, error = %e, "HTTP/2 connection ended with an error");
                    }
                    return;
                }
                () = state.shed() => return,
                () = &mut hard_stop, if going_away => return,
                changed = draining.changed(), if !going_away => {
                    if changed.is_err() || *draining.borrow() {
                        going_away = true;
                        conn.as_mut().graceful_shutdown();
                        hard_stop.as_mut().reset(tokio::time::Instant::now() + H2_GOAWAY_GRACE);
                    }
                }
                () = idle_check, if !going_away => {
                    let idle_for = state.idle_since().elapsed();
                    if !state.is_busy() && idle_for >= settings.head_timeout {
                        going_away = true;
                        conn.as_mut().graceful_shutdown();
                        hard_stop.as_mut().reset(tokio::time::Instant::now() + settings.head_timeout);
                    }
                }
            }
        }
    } else {
        // HTTP/1.1: a connection that has waited a keep-alive for a request
        // head since it last became idle (its previous answer written, or
        // since it is served here: the wait for its first bytes and its TLS
        // handshake had deadlines of their own) is closed: idle keep-alive
        // connections and heads sent too slowly alike. One timer per
        // connection, fired only at the deadline, does it; hyper's header
        // timer, which did before, armed and cancelled a timer for every
        // request (about 5 % of a small request's instructions, callgrind).
        // Draining only marks answers `Connection: close` (see `answer`), so
        // an idle connection is never closed under a request in flight.
        let head_timeout = settings.head_timeout;
        let mut conn = Box::pin(protocols.h1.serve_connection(io, service).with_upgrades());
        let head_deadline = tokio::time::sleep_until((state.idle_since() + head_timeout).into());
        tokio::pin!(head_deadline);
        loop {
            tokio::select! {
                // The connection first: a head that has arrived is read
                // (and the connection busy) before the deadline is looked at.
                biased;
                result = conn.as_mut() => {
                    if let Err(e) = result {
                        tracing::debug!(%peer, error = %e, "connection ended with an error");
                    }
                    break;
                }
                () = state.shed() => return,
                () = head_deadline.as_mut() => {
                    let now = std::time::Instant::now();
                    let due = state.idle_since() + head_timeout;
                    if !state.awaits_head() {
                        head_deadline.as_mut().reset((now + head_timeout).into());
                    } else if due > now {
                        head_deadline.as_mut().reset(due.into());
                    } else {
                        return tracing::debug!(%peer, "no request head within the keep-alive timeout; closed");
                    }
                }
            }
        }
        // Upgraded to a WebSocket: the socket now belongs to its task, but
        // the connection stays registered (and busy) until it closes, so
        // that shutdown waits for it and the descriptor count stays true.
        drop(conn);
        tokio::select! {
            () = state.until_idle() => {}
            () = state.shed() => {}
        }
    }
}

/// What a request asking for an upgrade carries for the WebSocket code:
/// the draining signal, and a way to keep this connection busy.
fn upgrade_hold(
    state: &Arc<super::tracker::ConnState>,
    draining: &tokio::sync::watch::Receiver<bool>,
) -> crate::ws::UpgradeHold {
    let state = Arc::clone(state);
    crate::ws::UpgradeHold {
        draining: draining.clone(),
        enter: Arc::new(move || Box::new(state.enter_upgraded())),
    }
}

/// Reads until `prefix` either is the whole HTTP/2 preface or cannot be
/// its start; `None` if the client went silent or away meanwhile.
async fn complete_preface(
    stream: &mut tokio::net::TcpStream,
    prefix: Bytes,
    timeout: Duration,
) -> Option<Bytes> {
    let is_partial = |p: &[u8]| p.len() < H2_PREFACE.len() && H2_PREFACE.starts_with(p);
    if !is_partial(&prefix) {
        return Some(prefix);
    }
    let mut buf = BytesMut::from(&prefix[..]);
    let read_more = async {
        while is_partial(&buf) {
            if stream.read_buf(&mut buf).await.ok()? == 0 {
                return None;
            }
        }
        Some(())
    };
    tokio::time::timeout(timeout, read_more).await.ok()??;
    Some(buf.freeze())
}

/// Answers one request: protocol checks, deadlines on its body, the app,
/// and what the connection's state asks of the answer.
///
/// Not an `async fn`: the checks run before the first poll, and the future
/// returned holds the request only inside the app's future (an `async fn`
/// keeps a copy of its arguments in its state; see `AppService::handle`).
fn answer(
    app: &Arc<AppService>,
    req: Request<Incoming>,
    busy: BusyGuard,
    closing: bool,
    deadlines: BodyDeadlines,
    connection: ConnectionInfo,
) -> impl Future<Output = http::Response<TrackedBody>> + Send + use<> {
    let version = req.version();
    let resp = if let Some(problem) = protocol_problem(&req) {
        let mut resp = HttpError::bad_request(problem).into_response();
        resp.extensions_mut().insert(CloseConnection);
        Either::Left(ready(resp))
    } else {
        let (parts, incoming) = req.into_parts();
        let body = if version == Version::HTTP_2 {
            Body::new(DeadlineBody::new(Lingering::new(incoming), deadlines))
        } else {
            Body::new(DeadlineBody::new(incoming, deadlines))
        };
        Either::Right(app.handle_from(Request::from_parts(parts, body), Some(connection)))
    };
    resp.map(move |mut resp| {
        let close = closing || resp.extensions().get::<CloseConnection>().is_some();
        // A 101 keeps the connection (it becomes a WebSocket); a draining
        // server closes that with 1001 instead.
        if close && version <= Version::HTTP_11 && resp.status() != StatusCode::SWITCHING_PROTOCOLS
        {
            resp.headers_mut()
                .insert(CONNECTION, HeaderValue::from_static("close"));
        }
        resp.map(|body| TrackedBody { body, _busy: busy })
    })
}

/// What makes an HTTP/1.1 request invalid beyond what hyper checks: a
/// missing or repeated `Host` (RFC 9112 §3.2).
fn protocol_problem<B>(req: &Request<B>) -> Option<&'static str> {
    if req.version() != Version::HTTP_11 {
        return None;
    }
    let mut hosts = req.headers().get_all(HOST).iter();
    match (hosts.next(), hosts.next()) {
        (Some(_), None) => None,
        (None, _) => Some("Missing Host header"),
        (Some(_), Some(_)) => Some("More than one Host header"),
    }
}

pin_project_lite::pin_project! {
    /// A response body that keeps its connection counted as busy until it
    /// has been written (or dropped because the client left).
    pub(crate) struct TrackedBody {
        #[pin]
        body: Body,
        _busy: BusyGuard,
    }
}

impl HttpBody for TrackedBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        self.project().body.poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::protocol_problem;

    #[test]
    fn http11_needs_exactly_one_host() {
        let ok = http::Request::get("/")
            .header("host", "a")
            .body(())
            .unwrap();
        assert_eq!(protocol_problem(&ok), None);
        let none = http::Request::get("/").body(()).unwrap();
        assert_eq!(protocol_problem(&none), Some("Missing Host header"));
        let two = http::Request::get("/")
            .header("host", "a")
            .header("host", "b")
            .body(())
            .unwrap();
        assert_eq!(protocol_problem(&two), Some("More than one Host header"));
        let h10 = http::Request::get("/")
            .version(http::Version::HTTP_10)
            .body(())
            .unwrap();
        assert_eq!(protocol_problem(&h10), None);
    }
}
