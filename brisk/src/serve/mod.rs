//! Sockets, HTTP connections and the server's life cycle.
//!
//! * `accept`: the listening socket and the accept loop, on a thread of its
//!   own, so a blocked event loop never stops new connections, and no client
//!   can make it wait.
//! * `lanes`: the event loops (tokio multi-thread runtimes) connections are
//!   served on, and the rescue of connections queued on a blocked one.
//! * `conn`, `io`, `deadline`: one connection, HTTP/1.1 or HTTP/2 cleartext,
//!   served by hyper with a deadline at every stage (see the table in `conn`).
//! * `tls`: HTTPS with rustls (`--ssl-certfile`), reloaded on SIGHUP.
//! * `proxy`: `--proxy-headers`, the client and scheme behind a trusted proxy.
//! * `tracker`: every open connection; shedding idle ones at the
//!   file-descriptor limit, draining them all on shutdown.
//! * `workers`: `--workers N` processes under a supervisor.
//! * [`ServerConfig`]: flags and `BRISK_*` variables.
//!
//! On SIGINT/SIGTERM the listener closes first (new connections are
//! refused), connections finish their in-flight requests (bounded by
//! `--timeout-graceful-shutdown`), and the process exits 0.

mod accept;
mod config;
mod conn;
mod deadline;
mod io;
mod lanes;
mod proxy;
mod tls;
mod tracker;
mod workers;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;

pub use config::ServerConfig;
pub(crate) use config::seconds;

use crate::exec::threadpool;
use crate::exec::watchdog::{self, LaneHealth};
use crate::service::AppService;
use accept::Acceptor;
use conn::Protocols;
use lanes::Dispatcher;
use tracker::Tracker;

/// Installs brisk's `tracing` subscriber (stderr through a non-blocking
/// queue, level from the config or `RUST_LOG`); does nothing if the
/// application installed one already. With `--workers`, every line starts
/// with the writing process's pid.
pub fn init_logging(config: &ServerConfig) {
    crate::logging::init(&crate::logging::LogSettings {
        filter: config.log_level.clone(),
        with_pid: config.workers > 1 || workers::is_worker(),
        format: config.log_format,
    });
}

/// What the server serves: something that becomes the app's service once
/// the server's settings are known ([`App`](crate::App) is).
pub trait Servable {
    /// Builds the service requests are answered by.
    fn build(self, config: &ServerConfig) -> Arc<AppService>;
}

/// How many event-loop threads to run: `configured`, or one per CPU; at least one.
pub(crate) fn event_loop_threads(configured: Option<usize>) -> usize {
    configured
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .max(1)
}

/// Builds one event loop for `app`: `threads` workers (default: one per
/// CPU, see [`event_loop_threads`]) and room for the thread pool's blocking
/// threads. Every thread knows the app's pool (for `run_in_threadpool`) and
/// watchdog, and a heartbeat task measures the loop's lag.
pub(crate) fn build_runtime(
    app: &Arc<AppService>,
    threads: Option<usize>,
) -> std::io::Result<(tokio::runtime::Runtime, Arc<LaneHealth>)> {
    let workers = event_loop_threads(threads);
    let cx = app.context();
    let (lane, health) = cx.watchdog.register_lane(workers);
    let pool = Arc::clone(&cx.pool);
    let wd = Arc::clone(&cx.watchdog);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .thread_name(format!("brisk-loop-{lane}"))
        // The pool's own semaphore is the real bound; tokio only needs enough
        // blocking threads for it plus tokio's own blocking work (fs, DNS).
        .max_blocking_threads(pool.size() + 64)
        .on_thread_start(move || {
            threadpool::set_current(Arc::clone(&pool));
            wd.enter_thread(lane);
        })
        .build()?;
    runtime.spawn(watchdog::heartbeat(Arc::downgrade(&cx.watchdog), lane));
    Ok((runtime, health))
}

