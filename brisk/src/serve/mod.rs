//! Sockets, HTTP connections and the server's life cycle.
//!
//! One tokio multi-thread runtime (the event loop) accepts connections on a
//! listener and serves each with hyper-util's auto builder, which speaks
//! HTTP/1.1 (keep-alive) or HTTP/2 cleartext (prior knowledge), detected from
//! the first bytes. On SIGINT/SIGTERM the listener closes, connections finish
//! their in-flight requests (bounded by `--timeout-graceful-shutdown`), and
//! the process exits 0.

mod config;

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;

pub use config::ServerConfig;

use crate::App;
use crate::app::AppShared;
use crate::exec::threadpool;
use crate::params::RawBody;

/// Installs the `tracing` subscriber (stderr, level from the config or
/// `RUST_LOG`); does nothing if the application installed one already.
pub fn init_logging(config: &ServerConfig) {
    let filter = std::env::var("RUST_LOG").unwrap_or_else(|_| config.log_level.clone());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}

/// Builds the event-loop runtime for `app`: `threads` workers, and room for
/// the thread pool's blocking threads. Every thread knows the app's pool, so
/// `run_in_threadpool` finds it.
pub(crate) fn build_runtime(
    app: &Arc<AppShared>,
    threads: Option<usize>,
) -> std::io::Result<tokio::runtime::Runtime> {
    let pool = Arc::clone(&app.pool);
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if let Some(n) = threads {
        builder.worker_threads(n.max(1));
    }
    builder
        .enable_all()
        .thread_name("brisk")
        // The pool's own semaphore is the real bound; tokio only needs enough
        // blocking threads for it plus tokio's own blocking work (fs, DNS).
        .max_blocking_threads(pool.size() + 64)
        .on_thread_start(move || threadpool::set_current(Arc::clone(&pool)))
        .build()
}

/// Serves `app` until SIGINT/SIGTERM; returns the process exit code.
pub fn run(app: App, config: ServerConfig) -> i32 {
    init_logging(&config);
    let shared = app.into_shared(&config);
    let runtime = match build_runtime(&shared, config.event_loop_threads) {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!(error = %e, "could not start the runtime");
            return 1;
        }
    };
    runtime.block_on(async {
        let addr = format!("{}:{}", config.host, config.port);
        let listener = match TcpListener::bind(&addr).await {
            Ok(l) => l,
            Err(e) => {
                tracing::error!(%addr, error = %e, "could not bind");
                return 1;
            }
        };
        let local = listener.local_addr().map(|a| a.to_string()).unwrap_or(addr);
        tracing::info!(
            pid = std::process::id(),
            threadpool = shared.pool.size(),
            "brisk serving on http://{local} (press Ctrl+C to quit)"
        );
        let grace = Duration::from_secs(config.timeout_graceful_shutdown);
        serve(shared, listener, shutdown_signal(), grace).await;
        tracing::info!("shutdown complete");
        0
    })
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

/// Accepts connections on `listener` until `shutdown` resolves, then waits up
/// to `grace` for open connections to finish their in-flight requests.
pub(crate) async fn serve(
    app: Arc<AppShared>,
    listener: TcpListener,
    shutdown: impl Future<Output = ()>,
    grace: Duration,
) {
    let builder = Arc::new(auto::Builder::new(TokioExecutor::new()));
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let _ = stream.set_nodelay(true);
                    let conn = builder.serve_connection_with_upgrades(TokioIo::new(stream), service(&app, peer));
                    let conn = graceful.watch(conn.into_owned());
                    tokio::spawn(async move {
                        if let Err(e) = conn.await {
                            tracing::debug!(%peer, error = %e, "connection ended with an error");
                        }
                    });
                }
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            () = &mut shutdown => break,
        }
    }
    drop(listener);
    tracing::info!(
        connections = graceful.count(),
        "waiting for in-flight requests"
    );
    if tokio::time::timeout(grace, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("graceful shutdown timed out; closing remaining connections");
    }
}

/// The hyper service for one connection.
fn service(
    app: &Arc<AppShared>,
    _peer: SocketAddr,
) -> impl hyper::service::Service<
    http::Request<Incoming>,
    Response = crate::response::Response,
    Error = Infallible,
    Future: Send,
> + Clone
+ use<> {
    let app = Arc::clone(app);
    service_fn(move |req: http::Request<Incoming>| {
        let app = Arc::clone(&app);
        async move {
            let (parts, body) = req.into_parts();
            Ok::<_, Infallible>(app.handle(parts, RawBody::Incoming(body)).await)
        }
    })
}

/// A server running in the background, for tests and embedding: bound to a
/// real socket, on its own runtime thread.
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
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl BackgroundServer {
    /// Binds and starts serving; panics if it cannot bind.
    pub fn start(app: App, config: ServerConfig) -> Self {
        init_logging(&config);
        let shared = app.into_shared(&config);
        let runtime = build_runtime(&shared, config.event_loop_threads).expect("runtime");
        let std_listener =
            std::net::TcpListener::bind((config.host.as_str(), config.port)).expect("bind");
        std_listener.set_nonblocking(true).expect("nonblocking");
        let addr = std_listener.local_addr().expect("local addr");
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let grace = Duration::from_secs(config.timeout_graceful_shutdown);
        let thread = std::thread::spawn(move || {
            runtime.block_on(async move {
                let listener = TcpListener::from_std(std_listener).expect("listener");
                serve(
                    shared,
                    listener,
                    async {
                        let _ = rx.await;
                    },
                    grace,
                )
                .await;
            });
        });
        BackgroundServer {
            addr,
            stop: Some(tx),
            thread: Some(thread),
        }
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The base URL, `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
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
