//! [`RequestContext`]: one request on its way through extraction, and what
//! it shares with every other request of the app ([`AppContext`]) and of its
//! route ([`RouteInfo`]).

use std::any::{Any, TypeId};
use std::future::Future;
use std::sync::{Arc, RwLock};

use bytes::Bytes;
use http::{Method, StatusCode};
use http_body_util::{BodyExt, Limited};
use sync_wrapper::SyncWrapper;

use super::{ErasedRun, Rejection, StateMap, body};
use crate::body::Body;
use crate::error::{ExceptionHandlers, HttpError};
use crate::exec::scope::RequestScope;
use crate::exec::{ThreadPool, Watchdog};
use crate::response::{CloseConnection, IntoResponse};

/// What every request of an app shares: limits, typed state, the executor
/// (thread pool and watchdog) and dependency overrides.
///
/// Built by the app when it starts; reached by extractors through the
/// [`RequestContext`].
pub struct AppContext {
    /// The largest accepted request body (413 beyond).
    pub(crate) max_body_size: usize,
    /// Typed application state ([`State<T>`](super::State)).
    pub(crate) state: StateMap,
    /// The bounded thread pool for plain `fn` code.
    pub(crate) pool: Arc<ThreadPool>,
    /// The blocking watchdog of `async fn` code.
    pub(crate) watchdog: Arc<Watchdog>,
    /// Dependency overrides, by the overridden dependency's type.
    overrides: RwLock<Vec<(TypeId, ErasedRun)>>,
    /// The app's exception handlers (`App::exception_handler`).
    pub(crate) handlers: ExceptionHandlers,
    /// WebSocket limits and keep-alive pings.
    pub(crate) websocket: WebSocketSettings,
    /// Limits on form bodies and uploads.
    pub(crate) uploads: super::UploadLimits,
}

/// WebSocket limits and keep-alive pings, from the server configuration
/// (`--ws-max-message-size`, `--ws-max-frame-size`, `--ws-ping-interval`,
/// `--ws-ping-timeout`, `--ws-max-queue`).
///
/// ```
/// let settings = brisk::params::WebSocketSettings::default();
/// assert_eq!(settings.max_message_size, 16 * 1024 * 1024);
/// ```
#[derive(Debug, Clone, Copy)]
pub struct WebSocketSettings {
    /// The largest message in bytes, reassembled from its frames; larger:
    /// the connection is closed with 1009.
    pub max_message_size: usize,
    /// The largest single frame in bytes; larger: closed with 1009.
    pub max_frame_size: usize,
    /// How often the server pings an open connection (`None`: never).
    pub ping_interval: Option<std::time::Duration>,
    /// How long a ping may go unanswered before the connection is closed
    /// with 1011.
    pub ping_timeout: std::time::Duration,
    /// Received messages buffered for a handler that has not asked for them
    /// yet; beyond it the server stops reading (backpressure).
    pub max_queue: usize,
}

impl Default for WebSocketSettings {
    /// uvicorn's defaults: 16 MiB messages, a ping every 20 s answered
    /// within 20 s, 32 queued messages.
    fn default() -> Self {
        WebSocketSettings {
            max_message_size: 16 * 1024 * 1024,
            max_frame_size: 16 * 1024 * 1024,
            ping_interval: Some(std::time::Duration::from_secs(20)),
            ping_timeout: std::time::Duration::from_secs(20),
            max_queue: 32,
        }
    }
}

impl AppContext {
    pub(crate) fn new(
        max_body_size: usize,
        state: StateMap,
        pool: Arc<ThreadPool>,
        watchdog: Arc<Watchdog>,
        overrides: Vec<(TypeId, ErasedRun)>,
        handlers: ExceptionHandlers,
    ) -> Self {
        AppContext {
            max_body_size,
            state,
            pool,
            watchdog,
            overrides: RwLock::new(overrides),
            handlers,
            websocket: WebSocketSettings::default(),
            uploads: super::UploadLimits::default(),
        }
    }

    /// Sets the WebSocket and upload limits (from the server configuration).
    pub(crate) fn with_input_limits(
        mut self,
        websocket: WebSocketSettings,
        uploads: super::UploadLimits,
    ) -> Self {
        self.websocket = websocket;
        self.uploads = uploads;
        self
    }

    /// The WebSocket limits and keep-alive settings.
    pub fn websocket(&self) -> &WebSocketSettings {
        &self.websocket
    }

    /// The override registered for dependency `id`, if any.
    pub(crate) fn dependency_override(&self, id: TypeId) -> Option<ErasedRun> {
        let overrides = self.overrides.read().expect("overrides lock");
        overrides
            .iter()
            .find(|(k, _)| *k == id)
            .map(|(_, run)| *run)
    }

    /// Sets or replaces an override at run time (TestClient).
    pub(crate) fn set_override(&self, id: TypeId, run: ErasedRun) {
        let mut overrides = self.overrides.write().expect("overrides lock");
        overrides.retain(|(k, _)| *k != id);
        overrides.push((id, run));
    }

