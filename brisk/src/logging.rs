//! Logs that never block: the `tracing` subscriber brisk installs, writing
//! through a bounded, lossy queue; and rate-limited warnings.
//!
//! A log line is formatted on the thread that logs it and appended to a
//! queue in memory ([`LineQueue`]); one background thread writes what has
//! gathered to stderr, many lines per `write`. If nobody reads stderr (a
//! full pipe, a stopped log shipper), the queue fills up and further lines
//! are *dropped* instead of stopping the event loop that wanted to log
//! them. The number of dropped lines is counted ([`dropped_lines`], also in
//! the metrics) and reported in one warning once the writer catches up.
//!
//! Why not tracing-appender's non-blocking writer (used before): it hands
//! each line to its thread through a channel and writes each one with its
//! own system call, and under load the logging thread pays a futex wake-up
//! for most lines. Here a line costs an uncontended lock and a copy; the
//! writer is woken once per batch and writes the batch at once.

use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use crate::connection::ConnectionInfo;

/// Bytes of formatted lines the queue holds before it starts dropping
/// (about 10,000 lines of ~200 bytes).
const QUEUE_BYTES: usize = 2 << 20;

/// How long the writer lets lines gather once the first one arrives: a
/// busy server's access lines then leave in batches of many, and a line
/// is on stderr at most this much later.
const GATHER: Duration = Duration::from_millis(2);

/// How long [`flush`] waits for the writer (which a stalled pipe can hold).
const FLUSH_WAIT: Duration = Duration::from_secs(1);

static QUEUE: OnceLock<Arc<LineQueue>> = OnceLock::new();

/// This process's id, asked of the kernel once: `std::process::id()` is a
/// system call each time, and the access log wrote it into every line.
/// (Workers are started by re-executing the program, never by `fork`, so
/// the value cannot go stale.)
fn pid() -> u32 {
    static PID: OnceLock<u32> = OnceLock::new();
    *PID.get_or_init(std::process::id)
}

/// How brisk's own subscriber writes lines, for [`write_access`].
static STYLE: OnceLock<(LogFormat, bool)> = OnceLock::new();

/// Formatted lines waiting for the writer thread.
struct LineQueue {
    pending: Mutex<Pending>,
    dropped: AtomicU64,
    writer: OnceLock<std::thread::Thread>,
    done: Mutex<Option<std::sync::mpsc::Receiver<()>>>,
}

#[derive(Default)]
struct Pending {
    bytes: Vec<u8>,
    /// The writer is parked (or about to be) and must be woken.
    writer_idle: bool,
    /// [`flush`]: write what is left and stop.
    closing: bool,
}

impl LineQueue {
    fn new() -> Arc<Self> {
        Arc::new(LineQueue {
            pending: Mutex::new(Pending::default()),
            dropped: AtomicU64::new(0),
            writer: OnceLock::new(),
            done: Mutex::new(None),
        })
    }

    /// Appends one line, or drops it if the queue is full.
    fn push(&self, line: &[u8]) {
        let wake = {
            let Ok(mut pending) = self.pending.lock() else {
                return;
            };
            if pending.bytes.len() + line.len() > QUEUE_BYTES {
                drop(pending);
                self.dropped.fetch_add(1, Ordering::Relaxed);
                return;
            }
            pending.bytes.extend_from_slice(line);
            std::mem::replace(&mut pending.writer_idle, false)
        };
        if wake && let Some(writer) = self.writer.get() {
            writer.unpark();
        }
    }

    /// The writer thread's loop: wait for a line, let more gather, write
    /// them all, again; until [`flush`] asks it to stop.
    fn write_out(&self, mut out: impl Write) {
        let mut batch = Vec::new();
        loop {
            let closing = {
                let mut pending = self.pending.lock().expect("log queue lock");
                if pending.bytes.is_empty() && !pending.closing {
                    pending.writer_idle = true;
                    drop(pending);
                    std::thread::park(); // a push unparks; spurious wake-ups loop
                    continue;
                }
                pending.closing
            };
            if !closing {
                std::thread::sleep(GATHER);
            }
            {
                let mut pending = self.pending.lock().expect("log queue lock");
                std::mem::swap(&mut pending.bytes, &mut batch);
            }
            // A write error (stderr closed) loses these lines; nothing to
            // report them to.
            let _ = out.write_all(&batch).and_then(|()| out.flush());
            batch.clear();
            if batch.capacity() > QUEUE_BYTES {
                batch = Vec::new(); // after a burst, give the memory back
            }
            if closing
                && self
                    .pending
                    .lock()
                    .expect("log queue lock")
                    .bytes
                    .is_empty()
            {
                return;
            }
        }
    }

