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

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use super::conn::{Protocols, serve_connection};
use super::tracker::{ConnHandle, ConnState, Tracker};
use crate::exec::watchdog::LaneHealth;
use crate::service::AppService;

/// The most event loops one server runs (the main one and the spares).
pub(crate) const MAX_LANES: usize = 8;

/// An accepted connection not yet picked up by its lane.
pub(crate) struct PendingConn {
    stream: Mutex<Option<(std::net::TcpStream, ConnHandle)>>,
    peer: SocketAddr,
    /// The connection's state, to see when its first request reaches the app.
    pub(crate) state: Arc<ConnState>,
}

impl PendingConn {
    fn take(&self) -> Option<(std::net::TcpStream, ConnHandle)> {
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

/// Hands accepted connections to lanes and serves them there.
pub(crate) struct Dispatcher {
    app: Arc<AppService>,
    lanes: RwLock<Vec<Arc<Lane>>>,
    runtimes: Mutex<Vec<tokio::runtime::Runtime>>,
    protocols: Arc<Protocols>,
    tracker: Arc<Tracker>,
}

impl Dispatcher {
    /// The main event loop with `workers` threads, and one spare lane.
    pub(crate) fn new(
        app: Arc<AppService>,
        workers: Option<usize>,
        protocols: Arc<Protocols>,
        tracker: Arc<Tracker>,
    ) -> std::io::Result<Arc<Self>> {
        let dispatcher = Arc::new(Dispatcher {
            app,
            lanes: RwLock::new(Vec::new()),
            runtimes: Mutex::new(Vec::new()),
            protocols,
            tracker,
        });
        dispatcher.add_lane(workers)?;
        dispatcher.add_lane(Some(1))?;
        let weak = Arc::downgrade(&dispatcher);
        dispatcher
            .app
            .context()
            .watchdog
            .on_stall(Box::new(move |lane| {
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
        handle: ConnHandle,
    ) -> Arc<PendingConn> {
        let state = Arc::clone(handle.state());
        let conn = Arc::new(PendingConn {
            stream: Mutex::new(Some((stream, handle))),
            peer,
            state,
        });
        self.dispatch_pending(Arc::clone(&conn));
        conn
    }

    /// Whether the main event loop is fully occupied by user code right now
    /// (and not yet declared blocked).
    pub(crate) fn main_loop_occupied(&self) -> bool {
        self.app.context().watchdog.lane_occupied(0)
    }

    fn dispatch_pending(self: &Arc<Self>, conn: Arc<PendingConn>) {
        let lane = self.pick();
        {
            let mut pending = lane.pending.lock().expect("pending lock");
            pending.retain(|p| p.is_waiting());
            pending.push(Arc::clone(&conn));
        }
        let app = Arc::clone(&self.app);
        let protocols = Arc::clone(&self.protocols);
        lane.handle.spawn(async move {
            let Some((stream, handle)) = conn.take() else {
                return; // rescued to another lane before this one got to it
            };
            serve_connection(app, protocols, handle, stream, conn.peer).await;
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
            if let Some((stream, handle)) = conn.take() {
                moved += 1;
                let _ = self.dispatch(stream, conn.peer, handle);
            }
        }
        if moved > 0 {
            tracing::info!(
                connections = moved,
                "moved queued connections off a blocked event loop"
            );
        }
    }

    /// Asks every connection to finish (see [`Tracker::start_draining`])
    /// and waits up to `grace` for them to close.
    pub(crate) async fn drain(&self, grace: Duration) {
        self.tracker.start_draining();
        tracing::info!(
            connections = self.tracker.open(),
            "waiting for in-flight requests"
        );
        if !self.tracker.wait_closed(grace).await {
            tracing::warn!(
                connections = self.tracker.open(),
                "graceful shutdown timed out; closing remaining connections"
            );
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
