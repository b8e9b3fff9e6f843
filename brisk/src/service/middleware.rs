//! Middleware: FastAPI's `@app.middleware("http")` as one async function
//! ([`from_fn`], [`Next`]), and the middleware FastAPI apps add most,
//! configured with Starlette's names and answering with Starlette's
//! semantics: [`Cors`], [`GZip`], [`TrustedHost`], [`HttpsRedirect`].
//!
//! Every one of them is a tower layer, added with
//! [`App::layer`](crate::App::layer) (app-wide: it sees 404s, 405s and the
//! documentation too) or [`ApiRouter::layer`](crate::routing::ApiRouter::layer)
//! (that router's operations only); any tower-http layer plugs in the same
//! way. A function added with [`App::middleware`](crate::App::middleware)
//! is also watched by the blocking watchdog, like a handler.
//!
//! ```
//! use std::time::Instant;
//! use brisk::prelude::*;
//! use brisk::middleware::{Cors, GZip, Next, Request};
//! use brisk::response::Response;
//!
//! /// FastAPI's `add_process_time_header`.
//! async fn process_time(req: Request, next: Next) -> Response {
//!     let started = Instant::now();
//!     let mut resp = next.run(req).await;
//!     let took = format!("{:.6}", started.elapsed().as_secs_f64());
//!     resp.headers_mut().insert("x-process-time", took.parse().unwrap());
//!     resp
//! }
//!
//! #[get("/")]
//! async fn root() -> &'static str { "hi" }
//!
//! let app = App::new()
//!     .routes(routes![root])
//!     .middleware(process_time)
//!     .layer(GZip::new().minimum_size(1000))
//!     .layer(Cors::new().allow_origins(["http://localhost:3000"]));
//! let resp = brisk::TestClient::new(app).get("/").send();
//! assert!(resp.header("x-process-time").is_some());
//! ```

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::header::{self, HeaderName, HeaderValue};
use http::{Method, StatusCode};
use tower::{Layer, Service};

use crate::body::Body;
use crate::exec::{ThreadPool, Watchdog};
use crate::response::{IntoResponse, Response};
use crate::routing::{BoxService, Route};

pub use crate::routing::Request;

/// The rest of the app, as a middleware function sees it: hand it the
/// request to get the response (FastAPI's `call_next`).
pub struct Next {
    inner: BoxService,
}

impl Next {
    /// Runs the rest of the app (inner layers, routing, the operation).
    pub async fn run(mut self, req: Request) -> Response {
        match self.inner.call(req).await {
            Ok(resp) => resp,
            Err(never) => match never {},
        }
    }
}

impl std::fmt::Debug for Next {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Next")
    }
}

/// Where a middleware's polls are watched: the app's watchdog, its pool
/// (for containment) and the middleware's watch id.
#[derive(Clone)]
pub(crate) struct Watch {
    pub(crate) watchdog: Arc<Watchdog>,
    pub(crate) pool: Arc<ThreadPool>,
    pub(crate) id: usize,
}

/// A tower layer from an async function `f(request, next) -> response`:
/// axum's `from_fn`, FastAPI's `@app.middleware("http")`. It can read and
/// change the request, answer without calling `next` (short-circuit), and
/// change the response.
///
/// ```
/// use brisk::prelude::*;
/// use brisk::middleware::{from_fn, Next, Request};
/// use brisk::response::{IntoResponse, Response};
///
/// /// Refuses requests without an API key, before any routing.
/// async fn require_key(req: Request, next: Next) -> Response {
///     if req.headers().contains_key("x-key") {
///         next.run(req).await
///     } else {
///         HttpError::unauthorized("No key").into_response()
///     }
/// }
///
/// #[get("/")]
/// async fn root() -> &'static str { "hi" }
///
/// let client = brisk::TestClient::new(App::new().routes(routes![root]).layer(from_fn(require_key)));
/// assert_eq!(client.get("/").send().status(), 401);
/// assert_eq!(client.get("/").header("x-key", "k").send().text(), "hi");
/// ```
pub fn from_fn<F, Fut, R>(f: F) -> FromFnLayer<F>
where
    F: Fn(Request, Next) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = R> + Send + 'static,
    R: IntoResponse + Send + 'static,
{
    FromFnLayer { f, watch: None }
}