    /// Starts the writer thread.
    fn start(self: &Arc<Self>) {
        let (done_tx, done_rx) = std::sync::mpsc::channel();
        *self.done.lock().expect("log queue lock") = Some(done_rx);
        let queue = Arc::clone(self);
        let thread = std::thread::Builder::new()
            .name("brisk-log-writer".into())
            .spawn(move || {
                queue.write_out(std::io::stderr());
                let _ = done_tx.send(());
            })
            .expect("spawn the log writer");
        let _ = self.writer.set(thread.thread().clone());
    }
}

/// The header a request's id comes in.
pub(crate) const X_REQUEST_ID: http::HeaderName = http::HeaderName::from_static("x-request-id");

/// A request's id, written where it is needed without an allocation: the
/// `X-Request-ID` the request came with (what a proxy or tower-http's
/// `SetRequestIdLayer` put there) when it is sensible, else one made up from
/// this process's id and a counter, unique within the host.
///
/// ```
/// let mut headers = http::HeaderMap::new();
/// headers.insert("x-request-id", "abc-1".parse().unwrap());
/// assert_eq!(brisk::logging::RequestId::of(&headers).to_string(), "abc-1");
/// let made = brisk::logging::RequestId::of(&http::HeaderMap::new()).to_string();
/// assert!(made.starts_with(&format!("{:x}-", std::process::id())));
/// ```
#[derive(Clone)]
pub enum RequestId {
    /// The request's own `X-Request-ID` (visible ASCII, 1 to 200 bytes).
    Given(http::HeaderValue),
    /// Made up: the process id and this counter, in hex.
    Made(u64),
    /// No id (`-`).
    None,
}

impl RequestId {
    /// The request's `X-Request-ID`, or a new one.
    pub fn of(headers: &http::HeaderMap) -> Self {
        Self::given_or_made(headers.get(&X_REQUEST_ID))
    }

    /// The request's `X-Request-ID` header value if it is sensible, else a
    /// new id.
    pub(crate) fn given_or_made(given: Option<&http::HeaderValue>) -> Self {
        if let Some(id) = given.filter(|v| !v.is_empty() && v.len() <= 200 && v.to_str().is_ok()) {
            return RequestId::Given(id.clone());
        }
        static NEXT: AtomicU64 = AtomicU64::new(1);
        RequestId::Made(NEXT.fetch_add(1, Ordering::Relaxed))
    }
}

impl RequestId {
    /// The id's text, borrowed or written into `made` (a made-up id).
    fn text<'a>(&'a self, made: &'a mut [u8; 25]) -> &'a str {
        match self {
            RequestId::Given(id) => id.to_str().unwrap_or("-"),
            RequestId::Made(n) => {
                let len = made_text(*n, made);
                std::str::from_utf8(&made[..len]).unwrap_or("-")
            }
            RequestId::None => "-",
        }
    }
}

/// A made-up id, `{pid:x}-{n:x}`, written by hand into `out` (returns its
/// length): through `write!`, the two hex numbers were a tenth of an
/// access line's cost.
fn made_text(n: u64, out: &mut [u8; 25]) -> usize {
    let len = push_hex(out, 0, u64::from(pid()));
    out[len] = b'-';
    push_hex(out, len + 1, n)
}

/// Writes `value` in lowercase hex into `out` from `at`; returns the end.
fn push_hex(out: &mut [u8; 25], at: usize, value: u64) -> usize {
    let digits = (64 - value.leading_zeros()).div_ceil(4).max(1) as usize;
    for i in 0..digits {
        let nibble = (value >> (4 * (digits - 1 - i))) & 0xf;
        out[at + i] = b"0123456789abcdef"[nibble as usize];
    }
    at + digits
}

impl std::fmt::Display for RequestId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.text(&mut [0; 25]))
    }
}

impl std::fmt::Debug for RequestId {
    /// Quoted and escaped, as `tracing` writes a string field.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", self.text(&mut [0; 25]))
    }
}

