//! The app as a tower `Service`: what happens to a request between its
//! connection ([`serve`](crate::serve)) and its operation
//! ([`routing`](crate::routing)).
//!
//! ```text
//! AppService::handle            access log, --limit-max-requests, a panicking layer → 500
//!   └ app-wide layers            App::layer / App::middleware, the one added last outermost
//!       └ Core                   413 from the head, routing: 404 / 405 / FastAPI's slash
//!                                redirects, --limit-concurrency → 503
//!           └ router layers      ApiRouter::layer, around that router's operations only
//!               └ the operation  extraction, the handler (time-limited, panics → 500),
//!                                exception handlers
//! ```
//!
//! As in Starlette, app-wide layers see every answer the app gives,
//! including 404s, 405s and the documentation routes; exception handlers
//! answer inside them, so a CORS layer also decorates error answers.

pub mod middleware;

use std::convert::Infallible;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures_util::FutureExt;
use futures_util::future::{Either, Ready, ready};
use http::StatusCode;
use http::header::ALLOW;
use tower::Service;
use tower::util::BoxCloneSyncService;

use tracing::Instrument;

use crate::body::Body;
use crate::connection::ConnectionInfo;
use crate::error::HttpError;
use crate::exec::scope::BoxFuture;
use crate::logging::{RateLimited, RequestId};
use crate::params::AppContext;
use crate::prometheus::Recorder;
use crate::response::{IntoResponse, Response, body_too_large};
use crate::routing::{BoxService, LayerFn, PathParams, RouteMatch, Router};

/// W3C trace context; a constant so that the name is not parsed per request.
const TRACEPARENT: http::HeaderName = http::HeaderName::from_static("traceparent");

/// Limits that apply per request, from the server configuration.
#[derive(Debug, Clone, Default)]
pub struct Limits {
    /// Requests handled at once (`--limit-concurrency`); beyond, 503.
    pub concurrency: Option<usize>,
    /// Requests before the process retires (`--limit-max-requests`).
    pub max_requests: Option<u64>,
    /// Default time limit of one request (`--timeout-request`); past it, 504.
    pub request_timeout: Option<Duration>,
    /// One access-log line per request.
    pub access_log: bool,
    /// `--root-path`: the prefix a proxy serves the app under (`""`: none).
    pub root_path: String,
    /// `--log-format json`: request spans are created at `info` (they carry
    /// the route and request id into every line logged inside a request);
    /// otherwise at `debug`, off unless a filter asks for them.
    pub json_logs: bool,
}

