//! Every open connection, from accept to close: how many there are, which
//! are idle, and the two ways the server ends them early.
//!
//! * **Shedding.** A process has a fixed number of file descriptors
//!   (`ulimit -n`). When open connections come within [`HEADROOM`] of that
//!   limit, or `accept` fails for want of descriptors, the acceptor closes the
//!   connections that have been idle the longest (no request in progress:
//!   silent, half a head, or an idle keep-alive) instead of refusing new
//!   clients. A connection with a request in progress is never shed.
//! * **Draining** (SIGTERM, SIGHUP's rolling restart, `--limit-max-requests`).
//!   HTTP/1.1 connections answer their in-flight and next request with
//!   `Connection: close` and idle ones close at the keep-alive timeout, so a
//!   client never sees its request cut; HTTP/2 connections get a GOAWAY.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use tokio::sync::{Notify, watch};

/// File descriptors kept free for everything that is not a client
/// connection (log writes, `/proc` reads, the health socket, files a handler
/// opens).
pub(crate) const HEADROOM: usize = 64;

/// The open connections of one server process.
pub(crate) struct Tracker {
    conns: Mutex<HashMap<u64, Arc<ConnState>>>,
    next_id: AtomicU64,
    open: AtomicUsize,
    /// Connections allowed before the oldest idle ones are shed.
    max_open: usize,
    all_closed: Notify,
    draining: watch::Sender<bool>,
}

/// One connection's state, shared by its task, its service and the tracker.
pub(crate) struct ConnState {
    id: u64,
    /// Requests being answered right now (a response counts until its last
    /// byte is written).
    busy: AtomicUsize,
    /// Requests started on this connection so far.
    started: AtomicU64,
    /// Milliseconds since [`clock`]'s epoch when the connection last became idle.
    idle_since_ms: AtomicU64,
    /// Set once the connection is asked to close at the next opportunity.
    closing: AtomicBool,
    /// Wakes the connection's task to close it now (shedding).
    shed: Notify,
    /// Set once the connection became a WebSocket: only then does the
    /// connection's task wait for it to go idle (see [`Self::until_idle`]).
    upgraded: AtomicBool,
    /// Notified when an upgraded connection goes idle.
    idle: Notify,
    /// A write is waiting for the client to read: the connection is not
    /// waiting for a request head yet, whatever `busy` says (a response's
    /// last bytes may still be on their way out after it stopped counting).
    write_waiting: AtomicBool,
}

impl ConnState {
    /// Whether a request is being answered on this connection.
    pub(crate) fn is_busy(&self) -> bool {
        self.busy.load(Ordering::Acquire) > 0
    }

    /// Whether the connection is waiting for a request head: no request
    /// being answered and no write waiting for the client.
    pub(crate) fn awaits_head(&self) -> bool {
        !self.is_busy() && !self.write_waiting.load(Ordering::Acquire)
    }

    /// The connection's wait for its next request head starts now: when
    /// it is handed to HTTP serving (the waits before, for its first bytes
    /// and its TLS handshake, had deadlines of their own), and whenever it
    /// becomes idle.
    pub(crate) fn idle_from_now(&self) {
        self.idle_since_ms.store(now_ms(), Ordering::Relaxed);
    }

    /// A write has to wait for the client to read (see `io`).
    pub(crate) fn write_blocked(&self) {
        self.write_waiting.store(true, Ordering::Release);
    }

    /// A write that had to wait went through: an idle connection's wait
    /// for its next request head starts now.
    pub(crate) fn write_unblocked(&self) {
        if !self.is_busy() {
            self.idle_from_now();
        }
        self.write_waiting.store(false, Ordering::Release);
    }

    /// When the connection last became idle.
    pub(crate) fn idle_since(&self) -> Instant {
        clock() + Duration::from_millis(self.idle_since_ms.load(Ordering::Relaxed))
    }

    /// Whether the server wants this connection to end after its current request.
    pub(crate) fn is_closing(&self) -> bool {
        self.closing.load(Ordering::Relaxed)
    }

    /// Resolves when the tracker sheds this connection.
    pub(crate) async fn shed(&self) {
        self.shed.notified().await
    }

    /// Whether a request has reached the app on this connection yet.
    pub(crate) fn has_started(&self) -> bool {
        self.started.load(Ordering::Acquire) > 0
    }

    /// Counts an upgraded connection (a WebSocket) as busy until the
    /// guard is dropped.
    pub(crate) fn enter_upgraded(self: &Arc<Self>) -> BusyGuard {
        self.upgraded.store(true, Ordering::Release);
        self.enter()
    }

    /// Resolves once no request and no upgraded connection is in progress.
    pub(crate) async fn until_idle(&self) {
        loop {
            let notified = self.idle.notified();
            tokio::pin!(notified);
            // Registered before the check, so a guard dropped in between still wakes us.
            notified.as_mut().enable();
            if !self.is_busy() {
                return;
            }
            notified.await;
        }
    }

    /// Counts a request as in progress until the guard is dropped.
    pub(crate) fn enter(self: &Arc<Self>) -> BusyGuard {
        self.started.fetch_add(1, Ordering::AcqRel);
        self.busy.fetch_add(1, Ordering::AcqRel);
        BusyGuard(Arc::clone(self))
    }
}

/// A request in progress on a connection (see [`ConnState::enter`]).
pub(crate) struct BusyGuard(Arc<ConnState>);

