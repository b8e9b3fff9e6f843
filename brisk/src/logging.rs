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
    let (writer, guard) = NonBlockingBuilder::default()
        .buffered_lines_limit(QUEUE_LINES)
        .lossy(true)
        .thread_name("brisk-log-writer")
        .finish(std::io::stderr());
    let counter = writer.error_counter();
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
    #[cfg(feature = "otel")]
    otel::shutdown();
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
        line.insert("pid".into(), std::process::id().into());
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