/// One access-log line (see the access log in [`crate::service`]).
#[derive(serde::Serialize)]
pub struct AccessRecord<'a> {
    /// The request method.
    pub method: &'a str,
    /// The path with its query.
    #[serde(serialize_with = "display")]
    pub path: &'a http::Uri,
    /// The route template, `-` when none matched.
    pub route: &'a str,
    /// The answer's status.
    pub status: u16,
    /// Milliseconds until the response head.
    pub duration_ms: f64,
    /// The client, written `host:port` (behind a trusted proxy, the
    /// forwarded one); `-` when unknown.
    #[serde(serialize_with = "client_or_dash")]
    pub client: Option<&'a ConnectionInfo>,
    /// The request id.
    #[serde(serialize_with = "display")]
    pub request_id: &'a RequestId,
    /// The trace id of the request's `traceparent`, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<&'a str>,
}

fn client_or_dash<S: serde::Serializer>(
    client: &Option<&ConnectionInfo>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match client {
        Some(client) => serializer.collect_str(client),
        None => serializer.serialize_str("-"),
    }
}

fn display<T: std::fmt::Display + ?Sized, S: serde::Serializer>(
    value: &&T,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.collect_str(value)
}

/// Writes an access line straight into brisk's log queue, in the format
/// `tracing` would have written it, without going through `tracing`'s
/// formatter (a third of a request's CPU time on a small answer). Returns
/// `false` when the caller must log through `tracing` instead: another
/// subscriber is installed, or lines are colored for a terminal.
///
/// ```
/// # let uri: http::Uri = "/".parse().unwrap();
/// let line = brisk::logging::AccessRecord {
///     method: "GET", path: &uri, route: "/", status: 200, duration_ms: 0.2,
///     client: None, request_id: &brisk::logging::RequestId::None, trace_id: None,
/// };
/// // Without brisk's subscriber installed, `tracing` has to do it.
/// assert!(!brisk::logging::write_access(&line));
/// ```
pub fn write_access(record: &AccessRecord<'_>) -> bool {
    let (Some(queue), Some(&(format, with_pid))) = (QUEUE.get(), STYLE.get()) else {
        return false;
    };
    if !tracing::enabled!(target: "brisk::access", tracing::Level::INFO) {
        return true; // filtered out: nothing to write
    }
    thread_local! {
        static LINE: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    LINE.with(|line| {
        let Ok(mut line) = line.try_borrow_mut() else {
            return false;
        };
        line.clear();
        let written = match format {
            LogFormat::Json => {
                #[derive(serde::Serialize)]
                struct JsonAccess<'a> {
                    #[serde(serialize_with = "display")]
                    timestamp: &'a Now,
                    level: &'static str,
                    target: &'static str,
                    pid: u32,
                    #[serde(flatten)]
                    record: &'a AccessRecord<'a>,
                }
                let access = JsonAccess {
                    timestamp: &Now,
                    level: "INFO",
                    target: "brisk::access",
                    pid: pid(),
                    record,
                };
                serde_json::to_writer(&mut *line, &access)
                    .map_err(std::io::Error::other)
                    .and_then(|()| line.write_all(b"\n"))
            }
            LogFormat::Text => {
                write_text_access(&mut line, record, with_pid);
                Ok(())
            }
        };
        if written.is_ok() {
            queue.push(&line);
        }
        true
    })
}

/// An access line as `tracing`'s text formatter writes it, built byte by
/// byte: through `write!` it cost about 3 µs, a tenth of a small request
/// (the format machinery, a system call for the pid, the timestamp, the
/// socket address), measured with perf on the bench example.
fn write_text_access(line: &mut Vec<u8>, record: &AccessRecord<'_>, with_pid: bool) {
    let mut int = itoa::Buffer::new();
    if with_pid {
        line.push(b'[');
        line.extend_from_slice(int.format(pid()).as_bytes());
        line.extend_from_slice(b"] ");
    }
    push_now(line);
    line.extend_from_slice(b"  INFO brisk::access: method=");
    line.extend_from_slice(record.method.as_bytes());
    line.extend_from_slice(b" path=");
    match record.path.path_and_query() {
        // Origin form, as requests have it: the path and query as received.
        Some(pq) if record.path.scheme().is_none() => {
            line.extend_from_slice(pq.as_str().as_bytes())
        }
        _ => {
            let _ = write!(line, "{}", record.path);
        }
    }
    line.extend_from_slice(b" route=");
    push_quoted(line, record.route);
    line.extend_from_slice(b" status=");
    line.extend_from_slice(int.format(record.status).as_bytes());
    line.extend_from_slice(b" duration_ms=");
    push_millis(line, record.duration_ms);
    line.extend_from_slice(b" client=");
    match record.client {
        Some(client) => client.push_client(line),
        None => line.push(b'-'),
    }
    line.extend_from_slice(b" request_id=");
    match record.request_id {
        RequestId::Given(id) => push_quoted(line, id.to_str().unwrap_or("-")),
        RequestId::Made(n) => {
            let mut made = [0; 25];
            let len = made_text(*n, &mut made);
            line.push(b'"');
            line.extend_from_slice(&made[..len]);
            line.push(b'"');
        }
        RequestId::None => line.extend_from_slice(b"\"-\""),
    }
    if let Some(id) = record.trace_id {
        line.extend_from_slice(b" trace_id=");
        push_quoted(line, id);
    }
    line.push(b'\n');
}

