//! Event loops ("lanes") and how connections are handed to them.
//!
//! Connections are accepted on a thread of their own (see `serve::accept`),
//! never on an event-loop worker, so a handler that blocks its worker cannot
//! stop new connections from being accepted. Each accepted connection is
//! handed to a lane as a [`PendingConn`] that the lane's task claims when it
//! first runs. If every worker of a lane is blocked (the watchdog says so),
//! new connections go to another lane, and the ones still waiting in the
//! blocked lane's queue are claimed back and moved ([`Dispatcher::rescue`]).
//! The first lane is the main event loop; one spare single-worker lane is
//! ready from the start, more are created on demand, up to [`MAX_LANES`].

use std::convert::Infallible;
use std::io::Read;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use bytes::Bytes;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::{GracefulShutdown, Watcher};

use super::prefixed::Prefixed;
use crate::app::AppShared;
use crate::exec::watchdog::LaneHealth;
use crate::params::RawBody;

/// The most event loops one server runs (the main one and the spares).
pub(crate) const MAX_LANES: usize = 8;

/// An accepted connection not yet picked up by its lane.
pub(crate) struct PendingConn {
    stream: Mutex<Option<std::net::TcpStream>>,
    peer: SocketAddr,
}

impl PendingConn {
    fn take(&self) -> Option<std::net::TcpStream> {
        self.stream.lock().expect("pending lock").take()
    }

    /// Not yet picked up by an event loop.
    pub(crate) fn is_waiting(&self) -> bool {
        self.stream.lock().expect("pending lock").is_some()
    }
}

/// One event loop: a tokio runtime and the connections queued for it.
pub(crate) struct Lane {
    handle: tokio::runtime::Handle,
    health: Arc<LaneHealth>,
    pending: Mutex<Vec<Arc<PendingConn>>>,
}

/// hyper-util's auto builder (HTTP/1.1 and h2c) with the app's limits: the
/// keep-alive timeout doubles as the request-head timeout (hyper starts that
/// timer while waiting for a head, idle or not), and the head size limit
/// answers 431.
fn connection_builder(app: &AppShared) -> auto::Builder<TokioExecutor> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(app.limits.keep_alive)
        .max_buf_size(app.limits.max_header_size.max(8192));
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_header_list_size(app.limits.max_header_size as u32);
    builder
}

/// Hands accepted connections to lanes and serves them there.
pub(crate) struct Dispatcher {
    app: Arc<AppShared>,
    lanes: RwLock<Vec<Arc<Lane>>>,
    runtimes: Mutex<Vec<tokio::runtime::Runtime>>,
    builder: Arc<auto::Builder<TokioExecutor>>,
    graceful: Mutex<Option<GracefulShutdown>>,
}

impl Dispatcher {
    /// The main event loop with `workers` threads, and one spare lane.
    pub(crate) fn new(app: Arc<AppShared>, workers: Option<usize>) -> std::io::Result<Arc<Self>> {
        let builder = Arc::new(connection_builder(&app));
        let dispatcher = Arc::new(Dispatcher {
            app,
            lanes: RwLock::new(Vec::new()),
            runtimes: Mutex::new(Vec::new()),
            builder,
            graceful: Mutex::new(Some(GracefulShutdown::new())),
        });
        dispatcher.add_lane(workers)?;
        dispatcher.add_lane(Some(1))?;
        let weak = Arc::downgrade(&dispatcher);
        dispatcher.app.watchdog.on_stall(Box::new(move |lane| {
            if let Some(d) = weak.upgrade() {
                d.rescue(lane);
            }
        }));
        Ok(dispatcher)
    }

    fn add_lane(&self, workers: Option<usize>) -> std::io::Result<Arc<Lane>> {
        let (runtime, health) = super::build_runtime(&self.app, workers)?;
        let lane = Arc::new(Lane {
            handle: runtime.handle().clone(),
            health,
            pending: Mutex::new(Vec::new()),
        });
        self.lanes
            .write()
            .expect("lanes lock")
            .push(Arc::clone(&lane));
        self.runtimes.lock().expect("runtimes lock").push(runtime);
        Ok(lane)
    }

    /// The first lane whose workers are not all blocked; a new spare lane if
    /// every one is (up to [`MAX_LANES`]); the main lane as a last resort.
    fn pick(&self) -> Arc<Lane> {
        {
            let lanes = self.lanes.read().expect("lanes lock");
            if let Some(lane) = lanes.iter().find(|l| !l.health.is_stalled()) {
                return Arc::clone(lane);
            }
            if lanes.len() >= MAX_LANES {
                return Arc::clone(&lanes[0]);
            }
        }
        match self.add_lane(Some(1)) {
            Ok(lane) => {
                tracing::warn!("every event loop is blocked; started another one");
                lane
            }
            Err(e) => {
                tracing::error!(error = %e, "could not start another event loop");
                Arc::clone(&self.lanes.read().expect("lanes lock")[0])
            }
        }
    }

