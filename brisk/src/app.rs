//! [`App`]: the application builder, and the per-request entry point every
//! transport (the server, the [`TestClient`](crate::TestClient)) goes through.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock};

use bytes::Bytes;
use std::time::{Duration, Instant};

use futures_util::FutureExt;
use http::StatusCode;
use http::header::ALLOW;

use crate::HttpError;
use crate::body::Body;
use crate::depends::{BoxFuture, DepRef, Dependency, ErasedRun, Outcome};
use crate::exec::ThreadPool;
use crate::exec::threadpool::DEFAULT_SIZE;
use crate::exec::watchdog::{self, BlockingPolicy, Watchdog};
use crate::logging::RateLimited;
use crate::openapi::docs::DocsUrls;
use crate::params::RequestContext;
use crate::response::{CloseConnection, IntoResponse, Response, internal_server_error};
use crate::routing::{ApiRouter, Operation, RouteMatch, Router};
use crate::serve::ServerConfig;

/// Default maximum request body size: 16 MiB.
pub const DEFAULT_MAX_BODY_SIZE: usize = 16 * 1024 * 1024;

/// A brisk application: its path operations, settings and state.
///
/// ```no_run
/// use brisk::prelude::*;
///
/// #[get("/")]
/// async fn root() -> Json<Value> {
///     Json(json!({"message": "Hello World"}))
/// }
///
/// fn main() {
///     App::new().title("Hello").routes(routes![root]).run();
/// }
/// ```
pub struct App {
    pub(crate) title: String,
    pub(crate) version: String,
    pub(crate) description: Option<String>,
    pub(crate) operations: Vec<Operation>,
    pub(crate) threadpool_size: Option<usize>,
    pub(crate) max_body_size: Option<usize>,
    pub(crate) blocking_policy: Option<BlockingPolicy>,
    pub(crate) blocking_threshold: Option<Duration>,
    pub(crate) state: StateMap,
    pub(crate) dependencies: Vec<DepRef>,
    pub(crate) overrides: Vec<(TypeId, ErasedRun)>,
    pub(crate) startup: Vec<Hook>,
    pub(crate) shutdown: Vec<Hook>,
    pub(crate) docs_urls: DocsUrls,
}

impl Default for App {
    fn default() -> Self {
        Self::new()
    }
}

impl App {
    /// An empty app titled "brisk".
    ///
    /// ```
    /// let app = brisk::App::new().title("Items").version("1.2.0");
    /// ```
    pub fn new() -> Self {
        App {
            title: "brisk".into(),
            version: "0.1.0".into(),
            description: None,
            operations: Vec::new(),
            threadpool_size: None,
            max_body_size: None,
            blocking_policy: None,
            blocking_threshold: None,
            state: StateMap::default(),
            dependencies: Vec::new(),
            overrides: Vec::new(),
            startup: Vec::new(),
            shutdown: Vec::new(),
            docs_urls: DocsUrls::default(),
        }
    }

    /// Sets the title (OpenAPI `info.title`).
    pub fn title(mut self, title: impl Into<String>) -> Self {
        self.title = title.into();
        self
    }

    /// Sets the version (OpenAPI `info.version`).
    pub fn version(mut self, version: impl Into<String>) -> Self {
        self.version = version.into();
        self
    }

