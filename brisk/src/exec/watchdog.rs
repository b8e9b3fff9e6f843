//! The blocking watchdog: finds `async fn` handlers that block the event
//! loop, names their route, and contains them.
//!
//! FastAPI's documentation warns that a blocking call inside `async def`
//! stalls every request; in Rust, `std::thread::sleep` (or a sync database
//! driver, or heavy CPU) inside an `async fn` stalls a tokio worker the same
//! way. brisk watches for it:
//!
//! * **Detection.** Every poll of an `async` handler is wrapped by [`Watched`],
//!   which marks the worker thread's [`WorkerSlot`] "in a poll of route R"
//!   (two relaxed atomic stores, no clock read). A watchdog thread looks at
//!   every slot each tick (a quarter of the threshold): a slot that is still in
//!   the same poll after the threshold is a blocked worker, *while it is still
//!   blocked*. The route gets a `tracing` warning (once), its counters grow.
//! * **Containment** ([`BlockingPolicy::Contain`], the default). The route is
//!   marked contained: its later requests run on the thread pool
//!   ([`call_async`](super::call_async) checks the mark before the first poll),
//!   costing a pool thread instead of an event-loop worker. When every worker
//!   of an event loop is blocked, the server moves the connections queued
//!   there but not yet started to another event loop (see `serve::lanes`), so
//!   they too get to the pool without waiting. A WebSocket route is warned
//!   about but never contained: its handler is a session as long as the
//!   connection, and on the bounded pool every open session would hold a
//!   thread, so that a pool's worth of clients starve everyone after them.
//! * **Observability.** Per-route slow-poll counts and longest poll, how many
//!   routes are contained, event-loop lag (how late a periodic timer fires),
//!   thread-pool use: [`Watchdog::snapshot`], also as the
//!   [`Metrics`](crate::params::Metrics) parameter.

use std::cell::{Cell, OnceCell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use serde::Serialize;

use super::ThreadPool;

/// What brisk does about an `async fn` that blocks the event loop.
///
/// ```
/// use brisk::exec::BlockingPolicy;
/// let app = brisk::App::new().blocking_policy(BlockingPolicy::Warn);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BlockingPolicy {
    /// Report it, and run the route's later requests on the thread pool.
    #[default]
    Contain,
    /// Report it only.
    Warn,
    /// Do not watch at all.
    Off,
}

/// Default threshold: a poll longer than this blocks the event loop.
pub const DEFAULT_THRESHOLD: Duration = Duration::from_millis(20);

/// A code unit the watchdog watches: a route or a function middleware.
#[derive(Debug)]
pub(crate) struct WatchedUnit {
    /// The method, `WEBSOCKET` or `MIDDLEWARE`.
    pub(crate) kind: String,
    /// The path or the middleware's name.
    pub(crate) name: &'static str,
    /// Whether [`BlockingPolicy::Contain`] may move it to the thread pool.
    pub(crate) containable: bool,
}

/// Per-route blocking statistics.
#[derive(Debug)]
pub(crate) struct RouteStats {
    method: String,
    path: &'static str,
    /// Whether a blocking poll may get it moved to the thread pool (not a
    /// WebSocket session, which would hold a pool thread for its life).
    containable: bool,
    slow_polls: AtomicU64,
    longest_poll_us: AtomicU64,
    contained: AtomicBool,
}

/// One event-loop worker thread's "currently polling" mark.
///
/// `state` counts poll starts and ends: odd while inside a poll. The
/// watchdog compares it between ticks to see a poll that has not ended.
#[derive(Debug, Default)]
pub(crate) struct WorkerSlot {
    state: AtomicU64,
    route: AtomicU32,
    lane: u32,
    /// The worker thread's kernel id, to read its context switches.
    tid: i32,
    /// The clock of the worker thread's CPU time.
    cpu_clock: Option<libc::clockid_t>,
}

/// An event loop (tokio runtime) the watchdog knows: its worker count and
/// whether all of them are blocked right now.
#[derive(Debug)]
pub(crate) struct LaneHealth {
    workers: usize,
    stalled: AtomicBool,
    /// Last and worst lateness of the lane's heartbeat timer, in µs.
    lag_last_us: AtomicU64,
    lag_max_us: AtomicU64,
}

impl LaneHealth {
    pub(crate) fn is_stalled(&self) -> bool {
        self.stalled.load(Ordering::Relaxed)
    }
}