/// `value` quoted as `{:?}` quotes a string: copied as is when nothing in
/// it needs escaping (route templates and request ids, nearly always).
fn push_quoted(line: &mut Vec<u8>, value: &str) {
    if value
        .bytes()
        .all(|b| (b' '..=b'~').contains(&b) && b != b'"' && b != b'\\')
    {
        line.push(b'"');
        line.extend_from_slice(value.as_bytes());
        line.push(b'"');
    } else {
        let _ = write!(line, "{value:?}");
    }
}

/// Milliseconds as `f64`'s `Display` writes them. The access log's
/// durations are whole microseconds divided by 1,000, whose shortest form
/// is the integer part, a dot and the digits without trailing zeros; any
/// other value goes through `Display`.
fn push_millis(line: &mut Vec<u8>, ms: f64) {
    let micros = (ms * 1000.0).round();
    if !(0.0..1e15).contains(&micros) || micros / 1000.0 != ms {
        let _ = write!(line, "{ms}");
        return;
    }
    let micros = micros as u64;
    let mut int = itoa::Buffer::new();
    line.extend_from_slice(int.format(micros / 1000).as_bytes());
    let mut frac = micros % 1000;
    if frac != 0 {
        let mut digits = 3;
        while frac.is_multiple_of(10) {
            frac /= 10;
            digits -= 1;
        }
        line.push(b'.');
        let text = int.format(frac);
        line.extend(std::iter::repeat_n(b'0', digits - text.len()));
        line.extend_from_slice(text.as_bytes());
    }
}

/// The current time for access lines, text and JSON alike, as every other
/// line has it (tracing-subscriber's own timer, [`TimerNow`]), from a
/// per-thread cache of the text up to the second: formatting the date for
/// each line cost more than the rest of the line.
struct Now;

impl std::fmt::Display for Now {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write_now(|piece| f.write_str(piece))
    }
}

/// [`Now`] appended to a line without the format machinery.
fn push_now(line: &mut Vec<u8>) {
    let _ = write_now(|piece| {
        line.extend_from_slice(piece.as_bytes());
        Ok(())
    });
}

/// Hands the current time to `out` in pieces: the cached
/// `2026-11-23T19:04:06.`, the microseconds, `Z`.
fn write_now(mut out: impl FnMut(&str) -> std::fmt::Result) -> std::fmt::Result {
    thread_local! {
        /// The Unix second and tracing-subscriber's text up to it.
        static SECOND: std::cell::RefCell<(u64, String)> =
            const { std::cell::RefCell::new((u64::MAX, String::new())) };
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let secs = now.as_secs();
    SECOND.with(|cached| {
        let mut cached = cached.borrow_mut();
        if cached.0 != secs {
            // The timer reads the clock itself: its text is kept only when
            // it names the same second, else it is this line's timestamp.
            let text = TimerNow.to_string();
            match second_prefix(&text, secs) {
                Some(prefix) => *cached = (secs, prefix.to_owned()),
                None => return out(&text),
            }
        }
        out(&cached.1)?;
        let mut digits = itoa::Buffer::new();
        let micros = digits.format(now.subsec_micros());
        out(&"000000"[micros.len()..])?;
        out(micros)?;
        out("Z")
    })
}

/// `2026-11-23T19:04:06.` of the timer's `text`, if it names the second
/// `secs` (since the epoch) falls in.
fn second_prefix(text: &str, secs: u64) -> Option<&str> {
    let dot = text.rfind('.')?;
    let second: u64 = text[..dot].rsplit(':').next()?.parse().ok()?;
    (second == secs % 60).then(|| &text[..=dot])
}

/// tracing-subscriber's own default timer (RFC 3339, UTC, microseconds),
/// read afresh.
struct TimerNow;

impl std::fmt::Display for TimerNow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use tracing_subscriber::fmt::time::FormatTime;
        tracing_subscriber::fmt::time::SystemTime
            .format_time(&mut tracing_subscriber::fmt::format::Writer::new(f))
    }
}