    /// The app's thread pool.
    pub fn pool(&self) -> &Arc<ThreadPool> {
        &self.pool
    }

    /// The app's blocking watchdog.
    pub fn watchdog(&self) -> &Arc<Watchdog> {
        &self.watchdog
    }
}

/// What extraction and execution need to know about the route a request
/// was routed to ([`RequestContext::route`]).
///
/// ```
/// use brisk::params::{FromRequest, ParamSpec, Rejection, RequestContext};
///
/// /// The route template the request matched, e.g. for metrics labels.
/// struct Template(&'static str);
///
/// impl FromRequest for Template {
///     async fn from_request(cx: &mut RequestContext, _: &'static ParamSpec) -> Result<Self, Rejection> {
///         Ok(Template(cx.route().path))
///     }
/// }
/// ```
#[derive(Debug)]
pub struct RouteInfo {
    /// The route's index in the app (the watchdog's key).
    pub(crate) id: usize,
    /// The HTTP method.
    pub method: Method,
    /// The path template (`/items/{item_id}`).
    pub path: &'static str,
    /// The status of a successful answer (`status = 201`).
    pub status: StatusCode,
    /// Dependencies run for their side effects before the parameters.
    pub(crate) dependencies: Vec<ErasedRun>,
}

impl RouteInfo {
    pub(crate) fn new(
        id: usize,
        method: Method,
        path: &'static str,
        status: StatusCode,
        dependencies: Vec<ErasedRun>,
    ) -> Self {
        RouteInfo {
            id,
            method,
            path,
            status,
            dependencies,
        }
    }
}

/// One request on its way through extraction.
///
/// Holds the request head, the body (read at most once, on demand), the path
/// parameters the router matched, and the parsed query string (parsed at most
/// once, on demand).
pub struct RequestContext {
    pub(crate) parts: http::request::Parts,
    /// The body; after it has been read, a buffered copy of it.
    /// `SyncWrapper`: only reachable through `&mut self` (see `dep_cache`).
    body: SyncWrapper<Option<Body>>,
    pub(crate) path_params: Vec<(Box<str>, String)>,
    query: Option<Vec<(String, String)>>,
    pub(crate) app: Arc<AppContext>,
    route: Arc<RouteInfo>,
    /// Outputs of cached dependencies, by dependency type (a handful at most,
    /// so a vector beats a map). `SyncWrapper`: only reachable through
    /// `&mut self`, so the context stays `Sync` for futures that borrow it.
    dep_cache: SyncWrapper<Vec<(TypeId, Box<dyn Any + Send>)>>,
    /// Teardown and background work for after the response.
    scope: SyncWrapper<RequestScope>,
    /// The body parsed once for embedded body parameters.
    pub(crate) embedded: Option<body::EmbeddedBody>,
    /// A WebSocket handshake in progress (`ws::handshake`), for the
    /// `WebSocket` parameter and the code that answers it. Typed `Any`
    /// because `ws` comes after `params` in the module chain.
    pub(crate) websocket: SyncWrapper<Option<Box<dyn Any + Send>>>,
    /// The form body, parsed once for form and file parameters.
    pub(crate) form: Option<Box<super::form::ParsedForm>>,
    /// The client and scheme, when the server handed them over directly
    /// instead of through the request's extensions (see `connection_info`).
    connection: Option<crate::connection::ConnectionInfo>,
}

impl RequestContext {
    pub(crate) fn new(
        parts: http::request::Parts,
        body: Body,
        path_params: Vec<(Box<str>, String)>,
        app: Arc<AppContext>,
        route: Arc<RouteInfo>,
        connection: Option<crate::connection::ConnectionInfo>,
    ) -> Self {
        RequestContext {
            parts,
            body: SyncWrapper::new(Some(body)),
            path_params,
            query: None,
            app,
            route,
            dep_cache: SyncWrapper::new(Vec::new()),
            scope: SyncWrapper::new(RequestScope::default()),
            embedded: None,
            websocket: SyncWrapper::new(None),
            form: None,
            connection,
        }
    }

    /// Puts the client and scheme the server handed over into the request's
    /// extensions, for code that reads them there (exception handlers).
    pub(crate) fn connection_into_extensions(&mut self) {
        if let Some(connection) = self.connection.take() {
            self.parts.extensions.insert(connection);
        }
    }

    /// The request's client and scheme: handed over by the server, or in
    /// the request's extensions (behind tower layers, which may read them
    /// there), or an in-process caller's (the `TestClient`).
    pub(crate) fn connection_info(&self) -> crate::connection::ConnectionInfo {
        self.connection
            .as_ref()
            .or_else(|| self.parts.extensions.get())
            .cloned()
            .unwrap_or_else(crate::connection::ConnectionInfo::in_process)
    }

    /// The WebSocket handshake slot (see the field).
    pub(crate) fn websocket_slot(&mut self) -> &mut Option<Box<dyn Any + Send>> {
        self.websocket.get_mut()
    }