type StallHook = Box<dyn Fn(usize) + Send + Sync>;

/// The watchdog of one app.
pub struct Watchdog {
    policy: BlockingPolicy,
    threshold: Duration,
    routes: Vec<RouteStats>,
    slots: Mutex<Vec<Arc<WorkerSlot>>>,
    lanes: Mutex<Vec<Arc<LaneHealth>>>,
    on_stall: Mutex<Option<StallHook>>,
    pool: Arc<ThreadPool>,
}

impl std::fmt::Debug for Watchdog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Watchdog")
            .field("policy", &self.policy)
            .field("threshold", &self.threshold)
            .finish_non_exhaustive()
    }
}

thread_local! {
    /// The watchdog and lane of the runtime this thread belongs to.
    static CURRENT: RefCell<Option<(Arc<Watchdog>, u32)>> = const { RefCell::new(None) };
    /// This thread's slot, created on its first watched poll (`None` on
    /// threads outside brisk's runtimes).
    static SLOT: OnceCell<Option<Arc<WorkerSlot>>> = const { OnceCell::new() };
    /// True on thread-pool threads: polls there block nobody.
    static IN_POOL: Cell<bool> = const { Cell::new(false) };
}

/// Marks the current thread as a thread-pool thread for the duration of `f`.
pub(crate) fn in_pool<R>(f: impl FnOnce() -> R) -> R {
    struct Reset(bool);
    impl Drop for Reset {
        fn drop(&mut self) {
            IN_POOL.with(|c| c.set(self.0));
        }
    }
    let _reset = Reset(IN_POOL.with(|c| c.replace(true)));
    f()
}

pub(crate) fn on_pool_thread() -> bool {
    IN_POOL.with(Cell::get)
}

impl Watchdog {
    /// A watchdog for the watched code units (routes, middleware), in the
    /// order of their ids. Starts its thread unless the policy is `Off`.
    pub(crate) fn start(
        policy: BlockingPolicy,
        threshold: Duration,
        watched: Vec<WatchedUnit>,
        pool: Arc<ThreadPool>,
    ) -> Arc<Self> {
        let routes = watched
            .into_iter()
            .map(|unit| RouteStats {
                method: unit.kind,
                path: unit.name,
                containable: unit.containable,
                slow_polls: AtomicU64::new(0),
                longest_poll_us: AtomicU64::new(0),
                contained: AtomicBool::new(false),
            })
            .collect();
        let watchdog = Arc::new(Watchdog {
            policy,
            threshold: threshold.max(Duration::from_millis(1)),
            routes,
            slots: Mutex::new(Vec::new()),
            lanes: Mutex::new(Vec::new()),
            on_stall: Mutex::new(None),
            pool,
        });
        if policy != BlockingPolicy::Off {
            let weak = Arc::downgrade(&watchdog);
            std::thread::Builder::new()
                .name("brisk-watchdog".into())
                .spawn(move || watch_loop(weak))
                .expect("spawn the watchdog thread");
        }
        watchdog
    }

    /// The policy in force.
    pub fn policy(&self) -> BlockingPolicy {
        self.policy
    }

    /// The threshold in force.
    pub fn threshold(&self) -> Duration {
        self.threshold
    }

    /// Registers an event loop with `workers` worker threads; returns its id.
    pub(crate) fn register_lane(&self, workers: usize) -> (u32, Arc<LaneHealth>) {
        let mut lanes = self.lanes.lock().expect("lanes lock");
        let health = Arc::new(LaneHealth {
            workers,
            stalled: AtomicBool::new(false),
            lag_last_us: AtomicU64::new(0),
            lag_max_us: AtomicU64::new(0),
        });
        lanes.push(Arc::clone(&health));
        ((lanes.len() - 1) as u32, health)
    }

    /// Called by the server: `hook(lane)` runs on the watchdog thread when
    /// every worker of `lane` has become blocked.
    pub(crate) fn on_stall(&self, hook: StallHook) {
        *self.on_stall.lock().expect("hook lock") = Some(hook);
    }

    /// Makes this thread part of `lane` (called on every runtime thread).
    pub(crate) fn enter_thread(self: &Arc<Self>, lane: u32) {
        CURRENT.with(|c| *c.borrow_mut() = Some((Arc::clone(self), lane)));
    }

    /// How many worker threads of `lane` are inside a handler poll right now.
    pub(crate) fn busy_workers(&self, lane: u32) -> usize {
        self.slots
            .lock()
            .expect("slots lock")
            .iter()
            .filter(|s| s.lane == lane && s.state.load(Ordering::Acquire) % 2 == 1)
            .count()
    }

