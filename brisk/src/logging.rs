//! Logs that never block: the `tracing` subscriber brisk installs, writing
//! through a bounded, lossy, non-blocking queue; and rate-limited warnings.
//!
//! A log line is formatted on the thread that logs it and handed to a
//! queue (tracing-appender's non-blocking writer); one background thread
//! writes the queue to stderr. If nobody reads stderr (a full pipe, a
//! stopped log shipper), the queue fills up and further lines are *dropped*
//! instead of stopping the event loop that wanted to log them. The number of
//! dropped lines is counted ([`dropped_lines`], also in the metrics) and
//! reported in one warning once the writer catches up again.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use tracing_appender::non_blocking::{ErrorCounter, NonBlockingBuilder, WorkerGuard};

/// Lines the queue holds before it starts dropping (at ~200 bytes a line,
/// about 2 MiB of memory at most).
const QUEUE_LINES: usize = 10_000;

static GUARD: Mutex<Option<WorkerGuard>> = Mutex::new(None);
static DROPPED: OnceLock<ErrorCounter> = OnceLock::new();

/// How to log: the filter (`RUST_LOG` syntax) and whether each line starts
/// with the process id (with worker processes).
#[derive(Debug, Clone)]
pub struct LogSettings {
    /// Level filter, e.g. `info` or `info,brisk::access=off`.
    pub filter: String,
    /// Prefix every line with `[pid]`.
    pub with_pid: bool,
}

/// Installs brisk's subscriber (stderr through the non-blocking queue);
/// does nothing if the application installed a subscriber already.
///
/// ```
/// brisk::logging::init(&brisk::logging::LogSettings { filter: "warn".into(), with_pid: false });
/// tracing::warn!("goes to stderr, never blocking the caller");
/// ```
pub fn init(settings: &LogSettings) {
    let filter = std::env::var("RUST_LOG").unwrap_or_else(|_| settings.filter.clone());
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let (writer, guard) = NonBlockingBuilder::default()
        .buffered_lines_limit(QUEUE_LINES)
        .lossy(true)
        .thread_name("brisk-log-writer")
        .finish(std::io::stderr());
    let counter = writer.error_counter();
    let builder = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .with_writer(writer)
        .with_ansi(ansi);
    let installed = if settings.with_pid {
        builder
            .event_format(WithPid(tracing_subscriber::fmt::format().with_ansi(ansi)))
            .try_init()
    } else {
        builder.try_init()
    };
    if installed.is_ok() {
        *GUARD.lock().expect("log guard lock") = Some(guard);
        if DROPPED.set(counter).is_ok() {
            std::thread::Builder::new()
                .name("brisk-log-drops".into())
                .spawn(report_drops)
                .expect("spawn the log-drop reporter");
        }
    }
}

/// Log lines dropped so far because stderr was not being read fast enough.
///
/// ```
/// assert_eq!(brisk::logging::dropped_lines(), 0);
/// ```
pub fn dropped_lines() -> u64 {
    DROPPED.get().map_or(0, |c| c.dropped_lines() as u64)
}

/// Writes out what is queued (waiting at most about a second) and stops the
/// writer thread; called before the process exits.
pub fn flush() {
    let guard = GUARD.lock().map(|mut g| g.take()).unwrap_or(None);
    drop(guard);
}

/// Reports dropped lines once the writer keeps up again: when the count has
/// grown and then stayed the same for a whole second (while the pipe is
/// still stalled, the report itself would only be dropped too).
fn report_drops() {
    let mut reported = 0u64;
    let mut last_seen = 0u64;
    loop {
        std::thread::sleep(Duration::from_secs(1));
        let now = dropped_lines();
        if now > reported && now == last_seen {
            tracing::warn!(
                dropped = now - reported,
                total = now,
                "log lines were dropped because stderr was not read fast enough; the server kept serving"
            );
            reported = now;
        }
        last_seen = now;
    }
}

/// Prefixes each log line with `[pid]`, as uvicorn does with workers.
struct WithPid<F>(F);

impl<S, N, F> tracing_subscriber::fmt::FormatEvent<S, N> for WithPid<F>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
    N: for<'a> tracing_subscriber::fmt::FormatFields<'a> + 'static,
    F: tracing_subscriber::fmt::FormatEvent<S, N>,
{
    fn format_event(
        &self,
        ctx: &tracing_subscriber::fmt::FmtContext<'_, S, N>,
        mut writer: tracing_subscriber::fmt::format::Writer<'_>,
        event: &tracing::Event<'_>,
    ) -> std::fmt::Result {
        write!(writer, "[{}] ", std::process::id())?;
        self.0.format_event(ctx, writer, event)
    }
}

/// A warning logged at most once per interval, with the number of times it
/// happened meanwhile: for conditions that can repeat per request (a full
/// server answering 503s) and must not flood the log.
///
/// ```
/// use std::time::Duration;
/// static FULL: brisk::logging::RateLimited = brisk::logging::RateLimited::new(Duration::from_secs(10));
/// for _ in 0..1000 {
///     if let Some(count) = FULL.hit() {
///         tracing::warn!(count, "concurrency limit reached");
///     }
/// }
/// ```
#[derive(Debug)]
pub struct RateLimited {
    interval: Duration,
    /// Milliseconds since `epoch()` of the last report, plus one (0: never).
    last: AtomicU64,
    count: AtomicU64,
}

impl RateLimited {
    /// At most one report per `interval`.
    pub const fn new(interval: Duration) -> Self {
        RateLimited {
            interval,
            last: AtomicU64::new(0),
            count: AtomicU64::new(0),
        }
    }

    /// Counts one occurrence; returns how many happened since the last
    /// report when it is time to report again.
    pub fn hit(&self) -> Option<u64> {
        self.count.fetch_add(1, Ordering::Relaxed);
        let now = epoch().elapsed().as_millis() as u64 + 1;
        let last = self.last.load(Ordering::Relaxed);
        let due = last == 0 || now.saturating_sub(last) >= self.interval.as_millis() as u64;
        if due
            && self
                .last
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            return Some(self.count.swap(0, Ordering::Relaxed));
        }
        None
    }
}

fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}