/// The layer [`from_fn`] makes.
#[derive(Clone)]
pub struct FromFnLayer<F> {
    f: F,
    watch: Option<Watch>,
}

impl<F> FromFnLayer<F> {
    /// Watches the middleware's polls (what `App::middleware` does).
    pub(crate) fn watched(mut self, watch: Watch) -> Self {
        self.watch = Some(watch);
        self
    }
}

impl<F: Clone> Layer<Route> for FromFnLayer<F> {
    type Service = FromFn<F>;

    fn layer(&self, inner: Route) -> FromFn<F> {
        FromFn {
            f: self.f.clone(),
            inner: inner.0,
            watch: self.watch.clone(),
        }
    }
}

/// The service [`FromFnLayer`] wraps around the rest of the app.
#[derive(Clone)]
pub struct FromFn<F> {
    f: F,
    inner: BoxService,
    watch: Option<Watch>,
}

impl<F, Fut, R> Service<Request> for FromFn<F>
where
    F: Fn(Request, Next) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = R> + Send + 'static,
    R: IntoResponse + Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request) -> Self::Future {
        let next = Next {
            inner: self.inner.clone(),
        };
        let fut = (self.f)(req, next);
        match self.watch.clone() {
            None => Box::pin(async move { Ok(fut.await.into_response()) }),
            Some(w) => Box::pin(async move {
                let out = crate::exec::run_watched(&w.watchdog, &w.pool, w.id, fut).await;
                Ok(out.into_response())
            }),
        }
    }
}

// ---------------------------------------------------------------------------
// CORS, with Starlette's semantics (its `CORSMiddleware`). tower-http's
// `CorsLayer` works, but answers differently: it never refuses a preflight
// (Starlette answers 400 "Disallowed CORS origin"), and it always lists
// exactly the requested headers. Clients ported from FastAPI see Starlette's
// answers, so this follows `starlette/middleware/cors.py` line by line and is
// checked against answers recorded from it (`tests/middleware.rs`).

const ALL_METHODS: [&str; 8] = [
    "DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT", "QUERY",
];
const PREFLIGHT_VARY: &str = "Origin, Access-Control-Request-Method, Access-Control-Request-Headers, Access-Control-Request-Private-Network";
const SAFELISTED_HEADERS: [&str; 4] = [
    "Accept",
    "Accept-Language",
    "Content-Language",
    "Content-Type",
];

/// CORS, configured like Starlette's `CORSMiddleware` (FastAPI's
/// `app.add_middleware(CORSMiddleware, ...)`), with the same defaults: no
/// origin allowed, `GET` only, 600 s preflight cache.
///
/// ```
/// use brisk::prelude::*;
/// use brisk::middleware::Cors;
///
/// #[get("/")]
/// async fn root() -> &'static str { "hi" }
///
/// let app = App::new().routes(routes![root]).layer(
///     Cors::new()
///         .allow_origins(["http://localhost:3000"])
///         .allow_methods(["*"])
///         .allow_headers(["*"])
///         .allow_credentials(true),
/// );
/// let client = brisk::TestClient::new(app);
/// let preflight = client
///     .request(http::Method::OPTIONS, "/")
///     .header("origin", "http://localhost:3000")
///     .header("access-control-request-method", "POST")
///     .send();
/// assert_eq!(preflight.status(), 200);
/// assert_eq!(preflight.header("access-control-allow-origin"), Some("http://localhost:3000"));
/// ```
#[derive(Clone, Debug, Default)]
pub struct Cors {
    allow_origins: Vec<String>,
    allow_origin_regex: Option<String>,
    allow_methods: Option<Vec<String>>,
    allow_headers: Vec<String>,
    allow_credentials: bool,
    allow_private_network: bool,
    expose_headers: Vec<String>,
    max_age: Option<u64>,
}

impl Cors {
    /// Starlette's defaults: nothing allowed but `GET`.
    pub fn new() -> Self {
        Self::default()
    }

    /// Origins allowed (`"*"`: any).
    pub fn allow_origins<I: IntoIterator<Item = S>, S: Into<String>>(mut self, origins: I) -> Self {
        self.allow_origins = origins.into_iter().map(Into::into).collect();
        self
    }