/// A startup or shutdown hook.
pub(crate) enum Hook {
    Async(Box<dyn FnOnce() -> BoxFuture<'static, ()> + Send>),
    Blocking(Box<dyn FnOnce() + Send>),
}

/// Runs hooks in order; a blocking one on a thread outside the event loop.
pub(crate) async fn run_hooks(hooks: Vec<Hook>) {
    for hook in hooks {
        match hook {
            Hook::Async(f) => f().await,
            Hook::Blocking(f) => {
                if let Err(e) = tokio::task::spawn_blocking(f).await {
                    std::panic::resume_unwind(e.into_panic());
                }
            }
        }
    }
}

/// The route template that answered a request, in the response's
/// extensions, for app-wide tower layers (and, through them, the access
/// log, the metrics and the request span). Only set when such layers are
/// there to read it: without them, the route is handed to the access log,
/// metrics and span directly.
///
/// ```
/// use brisk::prelude::*;
/// use brisk::service::MatchedPath;
///
/// #[get("/items/{id}")]
/// async fn item(id: u32) -> String { id.to_string() }
///
/// # let _ = routes![item];
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MatchedPath(pub &'static str);

/// The routed app: routing, limits and operations (everything inside the
/// app-wide layers).
pub(crate) struct Core {
    pub(crate) router: Router,
    pub(crate) app: Arc<AppContext>,
    /// Services mounted under a path prefix (`App::mount`), longest first.
    mounts: Vec<(String, BoxService)>,
    limits: Limits,
    in_flight: AtomicUsize,
}

impl Core {
    pub(crate) fn new(
        router: Router,
        app: Arc<AppContext>,
        mut mounts: Vec<(String, BoxService)>,
        limits: Limits,
    ) -> Arc<Self> {
        mounts.sort_by_key(|(prefix, _)| std::cmp::Reverse(prefix.len()));
        Arc::new(Core {
            router,
            app,
            mounts,
            limits,
            in_flight: AtomicUsize::new(0),
        })
    }

    /// The mounted service for `path`, and the path under its prefix.
    fn mount_for(&self, path: &str) -> Option<(&BoxService, String)> {
        self.mounts.iter().find_map(|(prefix, service)| {
            let rest = path.strip_prefix(prefix.as_str())?;
            (rest.is_empty() || rest.starts_with('/')).then(|| (service, rest.to_owned()))
        })
    }

    /// Answers one request. Never fails: every problem becomes a response
    /// (404, 405, 413, 422, 500, 503, 504, ...).
    ///
    /// Routing and the limits run here, before the first poll; the future
    /// returned holds only what is left to await. (An `async fn` keeps its
    /// arguments in its state for good, so each level of them held another
    /// copy of the request, and every copy was moved as the futures were
    /// built: see `AppService::handle`.)
    ///
    /// It takes `&Arc<Self>` and clones no `Arc` on the common path: the
    /// reference counts of shared objects are written by every request, and
    /// on two event-loop threads their cache lines travel between cores.
    ///
    /// Also returned: the template of the route that matched (none for 404,
    /// 405, 413 and mounted apps), known before the operation runs. The
    /// access log, metrics and request span take it from here; only inside
    /// app-wide layers does it go into the response as [`MatchedPath`]
    /// (see `CoreService`): the response's extension map and the path's box
    /// were three allocations per request, and with their drop about a
    /// tenth of a logged request's instructions.
    ///
    /// `connection` is the client and scheme when the server hands them
    /// over directly; they go into the request's extensions only on the
    /// paths where other code may look there (router layers, mounted apps,
    /// exception handlers), and straight to the operation otherwise (the
    /// extension map and the boxed value were three more allocations).
    pub(crate) fn call(
        self: &Arc<Self>,
        req: http::Request<Body>,
        connection: Option<ConnectionInfo>,
    ) -> (CallFuture, Option<&'static str>) {
        let (mut parts, body) = req.into_parts();
        // Multipart bodies are streamed (uploads) under their own, larger
        // limit; the content type is only looked at for a body over the
        // common one.
        if let Some(declared) = declared_length(&parts)
            && declared > self.app.max_body_size as u64
            && !(declared <= self.app.uploads.max_upload_size && is_multipart(&parts))
        {
            return (Either::Left(ready(body_too_large())), None);
        }
        let path = strip_root(&self.limits.root_path, parts.uri.path());
        let (op, params) = match self.router.route(&parts.method, path) {
            RouteMatch::Found(op, params) => (op, params),
            RouteMatch::MethodNotAllowed(allow) => {
                if let Some(connection) = connection {
                    parts.extensions.insert(connection);
                }
                let error = HttpError::new(405, "Method Not Allowed")
                    .with_header(ALLOW.as_str(), allow.to_str().unwrap_or(""));
                let resp = self.app.handlers.answer(&parts, error.into_response());
                return (Either::Left(ready(resp)), None);
            }
            RouteMatch::NotFound => {
                if let Some(connection) = connection {
                    parts.extensions.insert(connection);
                }
                if let Some((service, rest)) = self.mount_for(path) {
                    let mut service = service.clone();
                    let mut uri = rest;
                    if let Some(query) = parts.uri.query() {
                        uri.push('?');
                        uri.push_str(query);
                    }
                    if let Ok(uri) = uri.parse() {
                        parts.uri = uri;
                    }
                    let head = parts.clone();
                    let mounted = service.call(http::Request::from_parts(parts, body));
                    let core = Arc::clone(self);
                    let answer = Box::pin(async move {
                        let resp = match mounted.await {
                            Ok(resp) => resp,
                            Err(never) => match never {},
                        };
                        core.app.handlers.answer(&head, resp)
                    });
                    return (Either::Right(Either::Right(answer)), None);
                }
                let resp = self.not_found(&parts);
                let resp = self.app.handlers.answer(&parts, resp);
                return (Either::Left(ready(resp)), None);
            }
        };
        let slot = match self.limits.concurrency {
            Some(limit) => match InFlight::enter(self, limit) {
                Some(slot) => Some(slot),
                None => {
                    static FULL: RateLimited = RateLimited::new(Duration::from_secs(10));
                    if let Some(count) = FULL.hit() {
                        tracing::warn!(
                            limit,
                            answered_503 = count,
                            "--limit-concurrency reached; answering 503 (logged at most every 10 s)"
                        );
                    }
                    let resp = HttpError::new(503, "Service Unavailable").into_response();
                    return (Either::Left(ready(resp)), Some(op.path));
                }
            },
            None => None,
        };
        let answer = match &op.service {
            // Router layers around this operation: through them.
            Some(service) => {
                parts.extensions.insert(PathParams(params));
                if let Some(connection) = connection {
                    parts.extensions.insert(connection);
                }
                let layered = service.clone().call(http::Request::from_parts(parts, body));
                let answer: Pin<Box<dyn Future<Output = Response> + Send>> = Box::pin(async move {
                    let resp = match layered.await {
                        Ok(resp) => resp,
                        Err(never) => match never {},
                    };
                    drop(slot);
                    resp
                });
                Either::Right(Either::Right(answer))
            }
            // Boxed: the operation's future is most of a request's state;
            // kept inline, every future around it would be as large, and
            // each one is moved (copied whole) as it is created.
            None => {
                let timeout = op.timeout.or(self.limits.request_timeout);
                let run = Box::pin(crate::routing::run(
                    Arc::clone(&self.app),
                    op.handler,
                    Arc::clone(&op.route),
                    timeout,
                    parts,
                    body,
                    params,
                    connection,
                ));
                Either::Right(Either::Left(Operation { run, _slot: slot }))
            }
        };
        (answer, Some(op.path))
    }

    /// 404, or FastAPI's 307 to the same path with (or without) a trailing
    /// slash when that one exists.
    fn not_found(&self, parts: &http::request::Parts) -> Response {
        let path = strip_root(&self.limits.root_path, parts.uri.path());
        let Some(other) = self.router.slash_redirect(path) else {
            return HttpError::not_found("Not Found").into_response();
        };
        let host = parts
            .headers
            .get(http::header::HOST)
            .and_then(|h| h.to_str().ok())
            .or_else(|| parts.uri.authority().map(|a| a.as_str()));
        let scheme = parts.uri.scheme_str().unwrap_or_else(|| {
            parts
                .extensions
                .get::<ConnectionInfo>()
                .map_or("http", |c| c.scheme().as_str())
        });
        let root = &self.limits.root_path;
        let mut location = match host {
            Some(host) => format!("{scheme}://{host}{root}{other}"),
            None => format!("{root}{other}"),
        };
        if let Some(query) = parts.uri.query() {
            location.push('?');
            location.push_str(query);
        }
        let mut resp = http::Response::new(Body::empty());
        *resp.status_mut() = StatusCode::TEMPORARY_REDIRECT;
        if let Ok(value) = http::HeaderValue::from_str(&location) {
            resp.headers_mut().insert(http::header::LOCATION, value);
        }
        resp
    }
}

/// The path to route: without `root` when it starts with it (a proxy that
/// did not strip the prefix), as FastAPI's `root_path` allows.
fn strip_root<'a>(root: &str, path: &'a str) -> &'a str {
    if root.is_empty() {
        return path;
    }
    match path.strip_prefix(root) {
        Some("") => "/",
        Some(rest) if rest.starts_with('/') => rest,
        _ => path,
    }
}