    /// Whether `lane` is occupied by user code: every worker is inside a
    /// handler poll, and the watchdog has not (yet) declared it stalled —
    /// once it has, connections go to a spare event loop instead.
    pub(crate) fn lane_occupied(&self, lane: u32) -> bool {
        let Some(health) = self
            .lanes
            .lock()
            .expect("lanes lock")
            .get(lane as usize)
            .cloned()
        else {
            return false;
        };
        !health.is_stalled() && self.busy_workers(lane) >= health.workers
    }

    /// Whether requests for operation `id` must run on the thread pool.
    pub(crate) fn is_contained(&self, id: usize) -> bool {
        self.policy == BlockingPolicy::Contain
            && self
                .routes
                .get(id)
                .is_some_and(|r| r.contained.load(Ordering::Relaxed))
    }

    /// Records a heartbeat's lateness for `lane`.
    pub(crate) fn record_lag(&self, lane: u32, lag: Duration) {
        if let Some(l) = self.lanes.lock().expect("lanes lock").get(lane as usize) {
            let us = lag.as_micros() as u64;
            l.lag_last_us.store(us, Ordering::Relaxed);
            l.lag_max_us.fetch_max(us, Ordering::Relaxed);
        }
    }

    /// A consistent-enough copy of every counter.
    ///
    /// ```
    /// use brisk::prelude::*;
    ///
    /// #[get("/")] async fn root() -> &'static str { "hi" }
    ///
    /// let client = brisk::TestClient::new(App::new().routes(routes![root]));
    /// client.get("/").send();
    /// let report = client.metrics();
    /// assert_eq!(report.contained_routes, 0);
    /// assert_eq!(report.routes[0].path, "/");
    /// ```
    pub fn snapshot(&self) -> MetricsSnapshot {
        let lanes = self.lanes.lock().expect("lanes lock");
        let lag_last = lanes
            .iter()
            .map(|l| l.lag_last_us.load(Ordering::Relaxed))
            .max()
            .unwrap_or(0);
        let lag_max = lanes
            .iter()
            .map(|l| l.lag_max_us.load(Ordering::Relaxed))
            .max()
            .unwrap_or(0);
        let routes: Vec<RouteReport> = self
            .routes
            .iter()
            .map(|r| RouteReport {
                method: r.method.clone(),
                path: r.path,
                slow_polls: r.slow_polls.load(Ordering::Relaxed),
                longest_poll_ms: r.longest_poll_us.load(Ordering::Relaxed) as f64 / 1000.0,
                contained: r.contained.load(Ordering::Relaxed),
            })
            .collect();
        MetricsSnapshot {
            policy: self.policy,
            threshold_ms: self.threshold.as_secs_f64() * 1000.0,
            contained_routes: routes.iter().filter(|r| r.contained).count(),
            routes,
            event_loop_lag_ms: lag_last as f64 / 1000.0,
            event_loop_lag_max_ms: lag_max as f64 / 1000.0,
            event_loops: lanes.len(),
            threadpool_size: self.pool.size(),
            threadpool_in_use: self.pool.in_use(),
            threadpool_waiting: self.pool.waiting(),
            log_lines_dropped: crate::logging::dropped_lines(),
        }
    }
}

/// The blocking counters of one route.
#[derive(Debug, Clone, Serialize)]
pub struct RouteReport {
    /// The HTTP method.
    pub method: String,
    /// The path template.
    pub path: &'static str,
    /// Polls that ran longer than the threshold.
    pub slow_polls: u64,
    /// The longest poll seen blocking, in milliseconds (as observed by the watchdog).
    pub longest_poll_ms: f64,
    /// Whether the route now runs on the thread pool.
    pub contained: bool,
}

/// Everything the watchdog and the thread pool count, for code and metrics.
#[derive(Debug, Clone, Serialize)]
pub struct MetricsSnapshot {
    /// The blocking policy.
    pub policy: BlockingPolicy,
    /// The blocking threshold in milliseconds.
    pub threshold_ms: f64,
    /// Per-route counters.
    pub routes: Vec<RouteReport>,
    /// How many routes are contained.
    pub contained_routes: usize,
    /// Latest lateness of the event loops' heartbeat timer, in milliseconds.
    pub event_loop_lag_ms: f64,
    /// Worst lateness seen, in milliseconds.
    pub event_loop_lag_max_ms: f64,
    /// How many event loops (tokio runtimes) serve the app.
    pub event_loops: usize,
    /// The thread pool's size.
    pub threadpool_size: usize,
    /// Pool threads running a closure now.
    pub threadpool_in_use: usize,
    /// Callers waiting for a pool thread.
    pub threadpool_waiting: usize,
    /// Log lines dropped because stderr was not read fast enough.
    pub log_lines_dropped: u64,
}

