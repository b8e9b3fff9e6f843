//! Prometheus metrics: an opt-in endpoint (`App::metrics_url`, `--metrics`)
//! in the OpenMetrics text format, encoded by `prometheus-client`.
//!
//! | metric | type | labels |
//! |---|---|---|
//! | `brisk_requests_total` | counter | `method`, `route` (the template, `none` when nothing matched), `status` |
//! | `brisk_request_duration_seconds` | histogram (until the response head) | `method`, `route` |
//! | `brisk_requests_in_flight` | gauge | |
//! | `brisk_connections_open` | gauge | |
//! | `brisk_threadpool_size`, `_in_use`, `_waiting` | gauges | |
//! | `brisk_event_loop_lag_seconds` | gauge (the worst of the processes) | |
//! | `brisk_blocking_polls_total` | counter: polls of an `async fn` over the watchdog's threshold | `method`, `route` |
//! | `brisk_contained_routes` | gauge | |
//! | `brisk_log_lines_dropped_total` | counter | |
//! | `brisk_workers` | gauge: processes whose figures are included | |
//!
//! The scrape itself is not counted.
//!
//! **With `--workers N`** a scrape reaches one worker, and sees them all,
//! merged, as prometheus_client's multiprocess mode does for gunicorn: every
//! worker writes its figures to a file in a directory the supervisor owns,
//! once a second (on a thread of its own, never on an event loop) and when
//! it stops. The worker answering a scrape adds its own live figures to the
//! others' files. Counters and histograms are summed over every worker that
//! ever ran (a replaced worker's requests still count, so counters never go
//! backwards); gauges are summed over the live workers only (the lag is
//! their maximum). Other workers' figures are thus up to a second old.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, RwLock, Weak};
use std::time::Duration;

use http::header::{CONTENT_TYPE, HeaderValue};
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use serde::{Deserialize, Serialize};

use crate::body::Body;
use crate::exec::Watchdog;
use crate::params::RequestContext;
use crate::routing::{HandlerFuture, Operation};

/// Upper bounds of the latency histogram's buckets, in seconds
/// (Prometheus' defaults).
const BUCKETS: [f64; 14] = [
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
];

/// Where the supervisor tells its workers to leave their figures.
pub(crate) const ENV_METRICS_DIR: &str = "BRISK_WORKER_METRICS_DIR";

/// How often a worker writes its figures for the others.
const SHARE_EVERY: Duration = Duration::from_secs(1);

/// The route label of a request no operation matched.
const UNMATCHED: &str = "none";

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    method: http::Method,
    route: &'static str,
    status: u16,
}

/// One (method, route, status)'s count and latencies.
#[derive(Debug, Default)]
struct Series {
    count: AtomicU64,
    /// Requests per bucket (not cumulative); over the last bound: only in `count`.
    buckets: [AtomicU64; BUCKETS.len()],
    sum_micros: AtomicU64,
}

/// Counts this process's requests and renders every process's figures.
pub(crate) struct Recorder {
    url: &'static str,
    series: RwLock<HashMap<Key, Arc<Series>>>,
    in_flight: AtomicI64,
    connections: OnceLock<Box<dyn Fn() -> usize + Send + Sync>>,
    watchdog: Arc<Watchdog>,
    /// With worker processes: the directory their figures meet in.
    shared_dir: Option<PathBuf>,
}

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recorder").field("url", &self.url).finish()
    }
}

/// A request being answered, counted in `brisk_requests_in_flight`.
pub(crate) struct InFlight<'a>(&'a AtomicI64);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Recorder {
    /// A recorder serving at `url`; with worker processes, shares its
    /// figures through the supervisor's directory.
    pub(crate) fn new(url: &'static str, watchdog: Arc<Watchdog>) -> Arc<Self> {
        let shared_dir = std::env::var_os(ENV_METRICS_DIR).map(PathBuf::from);
        let recorder = Arc::new(Recorder {
            url,
            series: RwLock::new(HashMap::new()),
            in_flight: AtomicI64::new(0),
            connections: OnceLock::new(),
            watchdog,
            shared_dir,
        });
        if recorder.shared_dir.is_some() {
            let weak = Arc::downgrade(&recorder);
            let _ = std::thread::Builder::new()
                .name("brisk-metrics-share".into())
                .spawn(move || share_periodically(weak));
        }
        recorder
    }