/// Whether the head declares a body larger than `max` (413 at once: the
/// client is not made to send it, nor, with `Expect: 100-continue`, told to).
fn is_multipart(parts: &http::request::Parts) -> bool {
    parts
        .headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| {
            ct.trim_start()
                .get(..19)
                .is_some_and(|p| p.eq_ignore_ascii_case("multipart/form-data"))
        })
}

/// The body length the request declares (`Content-Length`), if any.
fn declared_length(parts: &http::request::Parts) -> Option<u64> {
    parts
        .headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
}

/// One request counted against `--limit-concurrency`.
struct InFlight(Arc<Core>);

impl InFlight {
    fn enter(core: &Arc<Core>, limit: usize) -> Option<Self> {
        if core.in_flight.fetch_add(1, Ordering::AcqRel) >= limit {
            core.in_flight.fetch_sub(1, Ordering::AcqRel);
            return None;
        }
        Some(InFlight(Arc::clone(core)))
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// What [`Core::call`] returns: an answer known at once (404, 405, 413,
/// 503), the operation, or a mounted app or router layers (boxed; rare).
pub(crate) type CallFuture =
    Either<Ready<Response>, Either<Operation, Pin<Box<dyn Future<Output = Response> + Send>>>>;

/// An operation running for one request, under its `--limit-concurrency`
/// slot.
pub(crate) struct Operation {
    run: Pin<Box<dyn Future<Output = Response> + Send>>,
    _slot: Option<InFlight>,
}

impl Future for Operation {
    type Output = Response;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Response> {
        self.run.as_mut().poll(cx)
    }
}

/// [`Core`] as a tower service: the innermost service app-wide layers wrap.
#[derive(Clone)]
struct CoreService(Arc<Core>);

impl Service<http::Request<Body>> for CoreService {
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<Body>) -> Self::Future {
        // Inside app-wide layers: they may read the route, and the
        // connection is in the request's extensions already.
        let (answer, route) = self.0.call(req, None);
        Box::pin(answer.map(move |mut resp| {
            if let Some(route) = route {
                resp.extensions_mut().insert(MatchedPath(route));
            }
            Ok(resp)
        }))
    }
}

/// The whole app, as every transport (the server, the
/// [`TestClient`](crate::TestClient)) calls it.
pub struct AppService {
    pub(crate) core: Arc<Core>,
    /// The app-wide layers around the core, if there are any (without
    /// them, requests go to the core directly, unboxed).
    layered: Option<BoxService>,
    limits: Limits,
    served: AtomicU64,
    retire: tokio::sync::Notify,
    startup: Mutex<Vec<Hook>>,
    shutdown: Mutex<Vec<Hook>>,
    pub(crate) docs: Arc<crate::openapi::Docs>,
    /// The Prometheus endpoint's counters, when it is on.
    pub(crate) metrics: Option<Arc<Recorder>>,
}

impl AppService {
    pub(crate) fn new(
        core: Arc<Core>,
        layers: Vec<LayerFn>,
        limits: Limits,
        hooks: (Vec<Hook>, Vec<Hook>),
        docs: Arc<crate::openapi::Docs>,
        metrics: Option<Arc<Recorder>>,
    ) -> Arc<Self> {
        let layered = (!layers.is_empty()).then(|| {
            layers.iter().fold(
                BoxCloneSyncService::new(CoreService(Arc::clone(&core))),
                |svc, layer| layer(svc),
            )
        });
        Arc::new(AppService {
            core,
            layered,
            limits,
            served: AtomicU64::new(0),
            retire: tokio::sync::Notify::new(),
            startup: Mutex::new(hooks.0),
            shutdown: Mutex::new(hooks.1),
            docs,
            metrics,
        })
    }