    /// Sets the description (OpenAPI `info.description`).
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }

    /// Where the OpenAPI document is served (default `/openapi.json`);
    /// `None` turns it and the documentation pages off.
    ///
    /// ```
    /// let app = brisk::App::new().openapi_url(Some("/api/openapi.json"));
    /// ```
    pub fn openapi_url(mut self, url: Option<&str>) -> Self {
        self.docs_urls.openapi = url.map(str::to_owned);
        self
    }

    /// Where Swagger UI is served (default `/docs`); `None` turns it off.
    ///
    /// ```
    /// let app = brisk::App::new().docs_url(None);
    /// ```
    pub fn docs_url(mut self, url: Option<&str>) -> Self {
        self.docs_urls.swagger = url.map(str::to_owned);
        self
    }

    /// Where ReDoc is served (default `/redoc`); `None` turns it off.
    ///
    /// ```
    /// let app = brisk::App::new().redoc_url(Some("/reference"));
    /// ```
    pub fn redoc_url(mut self, url: Option<&str>) -> Self {
        self.docs_urls.redoc = url.map(str::to_owned);
        self
    }

    /// Adds path operations, usually from [`routes!`](crate::routes).
    ///
    /// ```
    /// use brisk::prelude::*;
    ///
    /// #[get("/ping")]
    /// fn ping() -> &'static str { "pong" }
    ///
    /// let app = App::new().routes(routes![ping]);
    /// ```
    pub fn routes(mut self, operations: Vec<Operation>) -> Self {
        self.operations.extend(operations);
        self
    }

    /// Adds the operations of an [`ApiRouter`] (FastAPI's `include_router`):
    /// its prefix, tags and dependencies apply to each of them.
    ///
    /// ```
    /// use brisk::prelude::*;
    ///
    /// #[get("/")]
    /// async fn list_users() -> Json<Value> { Json(json!([])) }
    ///
    /// let users = ApiRouter::new().prefix("/users").tags(&["users"]).routes(routes![list_users]);
    /// let app = App::new().include(users);
    /// ```
    pub fn include(mut self, router: ApiRouter) -> Self {
        self.operations.extend(router.into_operations());
        self
    }

    /// Dependencies every operation runs for their side effects (FastAPI's
    /// `FastAPI(dependencies=[...])`).
    pub fn dependencies(mut self, deps: Vec<DepRef>) -> Self {
        self.dependencies.extend(deps);
        self
    }

    /// Replaces dependency `D` by `O` everywhere (FastAPI's
    /// `app.dependency_overrides[d] = o`), typically in tests.
    ///
    /// ```
    /// use brisk::prelude::*;
    ///
    /// #[dependency] fn real_db() -> String { "postgres".into() }
    /// #[dependency] fn fake_db() -> String { "in-memory".into() }
    ///
    /// #[get("/db")]
    /// async fn which(db: Depends<real_db>) -> String { db.clone() }
    ///
    /// let app = App::new().routes(routes![which]).dependency_override::<real_db, fake_db>();
    /// let client = brisk::TestClient::new(app);
    /// assert_eq!(client.get("/db").send().text(), "in-memory");
    /// ```
    pub fn dependency_override<D: Dependency, O: Dependency<Output = D::Output>>(mut self) -> Self {
        self.overrides.retain(|(k, _)| *k != TypeId::of::<D>());
        self.overrides
            .push((TypeId::of::<D>(), crate::depends::erased::<O>));
        self
    }

    /// Runs `hook` once when the server (each worker process) starts, before
    /// it accepts connections.
    ///
    /// ```
    /// let app = brisk::App::new().on_startup(|| async { println!("warming caches") });
    /// ```
    pub fn on_startup<F, Fut>(mut self, hook: F) -> Self
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.startup
            .push(Hook::Async(Box::new(move || Box::pin(hook()))));
        self
    }

    /// Like [`App::on_startup`], for blocking code.
    pub fn on_startup_blocking<F: FnOnce() + Send + 'static>(mut self, hook: F) -> Self {
        self.startup.push(Hook::Blocking(Box::new(hook)));
        self
    }

    /// Runs `hook` once when the server stops, after in-flight requests finished.
    ///
    /// ```
    /// let app = brisk::App::new().on_shutdown(|| async { println!("closing pools") });
    /// ```
    pub fn on_shutdown<F, Fut>(mut self, hook: F) -> Self
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.shutdown
            .push(Hook::Async(Box::new(move || Box::pin(hook()))));
        self
    }

    /// Like [`App::on_shutdown`], for blocking code.
    pub fn on_shutdown_blocking<F: FnOnce() + Send + 'static>(mut self, hook: F) -> Self {
        self.shutdown.push(Hook::Blocking(Box::new(hook)));
        self
    }

    /// How many plain `fn` handlers (and `run_in_threadpool` closures) may run
    /// at once; default 40, as FastAPI. `--threadpool-size` overrides it.
    ///
    /// ```
    /// let app = brisk::App::new().threadpool_size(8);
    /// ```
    pub fn threadpool_size(mut self, size: usize) -> Self {
        self.threadpool_size = Some(size);
        self
    }

    /// The largest accepted request body, in bytes (larger: 413). Default 16 MiB.
    ///
    /// ```
    /// let app = brisk::App::new().max_body_size(1024 * 1024);
    /// ```
    pub fn max_body_size(mut self, bytes: usize) -> Self {
        self.max_body_size = Some(bytes);
        self
    }

    /// What to do about an `async fn` that blocks the event loop (default
    /// [`BlockingPolicy::Contain`]). `--blocking-policy` overrides it.
    ///
    /// ```
    /// let app = brisk::App::new().blocking_policy(brisk::exec::BlockingPolicy::Warn);
    /// ```
    pub fn blocking_policy(mut self, policy: BlockingPolicy) -> Self {
        self.blocking_policy = Some(policy);
        self
    }

    /// How long one poll of an `async fn` may run before it counts as blocking
    /// the event loop (default 20 ms). `--blocking-threshold-ms` overrides it.
    ///
    /// ```
    /// let app = brisk::App::new().blocking_threshold(std::time::Duration::from_millis(50));
    /// ```
    pub fn blocking_threshold(mut self, threshold: Duration) -> Self {
        self.blocking_threshold = Some(threshold);
        self
    }

    /// Adds typed application state, readable by handlers and dependencies
    /// through the [`State<T>`](crate::params::State) parameter.
    ///
    /// ```
    /// use brisk::prelude::*;
    ///
    /// struct Settings { greeting: String }
    ///
    /// #[get("/")]
    /// async fn hello(settings: State<Settings>) -> String { settings.greeting.clone() }
    ///
    /// let app = App::new().state(Settings { greeting: "hi".into() }).routes(routes![hello]);
    /// assert_eq!(brisk::TestClient::new(app).get("/").send().text(), "hi");
    /// ```
    pub fn state<T: Send + Sync + 'static>(mut self, value: T) -> Self {
        self.state.insert(value);
        self
    }

    /// Serves the app with the settings from the command line and `BRISK_*`
    /// variables (`--host`, `--port`, `--threadpool-size`, ...; see `--help`),
    /// until SIGINT or SIGTERM. Exits the process when done.
    pub fn run(self) -> ! {
        let config = ServerConfig::from_args();
        let code = crate::serve::run(self, config);
        // Write out queued log lines (bounded: about a second at most).
        crate::logging::flush();
        std::process::exit(code)
    }

    /// Serves the app with an explicit configuration; returns the exit code.
    pub fn run_with(self, config: ServerConfig) -> i32 {
        crate::serve::run(self, config)
    }

    /// Freezes the app into what requests are served from.
    pub(crate) fn into_shared(self, config: &ServerConfig) -> Arc<AppShared> {
        let threadpool_size = config
            .threadpool_size
            .or(self.threadpool_size)
            .unwrap_or(DEFAULT_SIZE);
        let app_deps = self.dependencies;
        let docs = crate::openapi::docs::operations(&self.docs_urls);
        let operations = self
            .operations
            .into_iter()
            .chain(docs)
            .map(|mut op| {
                let mut deps = app_deps.clone();
                deps.append(&mut op.dependencies);
                op.dependencies = deps;
                op
            })
            .collect();
        let router = Router::new(operations);
        for op in router.operations() {
            crate::depends::check_cycles(op.name, op.params, &op.dependencies);
            let specs = op.params.iter().map(|p| p.spec);
            for spec in specs {
                if let Some(pattern) = &spec.pattern
                    && let Err(e) = regex::Regex::new(pattern.source)
                {
                    panic!(
                        "brisk: {} {}: parameter `{}` has an invalid pattern: {e}",
                        op.method, op.path, spec.name
                    );
                }
            }
        }
        let pool = Arc::new(ThreadPool::new(threadpool_size));
        let watchdog = Watchdog::start(
            config
                .blocking_policy
                .or(self.blocking_policy)
                .unwrap_or_default(),
            config
                .blocking_threshold_ms
                .map(Duration::from_millis)
                .or(self.blocking_threshold)
                .unwrap_or(watchdog::DEFAULT_THRESHOLD),
            router.operations(),
            Arc::clone(&pool),
        );
        Arc::new(AppShared {
            title: self.title,
            version: self.version,
            description: self.description,
            router,
            pool,
            watchdog,
            max_body_size: config
                .max_body_size
                .or(self.max_body_size)
                .unwrap_or(DEFAULT_MAX_BODY_SIZE),
            access_log: !config.no_access_log,
            state: self.state,
            overrides: RwLock::new(self.overrides),
            startup: Mutex::new(self.startup),
            shutdown: Mutex::new(self.shutdown),
            docs_urls: self.docs_urls,
            openapi: OnceLock::new(),
            limits: Limits::from_config(config),
            in_flight: AtomicUsize::new(0),
            served: AtomicU64::new(0),
            retire: tokio::sync::Notify::new(),
        })
    }
}