    /// A regular expression origins may match in full, e.g. `https://.*\.example\.org`.
    pub fn allow_origin_regex(mut self, regex: impl Into<String>) -> Self {
        self.allow_origin_regex = Some(regex.into());
        self
    }

    /// Methods allowed for cross-origin requests (`"*"`: all); default `GET`.
    pub fn allow_methods<I: IntoIterator<Item = S>, S: Into<String>>(mut self, methods: I) -> Self {
        self.allow_methods = Some(methods.into_iter().map(Into::into).collect());
        self
    }

    /// Request headers allowed (`"*"`: any); the CORS-safelisted ones always are.
    pub fn allow_headers<I: IntoIterator<Item = S>, S: Into<String>>(mut self, headers: I) -> Self {
        self.allow_headers = headers.into_iter().map(Into::into).collect();
        self
    }

    /// Whether cookies (credentials) are allowed cross-origin.
    pub fn allow_credentials(mut self, allow: bool) -> Self {
        self.allow_credentials = allow;
        self
    }

    /// Whether preflights asking for private-network access
    /// (`Access-Control-Request-Private-Network`) are allowed.
    pub fn allow_private_network(mut self, allow: bool) -> Self {
        self.allow_private_network = allow;
        self
    }

    /// Response headers the browser may show the page.
    pub fn expose_headers<I: IntoIterator<Item = S>, S: Into<String>>(
        mut self,
        headers: I,
    ) -> Self {
        self.expose_headers = headers.into_iter().map(Into::into).collect();
        self
    }

    /// How long (seconds) browsers may cache a preflight answer; default 600.
    pub fn max_age(mut self, seconds: u64) -> Self {
        self.max_age = Some(seconds);
        self
    }

    /// The configuration compiled into what each request needs.
    fn compile(&self) -> CorsPolicy {
        let allow_methods: Vec<String> = match &self.allow_methods {
            None => vec!["GET".into()],
            Some(m) if m.iter().any(|m| m == "*") => {
                ALL_METHODS.iter().map(|m| (*m).into()).collect()
            }
            Some(m) => m.clone(),
        };
        let allow_all_origins = self.allow_origins.iter().any(|o| o == "*");
        let allow_all_headers = self.allow_headers.iter().any(|h| h == "*");
        let preflight_explicit_allow_origin = !allow_all_origins || self.allow_credentials;
        let mut simple = Vec::new();
        if allow_all_origins {
            simple.push(("access-control-allow-origin", "*".to_owned()));
        }
        if self.allow_credentials {
            simple.push(("access-control-allow-credentials", "true".to_owned()));
        }
        if !self.expose_headers.is_empty() {
            simple.push((
                "access-control-expose-headers",
                self.expose_headers.join(", "),
            ));
        }
        let mut preflight = vec![("vary", PREFLIGHT_VARY.to_owned())];
        if !preflight_explicit_allow_origin {
            // Otherwise the origin is set per request, when it is allowed.
            preflight.push(("access-control-allow-origin", "*".to_owned()));
        }
        preflight.push(("access-control-allow-methods", allow_methods.join(", ")));
        preflight.push((
            "access-control-max-age",
            self.max_age.unwrap_or(600).to_string(),
        ));
        // Starlette: sorted(SAFELISTED_HEADERS | set(allow_headers)).
        let mut allow_headers: Vec<String> = SAFELISTED_HEADERS
            .iter()
            .map(|h| (*h).to_owned())
            .chain(self.allow_headers.iter().cloned())
            .collect();
        allow_headers.sort();
        allow_headers.dedup();
        if !allow_all_headers {
            preflight.push(("access-control-allow-headers", allow_headers.join(", ")));
        }
        if self.allow_credentials {
            preflight.push(("access-control-allow-credentials", "true".to_owned()));
        }
        CorsPolicy {
            allow_origins: self.allow_origins.clone(),
            allow_origin_regex: self.allow_origin_regex.as_ref().map(|r| {
                regex::Regex::new(&format!("^(?:{r})$"))
                    .unwrap_or_else(|e| panic!("brisk: Cors::allow_origin_regex({r:?}): {e}"))
            }),
            allow_methods,
            allow_headers: allow_headers
                .iter()
                .map(|h| h.to_ascii_lowercase())
                .collect(),
            allow_all_origins,
            allow_all_headers,
            allow_credentials: self.allow_credentials,
            allow_private_network: self.allow_private_network,
            preflight_explicit_allow_origin,
            simple: to_headers(simple),
            preflight: to_headers(preflight),
        }
    }
}