    /// The endpoint's path (its requests are not counted).
    pub(crate) fn url(&self) -> &'static str {
        self.url
    }

    /// Tells the recorder how to count open connections (the server knows).
    pub(crate) fn count_connections_with(&self, count: Box<dyn Fn() -> usize + Send + Sync>) {
        let _ = self.connections.set(count);
    }

    /// A request starts.
    pub(crate) fn enter(&self) -> InFlight<'_> {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        InFlight(&self.in_flight)
    }

    /// A request was answered.
    pub(crate) fn record(
        &self,
        method: &http::Method,
        route: Option<&'static str>,
        status: u16,
        elapsed: Duration,
    ) {
        let key = Key {
            method: method.clone(),
            route: route.unwrap_or(UNMATCHED),
            status,
        };
        let found = self.series.read().expect("metrics lock").get(&key).cloned();
        let series = match found {
            Some(series) => series,
            None => Arc::clone(
                self.series
                    .write()
                    .expect("metrics lock")
                    .entry(key)
                    .or_default(),
            ),
        };
        series.count.fetch_add(1, Ordering::Relaxed);
        let seconds = elapsed.as_secs_f64();
        if let Some(i) = BUCKETS.iter().position(|&bound| seconds <= bound) {
            series.buckets[i].fetch_add(1, Ordering::Relaxed);
        }
        series
            .sum_micros
            .fetch_add(elapsed.as_micros() as u64, Ordering::Relaxed);
    }

    /// This process's figures now.
    fn snapshot(&self) -> ProcessFigures {
        let requests = self
            .series
            .read()
            .expect("metrics lock")
            .iter()
            .map(|(key, s)| RequestFigures {
                method: key.method.to_string(),
                route: key.route.to_owned(),
                status: key.status,
                count: s.count.load(Ordering::Relaxed),
                buckets: s
                    .buckets
                    .iter()
                    .map(|b| b.load(Ordering::Relaxed))
                    .collect(),
                sum_seconds: s.sum_micros.load(Ordering::Relaxed) as f64 / 1e6,
            })
            .collect();
        let wd = self.watchdog.snapshot();
        ProcessFigures {
            pid: std::process::id(),
            requests,
            blocking: wd
                .routes
                .iter()
                .filter(|r| r.slow_polls > 0)
                .map(|r| (r.method.clone(), r.path.to_owned(), r.slow_polls))
                .collect(),
            log_lines_dropped: wd.log_lines_dropped,
            gauges: Gauges {
                in_flight: self.in_flight.load(Ordering::Relaxed),
                connections_open: self.connections.get().map_or(0, |f| f()) as u64,
                threadpool_size: wd.threadpool_size as u64,
                threadpool_in_use: wd.threadpool_in_use as u64,
                threadpool_waiting: wd.threadpool_waiting as u64,
                event_loop_lag_seconds: wd.event_loop_lag_ms / 1000.0,
                contained_routes: wd.contained_routes as u64,
            },
        }
    }

    /// Writes this process's figures for the other workers.
    pub(crate) fn share(&self) {
        if let Some(dir) = &self.shared_dir {
            let figures = self.snapshot();
            if let Err(e) = write_figures(dir, &figures) {
                tracing::debug!(error = %e, "could not share metrics with the other workers");
            }
        }
    }

    /// Every process's figures, merged, in the OpenMetrics text format.
    /// Reads the other workers' files: call it off the event loop.
    fn render_blocking(&self) -> String {
        let mine = self.snapshot();
        let mut processes = vec![(mine, true)];
        if let Some(dir) = &self.shared_dir {
            processes.extend(read_others(dir));
        }
        let merged = Merged::from(processes);
        let mut registry = prometheus_client::registry::Registry::default();
        registry.register_collector(Box::new(merged));
        let mut out = String::new();
        if let Err(e) = prometheus_client::encoding::text::encode(&mut out, &registry) {
            tracing::error!(error = %e, "could not encode the metrics");
        }
        out
    }
}

/// Writes the figures every second while the recorder lives.
fn share_periodically(recorder: Weak<Recorder>) {
    loop {
        std::thread::sleep(SHARE_EVERY);
        match recorder.upgrade() {
            Some(r) => r.share(),
            None => return,
        }
    }
}

fn figures_file(dir: &Path, pid: u32) -> PathBuf {
    dir.join(format!("worker-{pid}.json"))
}

/// Write to a temporary name, then rename: a reader never sees half a file.
fn write_figures(dir: &Path, figures: &ProcessFigures) -> std::io::Result<()> {
    let json = serde_json::to_vec(figures).map_err(std::io::Error::other)?;
    let tmp = dir.join(format!(".worker-{}.tmp", figures.pid));
    std::fs::write(&tmp, json)?;
    std::fs::rename(tmp, figures_file(dir, figures.pid))
}

/// The other processes' figures, and whether each process is alive.
fn read_others(dir: &Path) -> Vec<(ProcessFigures, bool)> {
    let me = std::process::id();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with("worker-"))
        .filter_map(|e| std::fs::read(e.path()).ok())
        .filter_map(|bytes| serde_json::from_slice::<ProcessFigures>(&bytes).ok())
        .filter(|f| f.pid != me)
        .map(|f| {
            // SAFETY: signal 0 only checks that the process exists.
            let alive = unsafe { libc::kill(f.pid as libc::pid_t, 0) } == 0;
            (f, alive)
        })
        .collect()
}

