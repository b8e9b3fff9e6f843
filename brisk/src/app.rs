//! [`App`]: the application builder, and the per-request entry point every
//! transport (the server, the [`TestClient`](crate::TestClient)) goes through.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::FutureExt;
use http::StatusCode;
use http::header::ALLOW;

use crate::HttpError;
use crate::exec::ThreadPool;
use crate::exec::threadpool::DEFAULT_SIZE;
use crate::exec::watchdog::{self, BlockingPolicy, Watchdog};
use crate::params::{RawBody, RequestContext};
use crate::response::{IntoResponse, Response, internal_server_error};
use crate::routing::{Operation, RouteMatch, Router};
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

    /// Adds typed application state, readable by handlers through
    /// [`RequestContext::state`].
    ///
    /// ```
    /// struct Settings { greeting: String }
    /// let app = brisk::App::new().state(Settings { greeting: "hi".into() });
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
        let router = Router::new(self.operations);
        for op in router.operations() {
            for spec in op.params {
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
        })
    }
}

/// A map from type to one value of that type.
#[derive(Default)]
pub(crate) struct StateMap(HashMap<TypeId, Box<dyn Any + Send + Sync>>);

impl StateMap {
    fn insert<T: Send + Sync + 'static>(&mut self, value: T) {
        self.0.insert(TypeId::of::<T>(), Box::new(value));
    }

    pub(crate) fn get<T: Send + Sync + 'static>(&self) -> Option<&T> {
        self.0
            .get(&TypeId::of::<T>())
            .and_then(|b| b.downcast_ref())
    }
}

/// The frozen app, shared by every connection and request.
pub(crate) struct AppShared {
    #[allow(dead_code)] // read by the OpenAPI generator
    pub(crate) title: String,
    #[allow(dead_code)]
    pub(crate) version: String,
    #[allow(dead_code)]
    pub(crate) description: Option<String>,
    pub(crate) router: Router,
    pub(crate) pool: Arc<ThreadPool>,
    pub(crate) watchdog: Arc<Watchdog>,
    pub(crate) max_body_size: usize,
    pub(crate) access_log: bool,
    pub(crate) state: StateMap,
}

impl AppShared {
    /// Answers one request: route, extract, run, respond. Never fails: every
    /// problem becomes a response (404, 405, 422, 500, ...).
    pub(crate) async fn handle(
        self: &Arc<Self>,
        parts: http::request::Parts,
        body: RawBody,
    ) -> Response {
        let started = Instant::now();
        let logged = self
            .access_log
            .then(|| (parts.method.clone(), parts.uri.clone()));
        let (resp, route) = match self.router.route(&parts.method, parts.uri.path()) {
            RouteMatch::Found(op, params) => {
                let op = Arc::clone(op);
                let cx =
                    RequestContext::new(parts, body, params, Arc::clone(self), Arc::clone(&op));
                let resp = match AssertUnwindSafe((op.handler)(cx)).catch_unwind().await {
                    Ok(resp) => resp,
                    Err(panic) => {
                        tracing::error!(
                            method = %op.method,
                            route = op.path,
                            panic = panic_message(&panic),
                            "handler panicked; answered 500, still serving"
                        );
                        internal_server_error()
                    }
                };
                (resp, Some(op))
            }
            RouteMatch::MethodNotAllowed(allow) => {
                let mut resp = HttpError::new(405, "Method Not Allowed").into_response();
                resp.headers_mut().insert(ALLOW, allow.clone());
                (resp, None)
            }
            RouteMatch::NotFound => (HttpError::not_found("Not Found").into_response(), None),
        };
        if let Some((method, uri)) = logged {
            access_log(&method, &uri, route.as_deref(), resp.status(), started);
        }
        resp
    }
}

fn access_log(
    method: &http::Method,
    uri: &http::Uri,
    op: Option<&Operation>,
    status: StatusCode,
    started: Instant,
) {
    tracing::info!(
        target: "brisk::access",
        method = %method,
        path = %uri,
        route = op.map_or("-", |o| o.path),
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