/// Creates this thread's slot and registers it with its watchdog; `None`
/// outside brisk's runtimes.
fn new_slot() -> Option<Arc<WorkerSlot>> {
    let (watchdog, lane) = CURRENT.with(|c| c.borrow().clone())?;
    let slot = Arc::new(WorkerSlot {
        lane,
        // SAFETY: gettid has no preconditions.
        tid: unsafe { libc::gettid() },
        cpu_clock: this_thread_cpu_clock(),
        ..WorkerSlot::default()
    });
    watchdog
        .slots
        .lock()
        .expect("slots lock")
        .push(Arc::clone(&slot));
    Some(slot)
}

pin_project_lite::pin_project! {
    /// A handler future whose every poll is visible to the watchdog.
    pub(crate) struct Watched<F> {
        #[pin]
        inner: F,
        route: u32,
    }
}

impl<F> Watched<F> {
    pub(crate) fn new(inner: F, route: usize) -> Self {
        Watched {
            inner,
            route: route as u32,
        }
    }
}

impl<F: Future> Future for Watched<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        if on_pool_thread() {
            return this.inner.poll(cx);
        }
        // Cheap: a thread-local lookup and two atomic stores around the poll.
        SLOT.with(|s| match s.get_or_init(new_slot) {
            Some(slot) => {
                slot.route.store(*this.route, Ordering::Relaxed);
                slot.state.fetch_add(1, Ordering::Release);
                // Ends the poll on the way out, also when the handler panics
                // (a missed end would leave the slot "in a poll" for good).
                let _end = EndOfPoll(slot);
                this.inner.poll(cx)
            }
            None => this.inner.poll(cx),
        })
    }
}

/// Marks the end of a watched poll when dropped.
struct EndOfPoll<'a>(&'a WorkerSlot);

impl Drop for EndOfPoll<'_> {
    fn drop(&mut self) {
        self.0.state.fetch_add(1, Ordering::Release);
    }
}

/// Per-slot memory of the watchdog between ticks.
#[derive(Clone, Copy, Default)]
struct Seen {
    state: u64,
    since: Option<Instant>,
    /// The thread's counters when the poll was first seen.
    start: Option<ThreadCounters>,
    counted: bool,
}

/// What the kernel counts for a thread, to tell a poll that blocks its
/// thread from one whose thread was merely preempted.
#[derive(Clone, Copy, Debug)]
struct ThreadCounters {
    /// CPU time used (ns).
    cpu_ns: u64,
    /// Times the thread went to sleep of its own accord (a blocking call).
    voluntary_switches: u64,
    /// Whether the thread is asleep in a system call right now (state S or D).
    sleeping: bool,
    /// Time spent ready to run while another thread had the CPU (ns). The
    /// kernel only adds a wait when it ends, so a wait in progress is missing.
    run_queue_wait_ns: u64,
}

impl ThreadCounters {
    fn read(slot: &WorkerSlot) -> Option<Self> {
        let clock = slot.cpu_clock?;
        let mut now = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: a clock id obtained from pthread_getcpuclockid for a thread
        // of this process, and a local timespec.
        if unsafe { libc::clock_gettime(clock, &mut now) } != 0 {
            return None;
        }
        let task = format!("/proc/self/task/{}", slot.tid);
        let status = std::fs::read_to_string(format!("{task}/status")).ok()?;
        let sleeping = status
            .lines()
            .find_map(|l| l.strip_prefix("State:"))
            .is_some_and(|s| matches!(s.trim().chars().next(), Some('S' | 'D')));
        let voluntary_switches = status
            .lines()
            .find_map(|l| l.strip_prefix("voluntary_ctxt_switches:"))?
            .trim()
            .parse()
            .ok()?;
        let schedstat = std::fs::read_to_string(format!("{task}/schedstat")).unwrap_or_default();
        let run_queue_wait_ns = schedstat
            .split_whitespace()
            .nth(1)
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        Some(ThreadCounters {
            cpu_ns: now.tv_sec as u64 * 1_000_000_000 + now.tv_nsec as u64,
            voluntary_switches,
            sleeping,
            run_queue_wait_ns,
        })
    }
}