/// Serves `app` until SIGINT/SIGTERM; returns the process exit code.
///
/// With `--workers N` (N > 1) this process becomes the supervisor and the
/// app is served by N worker processes (see [`workers`](self::workers)).
pub fn run(app: impl Servable, config: ServerConfig) -> i32 {
    init_logging(&config);
    // Bad TLS files are a configuration error: say so once and stop, rather
    // than start workers that cannot serve.
    let tls = match tls::Tls::from_config(&config) {
        Ok(tls) => tls.map(Arc::new),
        Err(e) => {
            tracing::error!("{e}");
            crate::logging::flush();
            return 1;
        }
    };
    if config.workers > 1 && !workers::is_worker() {
        return workers::supervise(config);
    }
    let shared = app.build(&config);
    let listener = if workers::is_worker() {
        workers::inherited_listener()
    } else {
        accept::bind(&config)
    };
    let listener = match listener {
        Ok(l) => l,
        Err(e) => {
            tracing::error!(host = %config.host, port = config.port, error = %e, "could not bind");
            return 1;
        }
    };
    let grace = Duration::from_secs(config.timeout_graceful_shutdown);
    // N worker processes share the CPUs: by default each gets cores / N
    // event-loop threads (at least one), like uvicorn's one loop per worker.
    let threads = config.event_loop_threads.or_else(|| {
        workers::is_worker().then(|| {
            let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
            (cores / config.workers.max(1)).max(1)
        })
    });
    match Server::new(shared, listener, threads, &config, tls) {
        Ok(server) => {
            let retire = Arc::clone(&server.app);
            server.run(
                async move {
                    tokio::select! {
                        () = shutdown_signal() => {}
                        () = retire.retired() => {}
                    }
                },
                grace,
            );
            tracing::info!("shutdown complete");
            0
        }
        Err(e) => {
            tracing::error!(error = %e, "could not start the server");
            1
        }
    }
}

/// Resolves on SIGINT or SIGTERM.
async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).expect("install SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT received, shutting down"),
        _ = term.recv() => tracing::info!("SIGTERM received, shutting down"),
    }
}

/// Makes large buffers (request bodies, big answers) go straight back to
/// the operating system when freed. glibc raises its mmap threshold after
/// the first large free (up to 32 MiB) and then keeps later large buffers in
/// its heaps, so a burst of big requests (or slow readers cut at their
/// deadline) leaves the process's memory high long after they are gone. A
/// fixed threshold keeps every allocation of 256 KiB or more in a mapping of
/// its own, returned on free; smaller ones are unaffected.
fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        static ONCE: std::sync::Once = std::sync::Once::new();
        // SAFETY: mallopt with a documented parameter, before the server's
        // threads start allocating large buffers.
        ONCE.call_once(|| unsafe {
            libc::mallopt(libc::M_MMAP_THRESHOLD, 256 * 1024);
        });
    }
}

/// A bound listener, its event loops, and the acceptor runtime.
struct Server {
    app: Arc<AppService>,
    listener: std::net::TcpListener,
    dispatcher: Arc<Dispatcher>,
    tracker: Arc<Tracker>,
    head_timeout: Duration,
    acceptor: tokio::runtime::Runtime,
    tls: Option<Arc<tls::Tls>>,
}

/// SIGHUP with TLS on: the certificate files are read again; handshakes
/// from then on get the new certificate, open connections keep theirs.
/// (Under a supervisor, SIGHUP goes to the supervisor, which replaces the
/// workers instead; each new worker loads the files.)
async fn reload_tls_on_sighup(tls: Arc<tls::Tls>) {
    use tokio::signal::unix::{SignalKind, signal};
    let Ok(mut hup) = signal(SignalKind::hangup()) else {
        return;
    };
    while hup.recv().await.is_some() {
        match tls.reload() {
            Ok(()) => tracing::info!("SIGHUP received, TLS certificate reloaded"),
            Err(e) => {
                tracing::error!(error = %e, "SIGHUP received, but the TLS files do not load; keeping the current certificate")
            }
        }
    }
}

impl Server {
    fn new(
        app: Arc<AppService>,
        listener: std::net::TcpListener,
        workers: Option<usize>,
        config: &ServerConfig,
        tls: Option<Arc<tls::Tls>>,
    ) -> std::io::Result<Self> {
        listener.set_nonblocking(true)?;
        tune_allocator();
        let settings = config.conn_settings();
        let head_timeout = settings.head_timeout;
        let tracker = Tracker::new(tracker::raise_fd_limit());
        let protocols = Arc::new(Protocols::new(settings, tls, config.trusted_proxies()));
        if let Some(metrics) = &app.metrics {
            let tracker = Arc::clone(&tracker);
            metrics.count_connections_with(Box::new(move || tracker.open()));
        }
        let protocols_tls = protocols.tls.clone();
        let dispatcher = Dispatcher::new(
            Arc::clone(&app),
            workers,
            config.work_stealing,
            protocols,
            Arc::clone(&tracker),
        )?;
        let acceptor = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        Ok(Server {
            app,
            listener,
            dispatcher,
            tracker,
            head_timeout,
            acceptor,
            tls: protocols_tls,
        })
    }

