//! [`App`]: the application builder. It collects path operations, routers,
//! layers and middleware, exception handlers, state and hooks, and turns
//! them into the [`AppService`] that serves requests (the server and the
//! [`TestClient`](crate::TestClient) both call that).

use std::any::TypeId;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use crate::depends::{DepRef, Dependency, ErasedRun};
use crate::error::ExceptionHandlers;
use crate::exec::ThreadPool;
use crate::exec::threadpool::DEFAULT_SIZE;
use crate::exec::watchdog::{self, BlockingPolicy, Watchdog, WatchedUnit};
use crate::openapi::{ApiInfo, Docs, DocsUrls};
use crate::params::{AppContext, StateMap};
use crate::response::IntoResponse;
use crate::routing::{ApiRouter, LayerFn, Operation, Request, Route, Router, layer_fn};
use crate::serve::ServerConfig;
use crate::service::middleware::{FromFnLayer, Next, Watch, from_fn};
use crate::service::{AppService, Core, Hook, Limits};

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
    metrics_url: Option<String>,
    /// App-wide layers and middleware, in the order added (innermost first).
    layers: Vec<AppLayer>,
    /// Services mounted under a path prefix.
    mounts: Vec<(String, crate::routing::BoxService)>,
    handlers: ExceptionHandlers,
}

/// An app-wide layer: a tower layer, or a function middleware that still
/// needs its watch id.
enum AppLayer {
    Layer(LayerFn),
    Middleware {
        name: &'static str,
        make: Box<dyn FnOnce(Watch) -> LayerFn + Send>,
    },
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
            metrics_url: None,
            layers: Vec::new(),
            mounts: Vec::new(),
            handlers: ExceptionHandlers::default(),
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