/// A map from type to one value of that type.
#[derive(Default)]
pub(crate) struct StateMap(HashMap<TypeId, Arc<dyn Any + Send + Sync>>);

impl StateMap {
    fn insert<T: Send + Sync + 'static>(&mut self, value: T) {
        self.0.insert(TypeId::of::<T>(), Arc::new(value));
    }

    pub(crate) fn get<T: Send + Sync + 'static>(&self) -> Option<Arc<T>> {
        self.0
            .get(&TypeId::of::<T>())
            .and_then(|b| Arc::clone(b).downcast().ok())
    }
}

/// Per-process limits, from the server configuration.
#[derive(Debug, Clone)]
pub(crate) struct Limits {
    pub(crate) concurrency: Option<usize>,
    pub(crate) max_requests: Option<u64>,
    pub(crate) request_timeout: Option<Duration>,
}

impl Limits {
    fn from_config(config: &ServerConfig) -> Self {
        // Jitter spreads workers' retirements; a hash of pid and clock is
        // random enough for that and needs no RNG dependency.
        let jitter = match config.limit_max_requests_jitter {
            0 => 0,
            j => {
                let nanos = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| u64::from(d.subsec_nanos()));
                (u64::from(std::process::id()).wrapping_mul(2_654_435_761) ^ nanos) % (j + 1)
            }
        };
        Limits {
            concurrency: config.limit_concurrency,
            max_requests: config.limit_max_requests.map(|n| n + jitter),
            request_timeout: config.timeout_request.map(Duration::from_secs_f64),
        }
    }
}