    /// Accepts on the calling thread until `shutdown`, drains, and stops
    /// the event loops.
    fn run(self, shutdown: impl Future<Output = ()>, grace: Duration) {
        let startup = self.app.take_hooks(true);
        if !startup.is_empty() {
            self.dispatcher
                .block_on_main(crate::service::run_hooks(startup));
        }
        let Server {
            app,
            listener,
            dispatcher,
            tracker,
            head_timeout,
            acceptor,
            tls,
        } = self;
        acceptor.block_on(async {
            let listener = TcpListener::from_std(listener).expect("register listener");
            if let Ok(local) = listener.local_addr() {
                let scheme = if tls.is_some() { "https" } else { "http" };
                tracing::info!(
                    pid = std::process::id(),
                    threadpool = app.context().pool.size(),
                    blocking_policy = ?app.context().watchdog.policy(),
                    "brisk serving on {scheme}://{local} (press Ctrl+C to quit)"
                );
            }
            if let Some(tls) = tls {
                tokio::spawn(reload_tls_on_sighup(tls));
            }
            if let Some(health) = workers::health_socket() {
                workers::report_ready(&health);
                dispatcher
                    .main_handle()
                    .spawn(workers::answer_health_checks(health));
            }
            let acceptor = Acceptor {
                dispatcher: Arc::clone(&dispatcher),
                tracker,
                head_timeout,
                shared: workers::is_worker(),
            };
            // Returns (dropping the listener: new connections are refused)
            // as soon as `shutdown` resolves; then the open ones drain.
            acceptor.run(listener, shutdown).await;
            dispatcher.drain(grace).await;
        });
        if let Some(metrics) = &app.metrics {
            metrics.share(); // the last second's figures, for the workers that remain
        }
        let shutdown_hooks = app.take_hooks(false);
        if !shutdown_hooks.is_empty() {
            dispatcher.block_on_main(crate::service::run_hooks(shutdown_hooks));
        }
        dispatcher.shutdown_runtimes();
    }
}

/// A server running in the background, for tests and embedding: bound to a
/// real socket, accepting on its own thread.
///
/// ```
/// use brisk::prelude::*;
///
/// #[get("/")]
/// async fn root() -> &'static str { "hi" }
///
/// let server = brisk::serve::BackgroundServer::start(App::new().routes(routes![root]), brisk::ServerConfig::for_tests());
/// println!("listening on {}", server.addr());
/// server.stop();
/// ```
pub struct BackgroundServer {
    addr: SocketAddr,
    https: bool,
    app: Arc<AppService>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl BackgroundServer {
    /// Binds and starts serving; panics if it cannot bind.
    pub fn start(app: impl Servable, config: ServerConfig) -> Self {
        init_logging(&config);
        let shared = app.build(&config);
        let listener = accept::bind(&config).expect("bind");
        let addr = listener.local_addr().expect("local addr");
        let tls = tls::Tls::from_config(&config)
            .unwrap_or_else(|e| panic!("{e}"))
            .map(Arc::new);
        let https = tls.is_some();
        let server = Server::new(
            Arc::clone(&shared),
            listener,
            config.event_loop_threads,
            &config,
            tls,
        )
        .expect("start server");
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let grace = Duration::from_secs(config.timeout_graceful_shutdown);
        let thread = std::thread::Builder::new()
            .name("brisk-accept".into())
            .spawn(move || {
                server.run(
                    async {
                        let _ = rx.await;
                    },
                    grace,
                )
            })
            .expect("spawn server thread");
        BackgroundServer {
            addr,
            https,
            app: shared,
            stop: Some(tx),
            thread: Some(thread),
        }
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The base URL, `http://127.0.0.1:PORT` (`https://` with TLS).
    pub fn url(&self) -> String {
        let scheme = if self.https { "https" } else { "http" };
        format!("{scheme}://{}", self.addr)
    }

    /// The watchdog's and thread pool's counters.
    pub fn metrics(&self) -> crate::exec::MetricsSnapshot {
        self.app.context().watchdog.snapshot()
    }

    /// Stops accepting, waits for in-flight requests, and joins the thread.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for BackgroundServer {
    fn drop(&mut self) {
        self.shutdown();
    }
}