/// The fmt layer's writer: each formatted line becomes one [`LineQueue::push`].
#[derive(Clone)]
struct QueueWriter(Arc<LineQueue>);

impl Write for QueueWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.push(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for QueueWriter {
    type Writer = QueueWriter;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

/// How log lines are written.
///
/// ```
/// use clap::ValueEnum;
/// let json = brisk::logging::LogFormat::from_str("json", true).unwrap();
/// assert_eq!(json, brisk::logging::LogFormat::Json);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum LogFormat {
    /// `tracing`'s human-readable lines (colored on a terminal).
    #[default]
    Text,
    /// One JSON object per line: `timestamp`, `level`, `target`, `pid`,
    /// `message`, the event's fields, and the fields of the spans it is in
    /// (a request's `method`, `route`, `request_id`).
    Json,
}

/// How to log: the filter (`RUST_LOG` syntax), the format, and whether each
/// text line starts with the process id (with worker processes).
#[derive(Debug, Clone)]
pub struct LogSettings {
    /// Level filter, e.g. `info` or `info,brisk::access=off`.
    pub filter: String,
    /// Prefix every line with `[pid]` (text format; JSON lines always
    /// carry a `pid`).
    pub with_pid: bool,
    /// Text or JSON lines.
    pub format: LogFormat,
}

/// Installs brisk's subscriber (stderr through the non-blocking queue);
/// does nothing if the application installed a subscriber already.
///
/// ```
/// use brisk::logging::{LogFormat, LogSettings};
/// brisk::logging::init(&LogSettings { filter: "warn".into(), with_pid: false, format: LogFormat::Text });
/// tracing::warn!("goes to stderr, never blocking the caller");
/// ```
pub fn init(settings: &LogSettings) {
    use tracing_subscriber::Layer;
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let filter = std::env::var("RUST_LOG").unwrap_or_else(|_| settings.filter.clone());
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let queue = LineQueue::new();
    let writer = QueueWriter(Arc::clone(&queue));
    let shown: Box<dyn tracing_subscriber::Layer<tracing_subscriber::Registry> + Send + Sync> =
        match settings.format {
            LogFormat::Json => Box::new(
                SpanFieldsLayer.and_then(
                    tracing_subscriber::fmt::layer()
                        .with_writer(writer)
                        .event_format(JsonLines),
                ),
            ),
            LogFormat::Text if settings.with_pid => Box::new(
                tracing_subscriber::fmt::layer()
                    .with_writer(writer)
                    .with_ansi(ansi)
                    .event_format(WithPid(tracing_subscriber::fmt::format().with_ansi(ansi))),
            ),
            LogFormat::Text => Box::new(
                tracing_subscriber::fmt::layer()
                    .with_writer(writer)
                    .with_ansi(ansi),
            ),
        };
    // The level filter applies to what is written; an exporter has its own.
    let shown = shown.with_filter(tracing_subscriber::EnvFilter::new(filter));
    #[cfg(feature = "otel")]
    let installed = tracing_subscriber::registry()
        .with(shown)
        .with(otel::layer())
        .try_init();
    #[cfg(not(feature = "otel"))]
    let installed = tracing_subscriber::registry().with(shown).try_init();
    if installed.is_ok() && QUEUE.set(Arc::clone(&queue)).is_ok() {
        // Colored lines (a terminal) keep going through `tracing`.
        if !ansi || settings.format == LogFormat::Json {
            let _ = STYLE.set((settings.format, settings.with_pid));
        }
        queue.start();
        std::thread::Builder::new()
            .name("brisk-log-drops".into())
            .spawn(report_drops)
            .expect("spawn the log-drop reporter");
    }
}

/// Log lines dropped so far because stderr was not being read fast enough.
///
/// ```
/// assert_eq!(brisk::logging::dropped_lines(), 0);
/// ```
pub fn dropped_lines() -> u64 {
    QUEUE.get().map_or(0, |q| q.dropped.load(Ordering::Relaxed))
}

/// Writes out what is queued (waiting at most about a second) and stops the
/// writer thread; called before the process exits.
pub fn flush() {
    #[cfg(feature = "otel")]
    otel::shutdown();
    let Some(queue) = QUEUE.get() else {
        return;
    };
    let Some(done) = queue.done.lock().ok().and_then(|mut d| d.take()) else {
        return; // flushed already
    };
    if let Ok(mut pending) = queue.pending.lock() {
        pending.closing = true;
    }
    if let Some(writer) = queue.writer.get() {
        writer.unpark();
    }
    let _ = done.recv_timeout(FLUSH_WAIT);
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
        write!(writer, "[{}] ", pid())?;
        self.0.format_event(ctx, writer, event)
    }
}