/// The CPU-time clock of the calling thread.
fn this_thread_cpu_clock() -> Option<libc::clockid_t> {
    let mut clock: libc::clockid_t = 0;
    // SAFETY: pthread_self is always valid; the out pointer is a local.
    let rc = unsafe { libc::pthread_getcpuclockid(libc::pthread_self(), &mut clock) };
    (rc == 0).then_some(clock)
}

/// How long a poll really blocked its thread, given `wall` time since it
/// began (`slack` of which before it was first seen), or `None` if its
/// thread was only waiting for a CPU. On a busy machine a trivial poll can
/// be preempted for tens of milliseconds; that is not the handler blocking
/// and must not get its route contained. A poll blocks if its thread spent
/// the time on the CPU (heavy computation), or went to sleep inside it (a
/// blocking call: `std::thread::sleep`, a synchronous driver) and the time
/// is not run-queue wait.
fn blocked_time(
    wall: Duration,
    slack: Duration,
    threshold: Duration,
    start: ThreadCounters,
    now: ThreadCounters,
) -> Option<Duration> {
    let cpu = Duration::from_nanos(now.cpu_ns.saturating_sub(start.cpu_ns));
    if cpu + slack >= threshold {
        return Some(wall);
    }
    let slept = now.voluntary_switches > start.voluntary_switches || start.sleeping || now.sleeping;
    if slept {
        let waited = now
            .run_queue_wait_ns
            .saturating_sub(start.run_queue_wait_ns);
        let blocked = wall.saturating_sub(Duration::from_nanos(waited));
        return (blocked >= threshold).then_some(blocked);
    }
    None
}

fn watch_loop(weak: Weak<Watchdog>) {
    let mut seen: Vec<Seen> = Vec::new();
    loop {
        let tick = match weak.upgrade() {
            Some(w) => (w.threshold / 4).clamp(Duration::from_millis(1), Duration::from_millis(50)),
            None => return,
        };
        std::thread::sleep(tick);
        let Some(watchdog) = weak.upgrade() else {
            return;
        };
        let slots = watchdog.slots.lock().expect("slots lock").clone();
        let lanes = watchdog.lanes.lock().expect("lanes lock").clone();
        seen.resize(slots.len(), Seen::default());
        let mut blocked_per_lane = vec![0usize; lanes.len()];
        let now = Instant::now();
        for (slot, seen) in slots.iter().zip(seen.iter_mut()) {
            let state = slot.state.load(Ordering::Acquire);
            if state % 2 == 0 || state != seen.state {
                let in_poll = state % 2 == 1;
                *seen = Seen {
                    state,
                    since: in_poll.then_some(now),
                    start: if in_poll {
                        ThreadCounters::read(slot)
                    } else {
                        None
                    },
                    counted: false,
                };
                continue;
            }
            let Some(since) = seen.since else { continue };
            // The poll started up to a tick before it was first seen.
            let wall = now - since + tick;
            if wall < watchdog.threshold {
                continue;
            }
            // Without the kernel's counters (not Linux, no /proc), a
            // preempted poll cannot be told from a blocking one: the wall
            // time counts, and containment waits for a second slow poll.
            let (blocked_for, certain) = match seen.start.zip(ThreadCounters::read(slot)) {
                Some((start, now)) => {
                    match blocked_time(wall, tick, watchdog.threshold, start, now) {
                        Some(b) => (b, true),
                        None => continue,
                    }
                }
                None => (wall, false),
            };
            if let Some(b) = blocked_per_lane.get_mut(slot.lane as usize) {
                *b += 1;
            }
            let route_id = slot.route.load(Ordering::Relaxed) as usize;
            if let Some(route) = watchdog.routes.get(route_id) {
                route
                    .longest_poll_us
                    .fetch_max(blocked_for.as_micros() as u64, Ordering::Relaxed);
                if !seen.counted {
                    seen.counted = true;
                    report_slow_poll(&watchdog, route, blocked_for, certain);
                }
            }
        }
        for (lane, blocked) in lanes.iter().zip(blocked_per_lane) {
            let stalled = blocked >= lane.workers;
            let was = lane.stalled.swap(stalled, Ordering::Relaxed);
            if stalled && !was {
                let id = lanes.iter().position(|l| Arc::ptr_eq(l, lane)).unwrap_or(0);
                tracing::warn!(
                    event_loop = id,
                    workers = lane.workers,
                    "every worker of an event loop is blocked; moving its queued connections to another event loop"
                );
                if let Some(hook) = &*watchdog.on_stall.lock().expect("hook lock") {
                    hook(id);
                }
            }
        }
    }
}