    /// The app context, shared.
    pub(crate) fn app_arc(&self) -> &Arc<AppContext> {
        &self.app
    }

    pub(crate) fn dep_cache(&mut self) -> &mut Vec<(TypeId, Box<dyn Any + Send>)> {
        self.dep_cache.get_mut()
    }

    pub(crate) fn scope(&mut self) -> &mut RequestScope {
        self.scope.get_mut()
    }

    /// The route this request was routed to.
    pub fn route(&self) -> &RouteInfo {
        &self.route
    }

    pub(crate) fn route_arc(&self) -> &Arc<RouteInfo> {
        &self.route
    }

    /// The app-wide context (state, executor, limits).
    pub fn app(&self) -> &AppContext {
        &self.app
    }

    /// The request head (method, URI, version, headers, extensions).
    pub fn parts(&self) -> &http::request::Parts {
        &self.parts
    }

    /// Runs user async code (a handler's or a dependency's future): on the
    /// event loop, watched by the blocking watchdog; or, once the watchdog has
    /// contained the route, on the thread pool (driven there by
    /// `Handle::block_on`, so its timers and I/O still work).
    pub async fn run_async<F>(&self, fut: F) -> F::Output
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        crate::exec::run_watched(&self.app.watchdog, &self.app.pool, self.route.id, fut).await
    }

    /// Runs user blocking code (a plain `fn` handler or dependency) on the
    /// app's bounded thread pool.
    pub async fn run_sync<F, R>(&self, f: F) -> R
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        self.app.pool.run(f).await
    }

    /// The request method.
    pub fn method(&self) -> &http::Method {
        &self.parts.method
    }

    /// The request URI.
    pub fn uri(&self) -> &http::Uri {
        &self.parts.uri
    }

    /// The request headers.
    pub fn headers(&self) -> &http::HeaderMap {
        &self.parts.headers
    }

    /// The request extensions (e.g. the client address).
    pub fn extensions(&self) -> &http::Extensions {
        &self.parts.extensions
    }

    /// A path parameter's raw (percent-decoded) value.
    pub fn path_param(&self, name: &str) -> Option<&str> {
        self.path_params
            .iter()
            .find(|(k, _)| &**k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of a query parameter, in order.
    pub fn query_values<'a>(&'a mut self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        if self.query.is_none() {
            let raw = self.parts.uri.query().unwrap_or("");
            self.query = Some(
                form_urlencoded::parse(raw.as_bytes())
                    .map(|(k, v)| (k.into_owned(), v.into_owned()))
                    .collect(),
            );
        }
        self.query
            .as_deref()
            .unwrap_or_default()
            .iter()
            .filter(move |(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Reads the whole body (once; later calls get the same bytes), enforcing
    /// the app's body size limit (413) and the server's body deadlines (408).
    pub async fn body_bytes(&mut self) -> Result<Bytes, Rejection> {
        let body = self.body.get_mut().take().unwrap_or_default();
        let buffered = body.as_bytes().map(<[u8]>::len);
        let bytes = match buffered {
            // Already in memory (the TestClient, a second read): no copy.
            Some(len) if len <= self.app.max_body_size => {
                body.collect_bytes().await.unwrap_or_default()
            }
            _ => match Limited::new(body, self.app.max_body_size).collect().await {
                Ok(collected) => collected.to_bytes(),
                Err(err) if err.is::<http_body_util::LengthLimitError>() => {
                    return Err(Rejection::Respond(crate::response::body_too_large()));
                }
                Err(err) if crate::body::is_body_timeout(&*err) => {
                    tracing::debug!(error = %err, "request body timed out; answering 408");
                    let mut resp = HttpError::new(408, "Request Timeout").into_response();
                    resp.extensions_mut().insert(CloseConnection);
                    return Err(Rejection::Respond(resp));
                }
                Err(err) => {
                    tracing::debug!(error = %err, "could not read the request body");
                    let mut resp =
                        HttpError::bad_request("Could not read the request body").into_response();
                    resp.extensions_mut().insert(CloseConnection);
                    return Err(Rejection::Respond(resp));
                }
            },
        };
        *self.body.get_mut() = Some(Body::from(bytes.clone()));
        Ok(bytes)
    }

    /// Takes the body to read it as a stream (a multipart form); later
    /// reads find it empty.
    pub(crate) fn take_body(&mut self) -> Body {
        self.body.get_mut().take().unwrap_or_default()
    }

    /// The body, if it has been read: as JSON when it parses, else as text.
    pub(crate) fn received_body(&mut self) -> Option<serde_json::Value> {
        let body = self.body.get_mut().as_ref()?;
        let bytes = body.as_bytes().filter(|b| !b.is_empty())?;
        serde_json::from_slice(bytes)
            .ok()
            .or_else(|| Some(String::from_utf8_lossy(bytes).into_owned().into()))
    }

    /// Typed application state registered with [`App::state`](crate::App::state).
    pub fn state<T: Send + Sync + 'static>(&self) -> Option<Arc<T>> {
        self.app.state.get::<T>()
    }
}