/// A span's fields as JSON, kept in the span's extensions for
/// [`JsonLines`] (the fmt layer keeps them only as formatted text).
struct SpanFields(serde_json::Map<String, serde_json::Value>);

/// Records every span's fields (at creation and when recorded later, such
/// as a request's route once it is known) as [`SpanFields`].
struct SpanFieldsLayer;

impl<S> tracing_subscriber::Layer<S> for SpanFieldsLayer
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    fn on_new_span(
        &self,
        attrs: &tracing::span::Attributes<'_>,
        id: &tracing::span::Id,
        ctx: tracing_subscriber::layer::Context<'_, S>,
    ) {
        if let Some(span) = ctx.span(id) {
            let mut fields = serde_json::Map::new();
            attrs.record(&mut JsonVisitor(&mut fields));
            span.extensions_mut().insert(SpanFields(fields));
        }
    }

    fn on_record(
        &self,
        id: &tracing::span::Id,
        values: &tracing::span::Record<'_>,
        ctx: tracing_subscriber::layer::Context<'_, S>,
    ) {
        if let Some(span) = ctx.span(id)
            && let Some(fields) = span.extensions_mut().get_mut::<SpanFields>()
        {
            values.record(&mut JsonVisitor(&mut fields.0));
        }
    }
}

/// Collects fields into a JSON object.
struct JsonVisitor<'a>(&'a mut serde_json::Map<String, serde_json::Value>);

impl tracing::field::Visit for JsonVisitor<'_> {
    fn record_f64(&mut self, field: &tracing::field::Field, value: f64) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_i64(&mut self, field: &tracing::field::Field, value: i64) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_u64(&mut self, field: &tracing::field::Field, value: u64) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_bool(&mut self, field: &tracing::field::Field, value: bool) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        self.0
            .insert(field.name().into(), format!("{value:?}").into());
    }
}

/// `--log-format json`: one object per line.
struct JsonLines;