fn to_headers(pairs: Vec<(&'static str, String)>) -> Vec<(HeaderName, HeaderValue)> {
    pairs
        .into_iter()
        .filter_map(|(k, v)| Some((HeaderName::from_static(k), HeaderValue::from_str(&v).ok()?)))
        .collect()
}

#[derive(Debug)]
struct CorsPolicy {
    allow_origins: Vec<String>,
    allow_origin_regex: Option<regex::Regex>,
    allow_methods: Vec<String>,
    allow_headers: Vec<String>,
    allow_all_origins: bool,
    allow_all_headers: bool,
    allow_credentials: bool,
    allow_private_network: bool,
    preflight_explicit_allow_origin: bool,
    simple: Vec<(HeaderName, HeaderValue)>,
    preflight: Vec<(HeaderName, HeaderValue)>,
}

impl CorsPolicy {
    fn is_allowed_origin(&self, origin: &str) -> bool {
        self.allow_all_origins
            || self
                .allow_origin_regex
                .as_ref()
                .is_some_and(|re| re.is_match(origin))
            || self.allow_origins.iter().any(|o| o == origin)
    }

    fn preflight(&self, headers: &http::HeaderMap, origin: &HeaderValue) -> Response {
        let mut out = http::HeaderMap::new();
        for (k, v) in &self.preflight {
            out.insert(k.clone(), v.clone());
        }
        let mut failures = Vec::new();
        if self.is_allowed_origin(origin.to_str().unwrap_or("")) {
            if self.preflight_explicit_allow_origin {
                out.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
            }
        } else {
            failures.push("origin");
        }
        let requested_method = headers
            .get(header::ACCESS_CONTROL_REQUEST_METHOD)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if !self.allow_methods.iter().any(|m| m == requested_method) {
            failures.push("method");
        }
        let requested_headers = headers.get(header::ACCESS_CONTROL_REQUEST_HEADERS);
        if self.allow_all_headers
            && let Some(requested) = requested_headers
        {
            out.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, requested.clone());
        } else if let Some(requested) = requested_headers.and_then(|v| v.to_str().ok()) {
            let disallowed = requested
                .split(',')
                .map(|h| h.trim().to_ascii_lowercase())
                .any(|h| !self.allow_headers.contains(&h));
            if disallowed {
                failures.push("headers");
            }
        }
        if headers.contains_key("access-control-request-private-network") {
            if self.allow_private_network {
                out.insert(
                    HeaderName::from_static("access-control-allow-private-network"),
                    HeaderValue::from_static("true"),
                );
            } else {
                failures.push("private-network");
            }
        }
        let (status, text) = if failures.is_empty() {
            (StatusCode::OK, "OK".to_owned())
        } else {
            (
                StatusCode::BAD_REQUEST,
                format!("Disallowed CORS {}", failures.join(", ")),
            )
        };
        let mut resp = text.into_response();
        *resp.status_mut() = status;
        resp.headers_mut().extend(out);
        resp
    }

    fn decorate(&self, origin: Option<&HeaderValue>, resp: &mut Response) {
        let headers = resp.headers_mut();
        if origin.is_some() {
            for (k, v) in &self.simple {
                headers.insert(k.clone(), v.clone());
            }
        }
        let explicit = origin.filter(|origin| {
            (self.allow_all_origins && self.allow_credentials)
                || (!self.allow_all_origins
                    && self.is_allowed_origin(origin.to_str().unwrap_or("")))
        });
        if let Some(origin) = explicit {
            headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
        }
        // Starlette adds `Vary: Origin` to every answer that is not a preflight.
        add_vary(headers, "Origin");
    }
}