fn report_slow_poll(watchdog: &Watchdog, route: &RouteStats, blocked_for: Duration, certain: bool) {
    let seen_before = route.slow_polls.fetch_add(1, Ordering::Relaxed);
    let first = seen_before == 0;
    let contain = watchdog.policy == BlockingPolicy::Contain
        && route.containable
        && (certain || seen_before >= 1);
    if first {
        let consequence = if contain {
            "brisk now runs this route on the thread pool"
        } else if !route.containable && watchdog.policy == BlockingPolicy::Contain {
            "every request on this event-loop thread waits meanwhile (a WebSocket session stays \
             on the event loop: on the thread pool it would hold a thread for its whole life)"
        } else {
            "every request on this event-loop thread waits meanwhile"
        };
        tracing::warn!(
            method = %route.method,
            route = route.path,
            blocked_ms = blocked_for.as_millis() as u64,
            threshold_ms = watchdog.threshold.as_millis() as u64,
            "async handler {} {} blocked the event loop for over {} ms (still running); {consequence}. \
             Fix: make it a plain `fn` (it then runs on the thread pool), or wrap the blocking call in \
             `brisk::run_in_threadpool(|| ...).await`, or use an async API (e.g. tokio::time::sleep).",
            route.method,
            route.path,
            blocked_for.as_millis(),
        );
    }
    if contain {
        route.contained.store(true, Ordering::Relaxed);
    }
}

/// Runs on each event loop: measures how late a periodic timer fires.
pub(crate) async fn heartbeat(watchdog: Weak<Watchdog>, lane: u32) {
    const PERIOD: Duration = Duration::from_millis(50);
    loop {
        let start = Instant::now();
        tokio::time::sleep(PERIOD).await;
        let lag = start.elapsed().saturating_sub(PERIOD);
        match watchdog.upgrade() {
            Some(w) => w.record_lag(lane, lag),
            None => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counters(cpu_ms: u64, voluntary: u64, waited_ms: u64) -> ThreadCounters {
        ThreadCounters {
            cpu_ns: cpu_ms * 1_000_000,
            voluntary_switches: voluntary,
            sleeping: false,
            run_queue_wait_ns: waited_ms * 1_000_000,
        }
    }

    #[test]
    fn tells_blocking_polls_from_preempted_ones() {
        let ms = Duration::from_millis;
        let (slack, threshold) = (ms(5), ms(20));
        let start = counters(100, 10, 50);
        // Preempted: 40 ms on the clock, 1 ms of CPU, never slept.
        assert_eq!(
            blocked_time(ms(40), slack, threshold, start, counters(101, 10, 50)),
            None
        );
        // Heavy computation: the CPU time adds up.
        assert_eq!(
            blocked_time(ms(40), slack, threshold, start, counters(125, 10, 60)),
            Some(ms(40))
        );
        // A blocking sleep: slept, and the time was not spent waiting for a CPU.
        assert_eq!(
            blocked_time(ms(300), slack, threshold, start, counters(100, 11, 52)),
            Some(ms(298))
        );
        // Asleep the whole time it was watched (the switch came before).
        let asleep = ThreadCounters {
            sleeping: true,
            ..counters(100, 10, 50)
        };
        assert_eq!(
            blocked_time(ms(300), slack, threshold, asleep, asleep),
            Some(ms(300))
        );
        // Slept briefly, then mostly waited for a CPU: not blocking.
        assert_eq!(
            blocked_time(ms(40), slack, threshold, start, counters(100, 11, 85)),
            None
        );
    }

    #[test]
    fn reads_this_threads_counters() {
        let slot = WorkerSlot {
            tid: unsafe { libc::gettid() },
            cpu_clock: this_thread_cpu_clock(),
            ..WorkerSlot::default()
        };
        let before = ThreadCounters::read(&slot).expect("counters on Linux");
        std::thread::sleep(Duration::from_millis(5));
        let after = ThreadCounters::read(&slot).unwrap();
        assert!(after.voluntary_switches > before.voluntary_switches);
    }
}