    /// The context every request shares (state, executor, limits).
    pub fn context(&self) -> &Arc<AppContext> {
        &self.core.app
    }

    /// Answers one request. Never fails: every problem becomes a response,
    /// including a panicking layer or middleware (500).
    ///
    /// What can be done before the first poll is done here; the future
    /// returned holds the request once, inside the app's future. (As an
    /// `async fn`, each level kept its own copy of the request in its state
    /// and the future handed to hyper was 3.4 KB, copied whole as each level
    /// was built.)
    ///
    /// The client and scheme are read from the request's extensions
    /// ([`ConnectionInfo`]); without one, the request is an in-process
    /// caller's.
    pub fn handle(
        self: &Arc<Self>,
        req: http::Request<Body>,
    ) -> impl Future<Output = Response> + Send + use<> {
        self.handle_from(req, None)
    }

    /// [`handle`](Self::handle) for a request the server read from
    /// `connection`: handed over beside the request rather than inside its
    /// extensions, which only tower layers need.
    pub(crate) fn handle_from(
        self: &Arc<Self>,
        mut req: http::Request<Body>,
        mut connection: Option<ConnectionInfo>,
    ) -> impl Future<Output = Response> + Send + use<> {
        if self.layered.is_some()
            && let Some(connection) = connection.take()
        {
            req.extensions_mut().insert(connection);
        }
        let started = Instant::now();
        let span = self.request_span(&req);
        #[cfg(feature = "otel")]
        if !span.is_disabled() {
            crate::logging::otel::adopt_parent(&span, req.headers());
        }
        if span.is_disabled() && !self.limits.access_log && self.metrics.is_none() {
            // Nothing to observe: the fast path.
            return Either::Left(self.answer(req, connection).0);
        }
        let method = req.method().clone();
        let logged = self.limits.access_log;
        let uri = logged.then(|| req.uri().clone());
        let client = logged
            .then(|| {
                connection
                    .clone()
                    .or_else(|| req.extensions().get::<ConnectionInfo>().cloned())
            })
            .flatten();
        let observed = !span.is_disabled() || logged;
        let (trace_id, request_id) = if observed {
            let (given_id, traceparent) = request_id_and_traceparent(req.headers());
            let trace_id = traceparent
                .and_then(|v| v.to_str().ok())
                .and_then(trace_id_of)
                .map(str::to_owned);
            (trace_id, Some(RequestId::given_or_made(given_id)))
        } else {
            (None, None)
        };
        if let Some(id) = &trace_id {
            span.record("trace_id", id.as_str());
        }
        if let Some(id) = &request_id {
            span.record("request_id", tracing::field::display(id));
        }
        // Without app-wide layers the route is known now; with them, it is
        // read from the response (see `CoreService`).
        let (answer, known_route) = self.answer(req, connection);
        let answer = answer.instrument(span.clone());
        let metrics = self.metrics.clone();
        Either::Right(async move {
            let in_flight = metrics.as_deref().map(Recorder::enter);
            let resp = answer.await;
            drop(in_flight);
            let route = known_route.or_else(|| resp.extensions().get::<MatchedPath>().map(|m| m.0));
            if let Some(route) = route {
                span.record("route", route);
            }
            if let Some(metrics) = &metrics
                && route != Some(metrics.url())
            {
                metrics.record(&method, route, resp.status().as_u16(), started.elapsed());
            }
            if let Some(uri) = uri {
                let _entered = span.enter();
                access_log(&crate::logging::AccessRecord {
                    method: method.as_str(),
                    path: &uri,
                    route: route.unwrap_or("-"),
                    status: resp.status().as_u16(),
                    duration_ms: started.elapsed().as_micros() as f64 / 1000.0,
                    client: client.as_ref(),
                    request_id: request_id.as_ref().unwrap_or(&RequestId::None),
                    trace_id: trace_id.as_deref(),
                });
            }
            resp
        })
    }