/// Adds `value` to the `Vary` header (all of its lines joined into one),
/// as Starlette does.
fn add_vary(headers: &mut http::HeaderMap, value: &str) {
    let mut all: Vec<&str> = headers
        .get_all(header::VARY)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    all.push(value);
    let joined = all.join(", ");
    if let Ok(v) = HeaderValue::from_str(&joined) {
        headers.insert(header::VARY, v);
    }
}

impl Layer<Route> for Cors {
    type Service = CorsService;

    fn layer(&self, inner: Route) -> CorsService {
        CorsService {
            policy: Arc::new(self.compile()),
            inner: inner.0,
        }
    }
}

/// The service [`Cors`] wraps around the app.
#[derive(Clone)]
pub struct CorsService {
    policy: Arc<CorsPolicy>,
    inner: BoxService,
}

impl Service<Request> for CorsService {
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request) -> Self::Future {
        let policy = Arc::clone(&self.policy);
        let origin = req.headers().get(header::ORIGIN).cloned();
        if let Some(origin) = &origin
            && req.method() == Method::OPTIONS
            && req
                .headers()
                .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
        {
            let resp = policy.preflight(req.headers(), origin);
            return Box::pin(async move { Ok(resp) });
        }
        let fut = self.inner.call(req);
        Box::pin(async move {
            let mut resp = fut.await?;
            policy.decorate(origin.as_ref(), &mut resp);
            Ok(resp)
        })
    }
}

// ---------------------------------------------------------------------------

/// GZip compression of answers, configured like Starlette's
/// `GZipMiddleware(minimum_size=...)`: answers of at least `minimum_size`
/// bytes (default 500) are gzip-compressed for clients that accept it,
/// with `Vary: Accept-Encoding`. A thin wrapper over tower-http's
/// `CompressionLayer` (gzip only), which also streams.
///
/// ```
/// use brisk::prelude::*;
/// use brisk::middleware::GZip;
///
/// #[get("/big")]
/// async fn big() -> String { "x".repeat(4096) }
///
/// let client = brisk::TestClient::new(App::new().routes(routes![big]).layer(GZip::new().minimum_size(1000)));
/// let resp = client.get("/big").header("accept-encoding", "gzip").send();
/// assert_eq!(resp.header("content-encoding"), Some("gzip"));
/// assert!(resp.bytes().len() < 4096);
/// ```
#[derive(Clone, Debug)]
pub struct GZip {
    minimum_size: u16,
}

impl Default for GZip {
    fn default() -> Self {
        GZip { minimum_size: 500 }
    }
}

impl GZip {
    /// Starlette's default: compress answers of 500 bytes or more.
    pub fn new() -> Self {
        Self::default()
    }

    /// Compress only answers of at least this many bytes.
    pub fn minimum_size(mut self, bytes: u16) -> Self {
        self.minimum_size = bytes;
        self
    }
}

type GZipPredicate = tower_http::compression::predicate::And<
    tower_http::compression::predicate::SizeAbove,
    tower_http::compression::predicate::DefaultPredicate,
>;

impl Layer<Route> for GZip {
    type Service = tower_http::compression::Compression<Route, GZipPredicate>;

    fn layer(&self, inner: Route) -> Self::Service {
        use tower_http::compression::predicate::{DefaultPredicate, Predicate, SizeAbove};
        // Both compress from `minimum_size` bytes on.
        let predicate = SizeAbove::new(self.minimum_size).and(DefaultPredicate::new());
        tower_http::compression::CompressionLayer::new()
            .gzip(true)
            .compress_when(predicate)
            .layer(inner)
    }
}

// ---------------------------------------------------------------------------

/// Refuses requests whose `Host` is not one of the allowed host names, as
/// Starlette's `TrustedHostMiddleware`: `400 Invalid host header`. Patterns
/// may start with `*.` for subdomains; `"*"` allows any.
///
/// ```
/// use brisk::prelude::*;
/// use brisk::middleware::TrustedHost;
///
/// #[get("/")]
/// async fn root() -> &'static str { "hi" }
///
/// let app = App::new().routes(routes![root]).layer(TrustedHost::new(["example.com", "*.example.com"]));
/// let client = brisk::TestClient::new(app);
/// assert_eq!(client.get("/").header("host", "api.example.com").send().status(), 200);
/// assert_eq!(client.get("/").header("host", "evil.com").send().status(), 400);
/// ```
#[derive(Clone, Debug)]
pub struct TrustedHost {
    allowed: Arc<Vec<String>>,
}