    /// Serves Prometheus metrics at `url` (see [`crate::prometheus`] for
    /// what they are); `--metrics` turns them on at `/metrics` without code.
    ///
    /// ```
    /// let app = brisk::App::new().metrics_url("/metrics");
    /// ```
    pub fn metrics_url(mut self, url: &str) -> Self {
        self.metrics_url = Some(url.to_owned());
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

    /// Wraps the whole app in a tower layer: every answer the app gives,
    /// including 404s, 405s and the documentation routes, goes through it,
    /// as with Starlette's middleware. Any tower-http layer works unchanged
    /// (CORS, compression, tracing, request ids, timeouts, body limits, ...),
    /// and so do brisk's [`middleware`](crate::middleware).
    ///
    /// Order: the layer added last runs first on the request (and last on
    /// the response), as with FastAPI's `app.add_middleware`.
    ///
    /// ```
    /// use brisk::prelude::*;
    /// use tower_http::set_header::SetResponseHeaderLayer;
    ///
    /// #[get("/")]
    /// async fn root() -> &'static str { "hi" }
    ///
    /// let app = App::new().routes(routes![root]).layer(SetResponseHeaderLayer::overriding(
    ///     http::header::SERVER,
    ///     http::HeaderValue::from_static("brisk"),
    /// ));
    /// let client = brisk::TestClient::new(app);
    /// assert_eq!(client.get("/").send().header("server"), Some("brisk"));
    /// assert_eq!(client.get("/missing").send().header("server"), Some("brisk"));
    /// ```
    pub fn layer<L>(mut self, layer: L) -> Self
    where
        L: tower::Layer<Route> + Send + Sync + 'static,
        L::Service: tower::Service<Request> + Clone + Send + Sync + 'static,
        <L::Service as tower::Service<Request>>::Response: IntoResponse + 'static,
        <L::Service as tower::Service<Request>>::Error: Into<std::convert::Infallible> + 'static,
        <L::Service as tower::Service<Request>>::Future: Send + 'static,
    {
        self.layers.push(AppLayer::Layer(layer_fn(layer)));
        self
    }

    /// Adds a function middleware, FastAPI's `@app.middleware("http")`: an
    /// `async fn(request, next) -> response` around everything the app
    /// answers. Its polls are watched by the blocking watchdog like a
    /// handler's (reported as `MIDDLEWARE name`). Ordered with
    /// [`App::layer`]: the one added last runs first.
    ///
    /// ```
    /// use brisk::prelude::*;
    /// use brisk::middleware::{Next, Request};
    /// use brisk::response::Response;
    ///
    /// async fn add_server(req: Request, next: Next) -> Response {
    ///     let mut resp = next.run(req).await;
    ///     resp.headers_mut().insert("server", "brisk".parse().unwrap());
    ///     resp
    /// }
    ///
    /// #[get("/")]
    /// async fn root() -> &'static str { "hi" }
    ///
    /// let client = brisk::TestClient::new(App::new().routes(routes![root]).middleware(add_server));
    /// assert_eq!(client.get("/").send().header("server"), Some("brisk"));
    /// ```
    pub fn middleware<F, Fut, R>(mut self, f: F) -> Self
    where
        F: Fn(Request, Next) -> Fut + Clone + Send + Sync + 'static,
        Fut: Future<Output = R> + Send + 'static,
        R: IntoResponse + Send + 'static,
    {
        let full = std::any::type_name::<F>();
        let name = full.rsplit("::").next().unwrap_or(full);
        self.layers.push(AppLayer::Middleware {
            name,
            make: Box::new(move |watch| {
                let layer: FromFnLayer<F> = from_fn(f).watched(watch);
                layer_fn(layer)
            }),
        });
        self
    }

    /// Serves everything under `prefix` with `service`: a directory of
    /// files ([`StaticFiles`](crate::response::StaticFiles)), or any tower
    /// service (Starlette's `app.mount`). The service sees the path below the
    /// prefix. Path operations are matched first.
    ///
    /// ```
    /// use brisk::prelude::*;
    /// use brisk::response::StaticFiles;
    ///
    /// let app = App::new().mount("/static", StaticFiles::new("examples/static").html(true));
    /// let client = brisk::TestClient::new(app);
    /// assert_eq!(client.get("/static/").send().header("content-type"), Some("text/html; charset=utf-8"));
    /// ```
    pub fn mount<S, R>(mut self, prefix: &str, service: S) -> Self
    where
        S: tower::Service<Request, Response = R, Error = std::convert::Infallible>
            + Clone
            + Send
            + Sync
            + 'static,
        S::Future: Send + 'static,
        R: IntoResponse + 'static,
    {
        let prefix = prefix.trim_end_matches('/').to_owned();
        self.mounts.push((prefix, Route::new(service).0));
        self
    }

    /// Answers errors of type `E` app-wide with `handler`, FastAPI's
    /// `@app.exception_handler(E)`. `E` can be [`HttpError`](crate::HttpError)
    /// (also 404 and 405), [`ValidationErrors`](crate::error::ValidationErrors)
    /// (FastAPI's `RequestValidationError`), [`Panic`](crate::error::Panic)
    /// (the 500 of a panicking handler), or a type of the application marked
    /// `#[derive(Exception)]` that handlers return as their error.
    ///
    /// ```
    /// use brisk::prelude::*;
    /// use brisk::error::ValidationErrors;
    ///
    /// #[get("/items/{id}")]
    /// async fn item(id: u32) -> String { id.to_string() }
    ///
    /// // Answer invalid requests with 400 and the errors as plain text.
    /// let app = App::new().routes(routes![item]).exception_handler(
    ///     |_req: &http::request::Parts, errors: ValidationErrors| {
    ///         (StatusCode::BAD_REQUEST, format!("{} invalid", errors.detail.len()))
    ///     },
    /// );
    /// let resp = brisk::TestClient::new(app).get("/items/x").send();
    /// assert_eq!((resp.status().as_u16(), resp.text()), (400, "1 invalid".to_owned()));
    /// ```
    pub fn exception_handler<E, F, R>(mut self, handler: F) -> Self
    where
        E: Send + 'static,
        F: Fn(&http::request::Parts, E) -> R + Send + Sync + 'static,
        R: IntoResponse,
    {
        self.handlers.insert(handler);
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

    /// Builds what requests are served from, with the server's settings.
    pub(crate) fn build_service(self, config: &ServerConfig) -> Arc<AppService> {
        let threadpool_size = config
            .threadpool_size
            .or(self.threadpool_size)
            .unwrap_or(DEFAULT_SIZE);
        let app_deps = self.dependencies;
        let docs = crate::openapi::docs::operations(&self.docs_urls);
        let metrics_url: Option<&'static str> = self
            .metrics_url
            .clone()
            .or_else(|| config.metrics.then(|| "/metrics".to_owned()))
            .map(|url| &*Box::leak(url.into_boxed_str()));
        let operations: Vec<Operation> = self
            .operations
            .into_iter()
            .chain(docs)
            .chain(metrics_url.map(crate::prometheus::operation))
            .map(|mut op| {
                let mut deps = app_deps.clone();
                deps.append(&mut op.dependencies);
                op.dependencies = deps;
                op
            })
            .collect();
        for op in &operations {
            crate::depends::check_cycles(op.name, op.params, &op.dependencies);
            for spec in op.params.iter().map(|p| p.spec) {
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
        // What the watchdog watches: every operation (its id is its index),
        // then every function middleware.
        let mut watched: Vec<WatchedUnit> = operations
            .iter()
            .map(|op| WatchedUnit {
                kind: if op.is_websocket {
                    "WEBSOCKET".to_owned()
                } else {
                    op.method.to_string()
                },
                name: op.path,
                containable: !op.is_websocket,
            })
            .collect();
        for layer in &self.layers {
            if let AppLayer::Middleware { name, .. } = layer {
                watched.push(WatchedUnit {
                    kind: "MIDDLEWARE".to_owned(),
                    name,
                    containable: true,
                });
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
            watched,
            Arc::clone(&pool),
        );
        let docs = Docs::new(
            ApiInfo {
                title: self.title,
                version: self.version,
                description: self.description,
            },
            self.docs_urls,
            config.root_path(),
        );
        let mut state = self.state;
        state.insert_shared(Arc::clone(&docs));
        let metrics =
            metrics_url.map(|url| crate::prometheus::Recorder::new(url, Arc::clone(&watchdog)));
        if let Some(recorder) = &metrics {
            state.insert_shared(Arc::clone(recorder));
        }
        let limits = Limits {
            concurrency: config.limit_concurrency,
            max_requests: config.limit_max_requests.map(|n| n + jitter(config)),
            request_timeout: config.timeout_request.map(crate::serve::seconds),
            access_log: !config.no_access_log,
            root_path: config.root_path(),
            json_logs: config.log_format == crate::logging::LogFormat::Json,
        };
        let app = Arc::new(
            AppContext::new(
                config
                    .max_body_size
                    .or(self.max_body_size)
                    .unwrap_or(DEFAULT_MAX_BODY_SIZE),
                state,
                Arc::clone(&pool),
                Arc::clone(&watchdog),
                self.overrides,
                self.handlers,
            )
            .with_input_limits(config.websocket_settings(), config.upload_limits()),
        );
        let router = Router::new(operations, &app, limits.request_timeout);
        docs.set_operations(router.operations().map(|op| op.describe()).collect());
        let mut next_watch = router.operations().count();
        let layers: Vec<LayerFn> = self
            .layers
            .into_iter()
            .map(|layer| match layer {
                AppLayer::Layer(l) => l,
                AppLayer::Middleware { make, .. } => {
                    let watch = Watch {
                        watchdog: Arc::clone(&watchdog),
                        pool: Arc::clone(&pool),
                        id: next_watch,
                    };
                    next_watch += 1;
                    make(watch)
                }
            })
            .collect();
        let core = Core::new(router, app, self.mounts, limits.clone());
        AppService::new(
            core,
            layers,
            limits,
            (self.startup, self.shutdown),
            docs,
            metrics,
        )
    }
}

impl crate::serve::Servable for App {
    fn build(self, config: &ServerConfig) -> Arc<AppService> {
        self.build_service(config)
    }
}

/// Up to `--limit-max-requests-jitter` extra requests for this process, so
/// that workers do not all retire at once. A hash of pid and clock is random
/// enough for that and needs no RNG dependency.
fn jitter(config: &ServerConfig) -> u64 {
    match config.limit_max_requests_jitter {
        0 => 0,
        j => {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| u64::from(d.subsec_nanos()));
            (u64::from(std::process::id()).wrapping_mul(2_654_435_761) ^ nanos) % (j + 1)
        }
    }
}