    /// The span a request runs in (see [`Limits::json_logs`]).
    fn request_span(&self, req: &http::Request<Body>) -> tracing::Span {
        // Field values are only computed when the span is enabled; the ids
        // are recorded by `handle`.
        if self.limits.json_logs {
            tracing::info_span!(target: "brisk::request", "request",
                method = %req.method(),
                route = tracing::field::Empty,
                request_id = tracing::field::Empty,
                trace_id = tracing::field::Empty,
            )
        } else {
            tracing::debug_span!(target: "brisk::request", "request",
                method = %req.method(),
                route = tracing::field::Empty,
                request_id = tracing::field::Empty,
                trace_id = tracing::field::Empty,
            )
        }
    }

    /// The app's answer, and the process-wide request count; with the
    /// matched route's template when it is known before the answer (no
    /// app-wide layers: see [`Core::call`]).
    fn answer(
        self: &Arc<Self>,
        req: http::Request<Body>,
        connection: Option<ConnectionInfo>,
    ) -> (
        impl Future<Output = Response> + Send + use<>,
        Option<&'static str>,
    ) {
        let (answer, route) = match &self.layered {
            None => {
                let (answer, route) = self.core.call(req, connection);
                (Either::Left(answer), route)
            }
            Some(service) => (
                Either::Right(
                    AssertUnwindSafe(service.clone().call(req))
                        .catch_unwind()
                        .map(layered_answer),
                ),
                None,
            ),
        };
        if self.limits.max_requests.is_none() {
            return (Either::Left(answer), route);
        }
        let this = Arc::clone(self);
        let counted = async move {
            let resp = answer.await;
            if let Some(max) = this.limits.max_requests
                && this.served.fetch_add(1, Ordering::Relaxed) + 1 == max
            {
                tracing::info!(
                    requests = max,
                    "reached --limit-max-requests; retiring this process gracefully"
                );
                this.retire.notify_one();
            }
            resp
        };
        (Either::Right(counted), route)
    }

    /// Resolves once this process has served `--limit-max-requests` requests.
    pub(crate) async fn retired(&self) {
        if self.limits.max_requests.is_none() {
            return std::future::pending().await;
        }
        self.retire.notified().await;
    }

