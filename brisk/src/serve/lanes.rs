//! Event loops ("lanes") and how connections are handed to them.
//!
//! Connections are accepted on a thread of their own (see `serve::accept`),
//! never on an event-loop worker, so a handler that blocks its worker cannot
//! stop new connections from being accepted. Each accepted connection is
//! handed to a lane as a [`PendingConn`] that the lane's task claims when it
//! first runs. If every worker of a lane is blocked (the watchdog says so),
//! new connections go to another lane, and the ones still waiting in the
//! blocked lane's queue are claimed back and moved ([`Dispatcher::rescue`]).
//!
//! The main event loop is one single-threaded lane per event-loop thread
//! (the first `main` lanes), and new connections go to them in turn, as
//! actix-web's workers do: a connection's tasks stay on one thread, so no
//! wake-up crosses cores and no idle thread is woken to steal work. Against
//! one work-stealing tokio runtime of the same two threads, on `GET /` with
//! `wrk -c64` (`bench/tools/cpu_per_request.sh --reps 6 BIN BIN --
//! --work-stealing`, four alternating sessions): 0–8 % less CPU per request
//! (session medians 19.6/19.5, 17.7/18.4, 16.6/16.9, 16.7/18.2 µs) and about
//! a sixth more requests per second (69,000 against 59,000 in the last).
//! `--work-stealing` brings that runtime back as a single main lane, for
//! loads where a few connections carry most of the work. One spare
//! single-worker lane is ready from the start, more are created on demand
//! when every lane is blocked, up to [`MAX_SPARE_LANES`] beyond the main ones.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use super::conn::{Protocols, serve_connection};
use super::tracker::{ConnHandle, ConnState, Tracker};
use crate::exec::watchdog::LaneHealth;
use crate::service::AppService;

/// The most spare event loops one server runs beside its main lanes.
pub(crate) const MAX_SPARE_LANES: usize = 8;

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
    /// How many of the first lanes make up the main event loop.
    main: usize,
    /// The main lane the next connection goes to, modulo `main`.
    turn: AtomicUsize,
}

impl Dispatcher {
    /// The main event loop with `threads` threads (default: one per CPU),
    /// as that many single-threaded lanes or, with `work_stealing`, one
    /// lane of that many workers; and one spare lane.
    pub(crate) fn new(
        app: Arc<AppService>,
        threads: Option<usize>,
        work_stealing: bool,
        protocols: Arc<Protocols>,
        tracker: Arc<Tracker>,
    ) -> std::io::Result<Arc<Self>> {
        let threads = super::event_loop_threads(threads);
        let main = if work_stealing { 1 } else { threads };
        let dispatcher = Arc::new(Dispatcher {
            app,
            lanes: RwLock::new(Vec::new()),
            runtimes: Mutex::new(Vec::new()),
            protocols,
            tracker,
            main,
            turn: AtomicUsize::new(0),
        });
        if work_stealing {
            dispatcher.add_lane(Some(threads))?;
        } else {
            for _ in 0..threads {
                dispatcher.add_lane(Some(1))?;
            }
        }
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

    /// The main lanes in turn, skipping those whose workers are all
    /// blocked; else the first lane that is not blocked; a new spare lane if
    /// every one is (up to [`MAX_SPARE_LANES`] spares); the main lane whose turn
    /// it is as a last resort.
    fn pick(&self) -> Arc<Lane> {
        let turn = self.turn.fetch_add(1, Ordering::Relaxed);
        {
            let lanes = self.lanes.read().expect("lanes lock");
            let main = (0..self.main).map(|i| &lanes[(turn + i) % self.main]);
            if let Some(lane) = main
                .chain(&lanes[self.main..])
                .find(|l| !l.health.is_stalled())
            {
                return Arc::clone(lane);
            }
            if lanes.len() >= self.main + MAX_SPARE_LANES {
                return Arc::clone(&lanes[turn % self.main]);
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

    /// Whether every thread of the main event loop is occupied by user code
    /// right now (and its lane not yet declared blocked).
    pub(crate) fn main_loop_occupied(&self) -> bool {
        let watchdog = &self.app.context().watchdog;
        (0..self.main as u32).all(|lane| watchdog.lane_occupied(lane))
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