impl<S, N> tracing_subscriber::fmt::FormatEvent<S, N> for JsonLines
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
    N: for<'a> tracing_subscriber::fmt::FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &tracing_subscriber::fmt::FmtContext<'_, S, N>,
        mut writer: tracing_subscriber::fmt::format::Writer<'_>,
        event: &tracing::Event<'_>,
    ) -> std::fmt::Result {
        use tracing_subscriber::fmt::time::FormatTime;
        let meta = event.metadata();
        let mut timestamp = String::new();
        tracing_subscriber::fmt::time::SystemTime.format_time(
            &mut tracing_subscriber::fmt::format::Writer::new(&mut timestamp),
        )?;
        let mut line = serde_json::Map::new();
        line.insert("timestamp".into(), timestamp.into());
        line.insert("level".into(), meta.level().as_str().into());
        line.insert("target".into(), meta.target().into());
        line.insert("pid".into(), pid().into());
        // Outermost span first, so the event's own fields win.
        if let Some(scope) = ctx.event_scope() {
            for span in scope.from_root() {
                if let Some(fields) = span.extensions().get::<SpanFields>() {
                    for (k, v) in &fields.0 {
                        line.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        event.record(&mut JsonVisitor(&mut line));
        let text = serde_json::to_string(&line).map_err(|_| std::fmt::Error)?;
        writeln!(writer, "{text}")
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

/// The `otel` feature: request spans exported with OpenTelemetry (OTLP
/// over HTTP, JSON), when `OTEL_EXPORTER_OTLP_ENDPOINT` (or
/// `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is set; the standard `OTEL_*`
/// variables (service name, batch delay, headers) apply. An incoming W3C
/// `traceparent` makes a request's span a child of the caller's.
#[cfg(feature = "otel")]
pub(crate) mod otel {
    use std::sync::Mutex;

    use opentelemetry::trace::TracerProvider as _;
    use opentelemetry_sdk::trace::SdkTracerProvider;
    use tracing_subscriber::Layer;

    static PROVIDER: Mutex<Option<SdkTracerProvider>> = Mutex::new(None);

    fn endpoint_configured() -> bool {
        [
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        ]
        .iter()
        .any(|v| std::env::var_os(v).is_some_and(|s| !s.is_empty()))
    }

    /// The exporting layer (request spans, at any level), or `None`
    /// without an endpoint.
    pub(crate) fn layer<S>() -> Option<Box<dyn Layer<S> + Send + Sync>>
    where
        S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a> + Send + Sync,
    {
        use opentelemetry_otlp::WithExportConfig;
        if !endpoint_configured() {
            return None;
        }
        let exporter = match opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_protocol(opentelemetry_otlp::Protocol::HttpJson)
            .build()
        {
            Ok(exporter) => exporter,
            Err(e) => {
                eprintln!("brisk: OpenTelemetry exporter not started: {e}");
                return None;
            }
        };
        let provider = SdkTracerProvider::builder()
            .with_batch_exporter(exporter)
            .build();
        opentelemetry::global::set_text_map_propagator(
            opentelemetry_sdk::propagation::TraceContextPropagator::new(),
        );
        let tracer = provider.tracer("brisk");
        *PROVIDER.lock().expect("provider lock") = Some(provider);
        let targets = tracing_subscriber::filter::Targets::new()
            .with_target("brisk::request", tracing::Level::DEBUG);
        Some(Box::new(
            tracing_opentelemetry::layer()
                .with_tracer(tracer)
                .with_filter(targets),
        ))
    }

    /// Exports what is queued and stops the exporter (at exit).
    pub(crate) fn shutdown() {
        if let Some(provider) = PROVIDER.lock().expect("provider lock").take() {
            let _ = provider.shutdown();
        }
    }

    /// Makes `span` a child of the trace in the request's `traceparent`.
    pub(crate) fn adopt_parent(span: &tracing::Span, headers: &http::HeaderMap) {
        use tracing_opentelemetry::OpenTelemetrySpanExt;
        if !headers.contains_key("traceparent") {
            return;
        }
        let parent = opentelemetry::global::get_text_map_propagator(|p| {
            p.extract(&HeaderExtractor(headers))
        });
        let _ = span.set_parent(parent);
    }

    struct HeaderExtractor<'a>(&'a http::HeaderMap);

    impl opentelemetry::propagation::Extractor for HeaderExtractor<'_> {
        fn get(&self, key: &str) -> Option<&str> {
            self.0.get(key).and_then(|v| v.to_str().ok())
        }
        fn keys(&self) -> Vec<&str> {
            self.0.keys().map(|k| k.as_str()).collect()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connection::Scheme;

    /// What the access line was before it was written byte by byte: the
    /// `write!` of `tracing`'s text format, without the timestamp.
    fn with_format_macro(record: &AccessRecord<'_>) -> String {
        let trace = record
            .trace_id
            .map(|id| format!(" trace_id={id:?}"))
            .unwrap_or_default();
        format!(
            "  INFO brisk::access: method={} path={} route={:?} status={} duration_ms={} client={} request_id={:?}{trace}\n",
            record.method,
            record.path,
            record.route,
            record.status,
            record.duration_ms,
            record.client.map_or("-".to_owned(), ToString::to_string),
            record.request_id,
        )
    }

    #[test]
    fn made_up_ids_and_clients_are_written_as_the_format_macro_writes_them() {
        for n in [0, 1, 0x1f, 0xabc_def, u64::from(u32::MAX) + 1, u64::MAX] {
            let expected = format!("{:x}-{n:x}", std::process::id());
            assert_eq!(RequestId::Made(n).to_string(), expected);
            assert_eq!(format!("{:?}", RequestId::Made(n)), format!("{expected:?}"));
        }
        assert_eq!(RequestId::None.to_string(), "-");
        for peer in [
            "0.0.0.0:0",
            "127.0.0.1:45678",
            "255.255.255.255:65535",
            "10.20.3.4:80",
            "[::1]:8000",
        ] {
            let addr: std::net::SocketAddr = peer.parse().unwrap();
            let info = ConnectionInfo::new(addr, Scheme::Http);
            assert_eq!(info.to_string(), addr.to_string());
            let mut pushed = Vec::new();
            info.push_client(&mut pushed);
            assert_eq!(String::from_utf8(pushed).unwrap(), addr.to_string());
        }
    }

    #[test]
    fn the_text_access_line_is_what_the_format_macro_wrote() {
        let uri: http::Uri = "/items/5?q=foo&limit=10".parse().unwrap();
        let absolute: http::Uri = "http://example.com/x?y=1".parse().unwrap();
        let given = RequestId::Given(http::HeaderValue::from_static("abc-\"1\""));
        let info = |peer: &str| ConnectionInfo::new(peer.parse().unwrap(), Scheme::Http);
        let client = info("127.0.0.1:45678");
        let v6 = info("[::1]:8000");
        let forwarded = info("127.0.0.1:1").forwarded_for("10.0.0.1", 0);
        for (path, route, ms, id, trace, client) in [
            (
                &uri,
                "/items/{item_id}",
                0.04,
                RequestId::Made(0x1f),
                None,
                Some(&client),
            ),
            (
                &absolute,
                "-",
                12.0,
                RequestId::None,
                Some("4bf92f3577b34da6a3ce929d0e0e4736"),
                Some(&v6),
            ),
            (
                &uri,
                "/with \"quotes\"\\",
                1234.567,
                given,
                None,
                Some(&forwarded),
            ),
            (&uri, "/ü", 0.1234567, RequestId::None, None, None),
        ] {
            let record = AccessRecord {
                method: "GET",
                path,
                route,
                status: 404,
                duration_ms: ms,
                client,
                request_id: &id,
                trace_id: trace,
            };
            let mut line = Vec::new();
            write_text_access(&mut line, &record, false);
            let line = String::from_utf8(line).unwrap();
            assert_eq!(&line[27..], with_format_macro(&record), "{line}");

            let mut with_pid = Vec::new();
            write_text_access(&mut with_pid, &record, true);
            let with_pid = String::from_utf8(with_pid).unwrap();
            let prefix = format!("[{}] ", std::process::id());
            assert!(with_pid.starts_with(&prefix), "{with_pid}");
            assert_eq!(&with_pid[prefix.len() + 27..], &line[27..]);
        }
    }

    #[test]
    fn milliseconds_are_written_as_f64_display_writes_them() {
        let samples = (0..3000u64).chain([9_999, 10_000, 10_001, 123_456_789, 86_400_000_000]);
        for micros in samples {
            let ms = micros as f64 / 1000.0;
            let mut line = Vec::new();
            push_millis(&mut line, ms);
            assert_eq!(
                String::from_utf8(line).unwrap(),
                ms.to_string(),
                "{micros} µs"
            );
        }
        for ms in [0.1234567, 1e-7, 2.5e20, f64::NAN] {
            let mut line = Vec::new();
            push_millis(&mut line, ms);
            assert_eq!(String::from_utf8(line).unwrap(), ms.to_string());
        }
    }

    #[test]
    fn timestamps_have_tracing_subscribers_shape_and_the_current_time() {
        let reference = TimerNow.to_string();
        for i in 0..4 {
            // Both ways of writing it: into a line, and as `Display` (JSON).
            let stamp = if i % 2 == 0 {
                let mut line = Vec::new();
                push_now(&mut line);
                String::from_utf8(line).unwrap()
            } else {
                Now.to_string()
            };
            assert_eq!(stamp.len(), reference.len(), "{stamp} vs {reference}");
            for (i, (a, b)) in stamp.bytes().zip(reference.bytes()).enumerate() {
                assert_eq!(
                    a.is_ascii_digit(),
                    b.is_ascii_digit(),
                    "{stamp} vs {reference} at {i}"
                );
            }
            // The same minute as tracing-subscriber's timer (or the next one).
            let minute = |s: &str| s[..16].to_owned();
            let later = TimerNow.to_string();
            assert!(
                minute(&stamp) == minute(&reference) || minute(&stamp) == minute(&later),
                "{stamp} vs {reference}"
            );
        }
    }

    #[test]
    fn a_timer_text_of_another_second_is_not_cached() {
        let secs = 1_795_460_646; // 2026-11-23T19:04:06Z
        assert_eq!(
            second_prefix("2026-11-23T19:04:06.999999Z", secs),
            Some("2026-11-23T19:04:06.")
        );
        assert_eq!(second_prefix("2026-11-23T19:04:07.000001Z", secs), None);
        assert_eq!(second_prefix("not a timestamp", secs), None);
    }

    #[test]
    fn the_pid_is_the_process_id() {
        assert_eq!(pid(), std::process::id());
    }
}