    /// The OpenAPI document.
    pub(crate) fn openapi_value(&self) -> serde_json::Value {
        serde_json::from_slice(&self.docs.document()).expect("the OpenAPI document is valid JSON")
    }

    /// Takes the startup (or shutdown) hooks; they run once.
    pub(crate) fn take_hooks(&self, startup: bool) -> Vec<Hook> {
        let hooks = if startup {
            &self.startup
        } else {
            &self.shutdown
        };
        std::mem::take(&mut *hooks.lock().expect("hooks lock"))
    }
}

/// The app-wide layers' answer; a panic in one of them becomes a 500.
fn layered_answer(
    outcome: Result<Result<Response, Infallible>, Box<dyn std::any::Any + Send>>,
) -> Response {
    match outcome {
        Ok(Ok(resp)) => resp,
        Ok(Err(never)) => match never {},
        Err(panic) => {
            let message = crate::error::panic_message(&panic).to_owned();
            tracing::error!(
                panic = message,
                "a layer or middleware panicked; answered 500, still serving"
            );
            crate::error::panic_response(message)
        }
    }
}

/// One line per request, target `brisk::access`, at `info`: `method`,
/// `path` (with the query), `route` (the template, `-` if none matched),
/// `status`, `duration_ms` (until the response head), `client` (`host:port`,
/// behind a trusted proxy the forwarded client) and `request_id` (the
/// request's `X-Request-ID`, or one made up).
fn access_log(record: &crate::logging::AccessRecord<'_>) {
    // brisk's own subscriber: written straight into its queue.
    if crate::logging::write_access(record) {
        return;
    }
    tracing::info!(
        target: "brisk::access",
        method = %record.method,
        path = %record.path,
        route = record.route,
        status = record.status,
        duration_ms = record.duration_ms,
        client = %ClientOrDash(record.client),
        request_id = %record.request_id,
        trace_id = record.trace_id,
    );
}

/// The access line's client as `tracing` writes it: `host:port`, or `-`.
struct ClientOrDash<'a>(Option<&'a ConnectionInfo>);

impl std::fmt::Display for ClientOrDash<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Some(client) => client.fmt(f),
            None => f.write_str("-"),
        }
    }
}

/// The request's first `X-Request-ID` and `traceparent` values, found in
/// one pass over the header names: most requests carry neither, and two
/// lookups by name (each hashing the name) cost more than comparing a
/// handful of names (callgrind, bench/tools/instructions_per_request.sh).
fn request_id_and_traceparent(
    headers: &http::HeaderMap,
) -> (Option<&http::HeaderValue>, Option<&http::HeaderValue>) {
    let (mut request_id, mut traceparent) = (None, None);
    for (name, value) in headers {
        if request_id.is_none() && *name == crate::logging::X_REQUEST_ID {
            request_id = Some(value);
        } else if traceparent.is_none() && *name == TRACEPARENT {
            traceparent = Some(value);
        }
    }
    (request_id, traceparent)
}

/// The trace id of a W3C `traceparent` header (`00-<32 hex>-<16 hex>-<2 hex>`),
/// so that log lines can be matched with the caller's trace.
fn trace_id_of(traceparent: &str) -> Option<&str> {
    let mut parts = traceparent.trim().split('-');
    let (_version, trace, parent, _flags) =
        (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    let hex = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_hexdigit());
    (hex(trace, 32) && hex(parent, 16) && trace.bytes().any(|b| b != b'0')).then_some(trace)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_request_id_and_traceparent_are_found_among_other_headers() {
        let mut headers = http::HeaderMap::new();
        let (id, parent) = request_id_and_traceparent(&headers);
        assert!(id.is_none() && parent.is_none());
        headers.insert(http::header::HOST, "x".parse().unwrap());
        headers.append("traceparent", "first-parent".parse().unwrap());
        headers.append("X-Request-ID", "first-id".parse().unwrap());
        headers.append("x-request-id", "second-id".parse().unwrap());
        headers.append("traceparent", "second-parent".parse().unwrap());
        headers.insert("x-other", "y".parse().unwrap());
        let (id, parent) = request_id_and_traceparent(&headers);
        assert_eq!(id, headers.get("x-request-id"));
        assert_eq!(id.unwrap(), "first-id");
        assert_eq!(parent.unwrap(), "first-parent");
    }
}