/// One process's figures, as shared between workers.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct ProcessFigures {
    pid: u32,
    requests: Vec<RequestFigures>,
    /// (method, route, slow polls)
    blocking: Vec<(String, String, u64)>,
    log_lines_dropped: u64,
    gauges: Gauges,
}

/// What a process has right now (summed over live processes when merged).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Gauges {
    in_flight: i64,
    connections_open: u64,
    threadpool_size: u64,
    threadpool_in_use: u64,
    threadpool_waiting: u64,
    event_loop_lag_seconds: f64,
    contained_routes: u64,
}

impl Gauges {
    /// Adds a live process's gauges: sums, except the lag and the contained
    /// routes (the same routes in every worker), which take the maximum.
    fn add(&mut self, other: &Gauges) {
        self.in_flight += other.in_flight;
        self.connections_open += other.connections_open;
        self.threadpool_size += other.threadpool_size;
        self.threadpool_in_use += other.threadpool_in_use;
        self.threadpool_waiting += other.threadpool_waiting;
        self.event_loop_lag_seconds = self
            .event_loop_lag_seconds
            .max(other.event_loop_lag_seconds);
        self.contained_routes = self.contained_routes.max(other.contained_routes);
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct RequestFigures {
    method: String,
    route: String,
    status: u16,
    count: u64,
    buckets: Vec<u64>,
    sum_seconds: f64,
}

/// Every process's figures added up, ready to encode.
#[derive(Debug, Default)]
struct Merged {
    /// (method, route, status) → count
    requests: HashMap<(String, String, u16), u64>,
    /// (method, route) → (per-bucket counts, count, sum)
    durations: HashMap<(String, String), (Vec<u64>, u64, f64)>,
    blocking: HashMap<(String, String), u64>,
    log_lines_dropped: u64,
    gauges: Gauges,
    workers: u64,
}

impl From<Vec<(ProcessFigures, bool)>> for Merged {
    fn from(processes: Vec<(ProcessFigures, bool)>) -> Self {
        let mut m = Merged::default();
        for (p, alive) in processes {
            for r in p.requests {
                *m.requests
                    .entry((r.method.clone(), r.route.clone(), r.status))
                    .or_default() += r.count;
                let d = m
                    .durations
                    .entry((r.method, r.route))
                    .or_insert_with(|| (vec![0; BUCKETS.len()], 0, 0.0));
                for (total, n) in d.0.iter_mut().zip(&r.buckets) {
                    *total += n;
                }
                d.1 += r.count;
                d.2 += r.sum_seconds;
            }
            for (method, route, n) in p.blocking {
                *m.blocking.entry((method, route)).or_default() += n;
            }
            m.log_lines_dropped += p.log_lines_dropped;
            if alive {
                m.workers += 1;
                m.gauges.add(&p.gauges);
            }
        }
        m
    }
}

fn gauge<N: prometheus_client::encoding::EncodeGaugeValue + Send + Sync + std::fmt::Debug>(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    value: N,
) -> Result<(), std::fmt::Error> {
    let metric = ConstGauge::new(value);
    metric.encode(encoder.encode_descriptor(name, help, None, MetricType::Gauge)?)
}

fn counter(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    value: u64,
) -> Result<(), std::fmt::Error> {
    let metric = ConstCounter::new(value);
    metric.encode(encoder.encode_descriptor(name, help, None, MetricType::Counter)?)
}

/// Sorted, so that a scrape reads the same from one time to the next.
fn sorted<K: Ord + Clone, V: Clone>(map: &HashMap<K, V>) -> Vec<(K, V)> {
    let mut v: Vec<(K, V)> = map.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

impl prometheus_client::collector::Collector for Merged {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        {
            let mut family = encoder.encode_descriptor(
                "brisk_requests",
                "Requests answered, by method, route template and status.",
                None,
                MetricType::Counter,
            )?;
            for ((method, route, status), n) in sorted(&self.requests) {
                let status = status.to_string();
                let labels = [
                    ("method", method.as_str()),
                    ("route", route.as_str()),
                    ("status", status.as_str()),
                ];
                ConstCounter::new(n).encode(family.encode_family(&labels)?)?;
            }
        }
        {
            let mut family = encoder.encode_descriptor(
                "brisk_request_duration_seconds",
                "Time from a request's arrival to its response head, by method and route template.",
                None,
                MetricType::Histogram,
            )?;
            for ((method, route), (per_bucket, count, sum)) in sorted(&self.durations) {
                let labels = [("method", method.as_str()), ("route", route.as_str())];
                // Per bucket, not cumulative: the encoder adds them up.
                let mut buckets: Vec<(f64, u64)> = BUCKETS
                    .iter()
                    .copied()
                    .zip(per_bucket.iter().copied())
                    .collect();
                let bounded: u64 = per_bucket.iter().sum();
                buckets.push((f64::INFINITY, count.saturating_sub(bounded)));
                family
                    .encode_family(&labels)?
                    .encode_histogram::<prometheus_client::encoding::NoLabelSet>(
                        sum, count, &buckets, None,
                    )?;
            }
        }
        gauge(
            &mut encoder,
            "brisk_requests_in_flight",
            "Requests being answered now.",
            self.gauges.in_flight,
        )?;
        gauge(
            &mut encoder,
            "brisk_connections_open",
            "Open client connections.",
            self.gauges.connections_open as i64,
        )?;
        gauge(
            &mut encoder,
            "brisk_threadpool_size",
            "Plain fn handlers that may run at once (--threadpool-size).",
            self.gauges.threadpool_size as i64,
        )?;
        gauge(
            &mut encoder,
            "brisk_threadpool_in_use",
            "Thread-pool threads running a handler now.",
            self.gauges.threadpool_in_use as i64,
        )?;
        gauge(
            &mut encoder,
            "brisk_threadpool_waiting",
            "Calls waiting for a thread-pool thread.",
            self.gauges.threadpool_waiting as i64,
        )?;
        gauge(
            &mut encoder,
            "brisk_event_loop_lag_seconds",
            "How late the event loops' heartbeat timer fired last (the worst process).",
            self.gauges.event_loop_lag_seconds,
        )?;
        {
            let mut family = encoder.encode_descriptor(
                "brisk_blocking_polls",
                "Polls of an async fn that blocked the event loop past the watchdog's threshold.",
                None,
                MetricType::Counter,
            )?;
            for ((method, route), n) in sorted(&self.blocking) {
                let labels = [("method", method.as_str()), ("route", route.as_str())];
                ConstCounter::new(n).encode(family.encode_family(&labels)?)?;
            }
        }
        gauge(
            &mut encoder,
            "brisk_contained_routes",
            "Routes the watchdog moved to the thread pool.",
            self.gauges.contained_routes as i64,
        )?;
        counter(
            &mut encoder,
            "brisk_log_lines_dropped",
            "Log lines dropped because stderr was not read fast enough.",
            self.log_lines_dropped,
        )?;
        gauge(
            &mut encoder,
            "brisk_workers",
            "Processes whose figures this scrape includes.",
            self.workers as i64,
        )?;
        Ok(())
    }
}

/// The endpoint: `GET <url>`, hidden from the OpenAPI document.
pub(crate) fn operation(url: &'static str) -> Operation {
    Operation::new(http::Method::GET, url, "metrics", scrape, true).include_in_schema(false)
}

fn scrape(cx: &mut RequestContext) -> HandlerFuture<'_> {
    Box::pin(async move {
        let recorder = cx
            .state::<Recorder>()
            .expect("the app registers its Recorder with the metrics route");
        // Reading the other workers' files is file I/O: off the event loop.
        let text = tokio::task::spawn_blocking(move || recorder.render_blocking())
            .await
            .unwrap_or_default();
        let mut resp = http::Response::new(Body::from(text));
        resp.headers_mut().insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
        );
        resp
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn figures(pid: u32, count: u64, in_flight: i64) -> ProcessFigures {
        ProcessFigures {
            pid,
            requests: vec![RequestFigures {
                method: "GET".into(),
                route: "/items/{id}".into(),
                status: 200,
                count,
                buckets: {
                    let mut b = vec![0; BUCKETS.len()];
                    b[0] = count;
                    b
                },
                sum_seconds: 0.001 * count as f64,
            }],
            gauges: Gauges {
                in_flight,
                ..Gauges::default()
            },
            ..ProcessFigures::default()
        }
    }

    #[test]
    fn counters_add_up_over_every_process_gauges_over_live_ones() {
        let merged = Merged::from(vec![(figures(1, 3, 2), true), (figures(2, 4, 5), false)]);
        let key = ("GET".to_owned(), "/items/{id}".to_owned(), 200);
        assert_eq!(merged.requests[&key], 7);
        assert_eq!(merged.gauges.in_flight, 2);
        assert_eq!(merged.workers, 1);
        let mut registry = prometheus_client::registry::Registry::default();
        registry.register_collector(Box::new(merged));
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
        assert!(
            text.contains(
                r#"brisk_requests_total{method="GET",route="/items/{id}",status="200"} 7"#
            ),
            "{text}"
        );
        assert!(text.contains(r#"brisk_request_duration_seconds_bucket{le="+Inf",method="GET",route="/items/{id}"} 7"#)
            || text.contains(r#"brisk_request_duration_seconds_bucket{method="GET",route="/items/{id}",le="+Inf"} 7"#), "{text}");
        assert!(text.ends_with("# EOF\n"));
    }
}