impl Drop for BusyGuard {
    fn drop(&mut self) {
        self.0.idle_from_now();
        let was = self.0.busy.fetch_sub(1, Ordering::AcqRel);
        // Only a connection that was upgraded has a task waiting for this.
        if was == 1 && self.0.upgraded.load(Ordering::Acquire) {
            self.0.idle.notify_waiters();
        }
    }
}

/// An open connection's registration; dropping it unregisters the connection.
pub(crate) struct ConnHandle {
    tracker: Arc<Tracker>,
    state: Arc<ConnState>,
}

impl ConnHandle {
    pub(crate) fn state(&self) -> &Arc<ConnState> {
        &self.state
    }

    /// A receiver that changes to `true` when the server starts draining.
    pub(crate) fn draining(&self) -> watch::Receiver<bool> {
        self.tracker.draining.subscribe()
    }
}

impl Drop for ConnHandle {
    fn drop(&mut self) {
        self.tracker
            .conns
            .lock()
            .expect("conns lock")
            .remove(&self.state.id);
        if self.tracker.open.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.tracker.all_closed.notify_waiters();
        }
    }
}

impl Tracker {
    /// A tracker for a process whose descriptor limit is `fd_limit`.
    pub(crate) fn new(fd_limit: usize) -> Arc<Self> {
        Arc::new(Tracker {
            conns: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(0),
            open: AtomicUsize::new(0),
            max_open: fd_limit.saturating_sub(HEADROOM).max(16),
            all_closed: Notify::new(),
            draining: watch::channel(false).0,
        })
    }

    /// Registers a newly accepted connection.
    pub(crate) fn register(self: &Arc<Self>) -> ConnHandle {
        let state = Arc::new(ConnState {
            id: self.next_id.fetch_add(1, Ordering::Relaxed),
            busy: AtomicUsize::new(0),
            started: AtomicU64::new(0),
            idle_since_ms: AtomicU64::new(now_ms()),
            closing: AtomicBool::new(*self.draining.borrow()),
            shed: Notify::new(),
            upgraded: AtomicBool::new(false),
            idle: Notify::new(),
            write_waiting: AtomicBool::new(false),
        });
        self.open.fetch_add(1, Ordering::AcqRel);
        self.conns
            .lock()
            .expect("conns lock")
            .insert(state.id, Arc::clone(&state));
        ConnHandle {
            tracker: Arc::clone(self),
            state,
        }
    }

    /// Open connections right now.
    pub(crate) fn open(&self) -> usize {
        self.open.load(Ordering::Acquire)
    }

    /// Whether accepting one more connection needs room made first.
    pub(crate) fn at_capacity(&self) -> bool {
        self.open() >= self.max_open
    }

    /// Closes up to `n` of the connections idle the longest; returns how
    /// many were asked to close.
    pub(crate) fn shed_oldest_idle(&self, n: usize) -> usize {
        let conns = self.conns.lock().expect("conns lock");
        let mut idle: Vec<&Arc<ConnState>> = conns
            .values()
            .filter(|c| !c.is_busy() && !c.closing.load(Ordering::Relaxed))
            .collect();
        idle.sort_by_key(|c| c.idle_since_ms.load(Ordering::Relaxed));
        let mut shed = 0;
        for conn in idle.into_iter().take(n) {
            conn.closing.store(true, Ordering::Relaxed);
            // notify_one stores a permit, so a task not yet waiting still sees it.
            conn.shed.notify_one();
            shed += 1;
        }
        shed
    }

    /// Starts draining: every connection closes after its current (or next)
    /// request; new ones are told so from the start.
    pub(crate) fn start_draining(&self) {
        for conn in self.conns.lock().expect("conns lock").values() {
            conn.closing.store(true, Ordering::Relaxed);
        }
        self.draining.send_replace(true);
    }

    /// Waits until every connection is closed, or `grace` has passed;
    /// returns whether all closed.
    pub(crate) async fn wait_closed(&self, grace: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + grace;
        loop {
            let notified = self.all_closed.notified();
            if self.open() == 0 {
                return true;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return self.open() == 0;
            }
        }
    }
}

/// The process's soft limit on open file descriptors, raised to the hard
/// limit first (what nginx's `worker_rlimit_nofile` and most servers do).
pub(crate) fn raise_fd_limit() -> usize {
    // SAFETY: getrlimit/setrlimit with a valid resource and a local struct.
    unsafe {
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return 1024;
        }
        if limit.rlim_cur < limit.rlim_max {
            let raised = libc::rlimit {
                rlim_cur: limit.rlim_max,
                rlim_max: limit.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                limit.rlim_cur = limit.rlim_max;
            }
        }
        usize::try_from(limit.rlim_cur).unwrap_or(usize::MAX)
    }
}

/// The instant connection timestamps count from.
fn clock() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

fn now_ms() -> u64 {
    clock().elapsed().as_millis() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sheds_the_longest_idle_and_never_a_busy_one() {
        let tracker = Tracker::new(1000);
        let old = tracker.register();
        std::thread::sleep(Duration::from_millis(5));
        let busy = tracker.register();
        let _in_request = busy.state().enter();
        std::thread::sleep(Duration::from_millis(5));
        let young = tracker.register();
        assert_eq!(tracker.open(), 3);
        assert_eq!(tracker.shed_oldest_idle(1), 1);
        assert!(old.state().is_closing());
        assert!(!busy.state().is_closing());
        assert!(!young.state().is_closing());
        // Only one other idle connection is left to shed.
        assert_eq!(tracker.shed_oldest_idle(5), 1);
        assert!(!busy.state().is_closing());
        drop((old, busy, young));
        assert_eq!(tracker.open(), 0);
    }
}