impl TrustedHost {
    /// Allows these host names (without port).
    pub fn new<I: IntoIterator<Item = S>, S: Into<String>>(hosts: I) -> Self {
        TrustedHost {
            allowed: Arc::new(hosts.into_iter().map(Into::into).collect()),
        }
    }

    fn allows(&self, host: &str) -> bool {
        self.allowed.iter().any(|pattern| {
            pattern == "*"
                || pattern == host
                || pattern
                    .strip_prefix('*')
                    .is_some_and(|suffix| suffix.starts_with('.') && host.ends_with(suffix))
        })
    }
}

impl Layer<Route> for TrustedHost {
    type Service = Guard<TrustedHost>;

    fn layer(&self, inner: Route) -> Self::Service {
        Guard {
            check: self.clone(),
            inner: inner.0,
        }
    }
}

/// A layer that may answer a request itself before the app sees it.
pub trait Check: Clone + Send + Sync + 'static {
    /// The answer to give instead of the app's, if any.
    fn answer(&self, req: &Request) -> Option<Response>;
}

impl Check for TrustedHost {
    fn answer(&self, req: &Request) -> Option<Response> {
        let host = req
            .headers()
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .or_else(|| req.uri().host())
            .unwrap_or("");
        let name = host.rsplit_once(':').map_or(host, |(name, port)| {
            if port.bytes().all(|b| b.is_ascii_digit()) {
                name
            } else {
                host
            }
        });
        if self.allows(name) {
            return None;
        }
        let mut resp = "Invalid host header".into_response();
        *resp.status_mut() = StatusCode::BAD_REQUEST;
        Some(resp)
    }
}

/// Redirects plain-HTTP requests to HTTPS (307, as Starlette's
/// `HTTPSRedirectMiddleware`); the default ports 80 and 443 are dropped
/// from the address.
///
/// ```
/// use brisk::prelude::*;
/// use brisk::middleware::HttpsRedirect;
///
/// #[get("/items")]
/// async fn items() -> &'static str { "[]" }
///
/// let client = brisk::TestClient::new(App::new().routes(routes![items]).layer(HttpsRedirect));
/// let resp = client.get("/items?x=1").header("host", "example.com").send();
/// assert_eq!(resp.status(), 307);
/// assert_eq!(resp.header("location"), Some("https://example.com/items?x=1"));
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct HttpsRedirect;

impl Layer<Route> for HttpsRedirect {
    type Service = Guard<HttpsRedirect>;

    fn layer(&self, inner: Route) -> Self::Service {
        Guard {
            check: *self,
            inner: inner.0,
        }
    }
}

impl Check for HttpsRedirect {
    fn answer(&self, req: &Request) -> Option<Response> {
        let scheme = req
            .uri()
            .scheme_str()
            .map(str::to_owned)
            .or_else(|| {
                req.extensions()
                    .get::<http::uri::Scheme>()
                    .map(|s| s.to_string())
            })
            .unwrap_or_else(|| "http".into());
        if scheme == "https" {
            return None;
        }
        let host = req
            .headers()
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("localhost");
        let host = match host.rsplit_once(':') {
            Some((name, "80" | "443")) => name,
            _ => host,
        };
        let path = req.uri().path_and_query().map_or("/", |p| p.as_str());
        let location = format!("https://{host}{path}");
        let mut resp = http::Response::new(Body::empty());
        *resp.status_mut() = StatusCode::TEMPORARY_REDIRECT;
        if let Ok(v) = HeaderValue::from_str(&location) {
            resp.headers_mut().insert(header::LOCATION, v);
        }
        Some(resp)
    }
}

/// The service of a [`Check`] layer.
#[derive(Clone)]
pub struct Guard<C> {
    check: C,
    inner: BoxService,
}

impl<C: Check> Service<Request> for Guard<C> {
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request) -> Self::Future {
        match self.check.answer(&req) {
            Some(resp) => Box::pin(async move { Ok(resp) }),
            None => Box::pin(self.inner.call(req)),
        }
    }
}