/// One request counted against `--limit-concurrency`.
struct InFlight<'a>(&'a AtomicUsize);

impl<'a> InFlight<'a> {
    fn enter(counter: &'a AtomicUsize, limit: usize) -> Option<Self> {
        if counter.fetch_add(1, Ordering::AcqRel) >= limit {
            counter.fetch_sub(1, Ordering::AcqRel);
            return None;
        }
        Some(InFlight(counter))
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
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

/// The frozen app, shared by every connection and request.
pub(crate) struct AppShared {
    pub(crate) title: String,
    pub(crate) version: String,
    pub(crate) description: Option<String>,
    pub(crate) router: Router,
    pub(crate) pool: Arc<ThreadPool>,
    pub(crate) watchdog: Arc<Watchdog>,
    pub(crate) max_body_size: usize,
    pub(crate) access_log: bool,
    pub(crate) state: StateMap,
    overrides: RwLock<Vec<(TypeId, ErasedRun)>>,
    pub(crate) startup: Mutex<Vec<Hook>>,
    pub(crate) shutdown: Mutex<Vec<Hook>>,
    pub(crate) docs_urls: DocsUrls,
    openapi: OnceLock<Bytes>,
    pub(crate) limits: Limits,
    in_flight: AtomicUsize,
    served: AtomicU64,
    retire: tokio::sync::Notify,
}

impl AppShared {
    /// Resolves once this process has served `--limit-max-requests` requests.
    pub(crate) async fn retired(&self) {
        if self.limits.max_requests.is_none() {
            return std::future::pending().await;
        }
        self.retire.notified().await;
    }

    /// The OpenAPI document as JSON bytes, generated on first use.
    pub(crate) fn openapi_document(&self) -> Bytes {
        self.openapi
            .get_or_init(|| {
                let doc = crate::openapi::document(self);
                Bytes::from(serde_json::to_vec(&doc).expect("the OpenAPI document is valid JSON"))
            })
            .clone()
    }

    /// The OpenAPI document.
    pub(crate) fn openapi_value(&self) -> serde_json::Value {
        serde_json::from_slice(&self.openapi_document())
            .expect("the OpenAPI document is valid JSON")
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

    /// Takes the startup (or shutdown) hooks; they run once.
    pub(crate) fn take_hooks(&self, startup: bool) -> Vec<Hook> {
        let hooks = if startup {
            &self.startup
        } else {
            &self.shutdown
        };
        std::mem::take(&mut *hooks.lock().expect("hooks lock"))
    }

    /// Answers one request: route, extract, run, respond. Never fails: every
    /// problem becomes a response (404, 405, 413, 422, 500, 503, ...).
    pub(crate) async fn handle(self: &Arc<Self>, req: http::Request<Body>) -> Response {
        let started = Instant::now();
        let (parts, body) = req.into_parts();
        let logged = self
            .access_log
            .then(|| (parts.method.clone(), parts.uri.clone()));
        let (resp, route) = self.route_and_run(parts, body).await;
        if let Some((method, uri)) = logged {
            access_log(&method, &uri, route, resp.status(), started);
        }
        if let Some(max) = self.limits.max_requests
            && self.served.fetch_add(1, Ordering::Relaxed) + 1 == max
        {
            tracing::info!(
                requests = max,
                "reached --limit-max-requests; retiring this process gracefully"
            );
            self.retire.notify_one();
        }
        resp
    }

    /// The answer, and the route template that produced it (for the log).
    async fn route_and_run(
        self: &Arc<Self>,
        parts: http::request::Parts,
        body: Body,
    ) -> (Response, Option<&'static str>) {
        if let Some(resp) = self.refuse_declared_body(&parts) {
            return (resp, None);
        }
        let (op, params) = match self.router.route(&parts.method, parts.uri.path()) {
            RouteMatch::Found(op, params) => (op, params),
            RouteMatch::MethodNotAllowed(allow) => {
                let mut resp = HttpError::new(405, "Method Not Allowed").into_response();
                resp.headers_mut().insert(ALLOW, allow);
                return (resp, None);
            }
            RouteMatch::NotFound => {
                return (self.not_found(&parts), None);
            }
        };
        // `op` borrows from the router for the whole call; only the
        // context needs its own reference.
        let _slot = match self.limits.concurrency {
            Some(limit) => match InFlight::enter(&self.in_flight, limit) {
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
                    return (resp, Some(op.path));
                }
            },
            None => None,
        };
        let mut cx = RequestContext::new(parts, body, params, Arc::clone(self), Arc::clone(op));
        let run = AssertUnwindSafe((op.handler)(&mut cx)).catch_unwind();
        let result = match op.timeout.or(self.limits.request_timeout) {
            None => Ok(run.await),
            Some(limit) => tokio::time::timeout(limit, run).await.map_err(|_| limit),
        };
        let (mut resp, outcome) = match result {
            Err(limit) => {
                tracing::warn!(
                    method = %op.method,
                    route = op.path,
                    limit_ms = limit.as_millis() as u64,
                    "request timed out; answered 504 and cancelled the handler"
                );
                let resp = HttpError::new(504, "Gateway Timeout").into_response();
                (resp, Outcome::Response(StatusCode::GATEWAY_TIMEOUT))
            }
            Ok(Ok(resp)) => {
                let status = resp.status();
                (resp, Outcome::Response(status))
            }
            Ok(Err(panic)) => {
                let message = panic_message(&panic).to_owned();
                tracing::error!(
                    method = %op.method,
                    route = op.path,
                    panic = message,
                    "handler panicked; answered 500, still serving"
                );
                // Function-scoped teardown the handler did not get to.
                let outcome = Outcome::Panicked(message);
                cx.scope().run_function_cleanups(&outcome).await;
                (internal_server_error(), outcome)
            }
        };
        if let Some(after) = std::mem::take(cx.scope()).into_after_response(outcome, &self.pool) {
            resp.body_mut().attach_guard(Box::new(after));
        }
        (resp, Some(op.path))
    }

    /// 404, or FastAPI's 307 to the same path with (or without) a trailing
    /// slash when that one exists.
    fn not_found(&self, parts: &http::request::Parts) -> Response {
        let Some(other) = self.router.slash_redirect(parts.uri.path()) else {
            return HttpError::not_found("Not Found").into_response();
        };
        let host = parts
            .headers
            .get(http::header::HOST)
            .and_then(|h| h.to_str().ok())
            .or_else(|| parts.uri.authority().map(|a| a.as_str()));
        let scheme = parts.uri.scheme_str().unwrap_or("http");
        let mut location = match host {
            Some(host) => format!("{scheme}://{host}{other}"),
            None => other,
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

    /// 413 at once, from the head, for a body declared larger than
    /// `--max-body-size`: the client is not made to send it (nor, with
    /// `Expect: 100-continue`, told to), and the connection is closed after.
    fn refuse_declared_body(&self, parts: &http::request::Parts) -> Option<Response> {
        let declared = parts
            .headers
            .get(http::header::CONTENT_LENGTH)?
            .to_str()
            .ok()?
            .trim()
            .parse::<u64>()
            .ok()?;
        if declared <= self.max_body_size as u64 {
            return None;
        }
        Some(body_too_large())
    }
}

/// FastAPI-shaped 413 for a body over the limit; the connection closes after.
pub(crate) fn body_too_large() -> Response {
    let mut resp = HttpError::new(413, "Request body too large").into_response();
    resp.extensions_mut().insert(CloseConnection);
    resp
}

fn access_log(
    method: &http::Method,
    uri: &http::Uri,
    route: Option<&'static str>,
    status: StatusCode,
    started: Instant,
) {
    tracing::info!(
        target: "brisk::access",
        method = %method,
        path = %uri,
        route = route.unwrap_or("-"),
        status = status.as_u16(),
        elapsed_ms = started.elapsed().as_secs_f64() * 1000.0,
    );
}

/// The text of a panic payload (`panic!("...")` gives a `&str` or `String`).
pub(crate) fn panic_message(panic: &Box<dyn Any + Send>) -> &str {
    panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("<non-string panic payload>")
}