    /// Serves `stream` on a lane that is not blocked; returns the handle the
    /// lane claims it through.
    pub(crate) fn dispatch(
        self: &Arc<Self>,
        stream: std::net::TcpStream,
        peer: SocketAddr,
    ) -> Arc<PendingConn> {
        let conn = Arc::new(PendingConn {
            stream: Mutex::new(Some(stream)),
            peer,
        });
        self.dispatch_pending(Arc::clone(&conn));
        conn
    }

    /// Whether the main event loop is fully occupied by user code right now
    /// (and not yet declared blocked).
    pub(crate) fn main_loop_occupied(&self) -> bool {
        self.app.watchdog.lane_occupied(0)
    }

    fn dispatch_pending(self: &Arc<Self>, conn: Arc<PendingConn>) {
        let Some(watcher) = self.watcher() else {
            return; // shutting down: drop the connection
        };
        let lane = self.pick();
        {
            let mut pending = lane.pending.lock().expect("pending lock");
            pending.retain(|p| p.is_waiting());
            pending.push(Arc::clone(&conn));
        }
        let app = Arc::clone(&self.app);
        let builder = Arc::clone(&self.builder);
        lane.handle.spawn(async move {
            let Some(stream) = conn.take() else {
                return; // rescued to another lane before this one got to it
            };
            serve_connection(app, builder, watcher, stream, conn.peer).await;
        });
    }

    /// Moves the connections still queued on `lane` to other lanes.
    pub(crate) fn rescue(self: &Arc<Self>, lane: usize) {
        let Some(lane) = self.lanes.read().expect("lanes lock").get(lane).cloned() else {
            return;
        };
        let queued: Vec<Arc<PendingConn>> = lane
            .pending
            .lock()
            .expect("pending lock")
            .drain(..)
            .collect();
        let mut moved = 0;
        for conn in queued {
            if let Some(stream) = conn.take() {
                moved += 1;
                let _ = self.dispatch(stream, conn.peer);
            }
        }
        if moved > 0 {
            tracing::info!(
                connections = moved,
                "moved queued connections off a blocked event loop"
            );
        }
    }

    fn watcher(&self) -> Option<Watcher> {
        self.graceful
            .lock()
            .expect("graceful lock")
            .as_ref()
            .map(GracefulShutdown::watcher)
    }

    /// Stops taking connections and waits up to `grace` for open ones to
    /// finish their in-flight requests.
    pub(crate) async fn drain(&self, grace: Duration) {
        let Some(graceful) = self.graceful.lock().expect("graceful lock").take() else {
            return;
        };
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

    /// Runs `fut` to completion on the main event loop, from outside any
    /// runtime (startup and shutdown hooks).
    pub(crate) fn block_on_main<F: std::future::Future>(&self, fut: F) -> F::Output {
        self.main_handle().block_on(fut)
    }

    /// A handle to the main event loop.
    pub(crate) fn main_handle(&self) -> tokio::runtime::Handle {
        self.lanes.read().expect("lanes lock")[0].handle.clone()
    }

    /// Shuts the lanes' runtimes down (call outside any async context).
    pub(crate) fn shutdown_runtimes(&self) {
        let runtimes = std::mem::take(&mut *self.runtimes.lock().expect("runtimes lock"));
        for rt in runtimes {
            rt.shutdown_timeout(Duration::from_secs(1));
        }
    }
}

async fn serve_connection(
    app: Arc<AppShared>,
    builder: Arc<auto::Builder<TokioExecutor>>,
    watcher: Watcher,
    stream: std::net::TcpStream,
    peer: SocketAddr,
) {
    // Read what the client already sent before registering (see `prefixed`).
    let mut first = [0u8; 4096];
    let prefix = match (&stream).read(&mut first) {
        Ok(0) => return, // closed before sending anything
        // Exactly-sized: this buffer lives as long as the connection.
        Ok(n) => Bytes::copy_from_slice(&first[..n]),
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
            tracing::debug!(%peer, "connection handed over before its first bytes");
            Bytes::new()
        }
        Err(e) => {
            return tracing::debug!(%peer, error = %e, "connection failed before its first request");
        }
    };
    let stream = match tokio::net::TcpStream::from_std(stream) {
        Ok(s) => s,
        Err(e) => return tracing::debug!(%peer, error = %e, "could not register connection"),
    };
    let _ = stream.set_nodelay(true);
    let stream = Prefixed::new(prefix, stream);
    let service = service_fn(move |req: http::Request<Incoming>| {
        let app = Arc::clone(&app);
        async move {
            let (parts, body) = req.into_parts();
            Ok::<_, Infallible>(app.handle(parts, RawBody::Incoming(body)).await)
        }
    });
    let conn = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
    if let Err(e) = watcher.watch(conn.into_owned()).await {
        tracing::debug!(%peer, error = %e, "connection ended with an error");
    }
}
