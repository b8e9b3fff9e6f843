//! Server settings from the command line and `BRISK_*` variables.

use std::time::Duration;

use clap::Parser;

use super::conn::ConnSettings;
use super::deadline::BodyDeadlines;

/// How to serve an app. Every flag can also be set by a `BRISK_*` variable;
/// the command line wins over the variable, which wins over the value set on
/// the [`App`](crate::App) builder, which wins over the default.
///
/// ```
/// use clap::Parser;
/// let config = brisk::ServerConfig::parse_from(["app", "--port", "9000"]);
/// assert_eq!(config.port, 9000);
/// assert_eq!(config.host, "127.0.0.1");
/// ```
#[derive(Parser, Debug, Clone)]
#[command(about = "Serve a brisk application", long_about = None)]
pub struct ServerConfig {
    /// Address to bind.
    #[arg(long, env = "BRISK_HOST", default_value = "127.0.0.1")]
    pub host: String,

    /// Port to bind (0 picks a free one).
    #[arg(long, env = "BRISK_PORT", default_value_t = 8000)]
    pub port: u16,

    /// How many plain `fn` handlers may run at once [default: 40, or the app's setting].
    #[arg(long, env = "BRISK_THREADPOOL_SIZE")]
    pub threadpool_size: Option<usize>,

    /// Event-loop (tokio worker) threads [default: the number of CPUs].
    #[arg(long, env = "BRISK_EVENT_LOOP_THREADS")]
    pub event_loop_threads: Option<usize>,

    /// Run the event-loop threads as one work-stealing tokio runtime instead
    /// of one single-threaded loop per thread that new connections go to in
    /// turn (cheaper per request; a connection stays on its thread).
    #[arg(long, env = "BRISK_WORK_STEALING")]
    pub work_stealing: bool,

    /// Largest accepted request body in bytes; larger bodies get 413 [default: 16 MiB].
    #[arg(long, env = "BRISK_MAX_BODY_SIZE")]
    pub max_body_size: Option<usize>,

    /// Seconds to let in-flight requests finish after SIGINT/SIGTERM.
    #[arg(long, env = "BRISK_TIMEOUT_GRACEFUL_SHUTDOWN", default_value_t = 30)]
    pub timeout_graceful_shutdown: u64,

    /// Log level filter (`RUST_LOG` syntax also accepted, e.g. `info,brisk::access=off`).
    #[arg(long, env = "BRISK_LOG_LEVEL", default_value = "info")]
    pub log_level: String,

    /// What to do about an `async fn` that blocks the event loop: contain (run
    /// the route on the thread pool from then on), warn, or off [default: contain].
    #[arg(long, env = "BRISK_BLOCKING_POLICY", value_enum)]
    pub blocking_policy: Option<crate::exec::BlockingPolicy>,

    /// A handler poll longer than this many milliseconds blocks the event loop [default: 20].
    #[arg(long, env = "BRISK_BLOCKING_THRESHOLD_MS")]
    pub blocking_threshold_ms: Option<u64>,

    /// Worker processes sharing the listening socket, under a supervisor
    /// (1: one process, no supervisor).
    #[arg(long, env = "BRISK_WORKERS", default_value_t = 1)]
    pub workers: usize,

    /// Seconds a worker's event loop may go without answering the
    /// supervisor's health check before it is killed and replaced.
    #[arg(long, env = "BRISK_TIMEOUT_WORKER_HEALTHCHECK", default_value_t = 5.0)]
    pub timeout_worker_healthcheck: f64,

    /// Requests handled at once per process; beyond it, 503 at once [default: unlimited].
    #[arg(long, env = "BRISK_LIMIT_CONCURRENCY")]
    pub limit_concurrency: Option<usize>,

    /// A worker retires gracefully (and is replaced) after this many requests [default: never].
    #[arg(long, env = "BRISK_LIMIT_MAX_REQUESTS")]
    pub limit_max_requests: Option<u64>,

    /// Up to this many extra requests, chosen at random per worker, so that
    /// workers do not all retire at once.
    #[arg(long, env = "BRISK_LIMIT_MAX_REQUESTS_JITTER", default_value_t = 0)]
    pub limit_max_requests_jitter: u64,

    /// Seconds an idle keep-alive connection stays open; also how long a new
    /// connection may stay silent, and how long an HTTP/1.1 connection may
    /// take to send a whole request head once it is served (after the TLS
    /// handshake) or has its last answer written (slow-loris protection).
    #[arg(long, env = "BRISK_TIMEOUT_KEEP_ALIVE", default_value_t = 5.0)]
    pub timeout_keep_alive: f64,

    /// Seconds a request body may pause between two chunks; then 408 and the
    /// connection is closed.
    #[arg(long, env = "BRISK_TIMEOUT_BODY_IDLE", default_value_t = 30.0)]
    pub timeout_body_idle: f64,

    /// Bytes per second a request body must average once --min-rate-grace has
    /// passed (0: no minimum); slower: 408 and the connection is closed.
    #[arg(long, env = "BRISK_MIN_BODY_RATE", default_value_t = 240)]
    pub min_body_rate: u64,

    /// Seconds before --min-body-rate applies to a body.
    #[arg(long, env = "BRISK_MIN_RATE_GRACE", default_value_t = 10.0)]
    pub min_rate_grace: f64,

    /// Seconds a response write may make no progress (the client stopped
    /// reading) before the connection is closed.
    #[arg(long, env = "BRISK_TIMEOUT_WRITE_IDLE", default_value_t = 30.0)]
    pub timeout_write_idle: f64,

    /// Default time limit in seconds for one request; past it, 504 and the
    /// async handler is cancelled. An operation's `timeout = "..."` wins [default: none].
    #[arg(long, env = "BRISK_TIMEOUT_REQUEST")]
    pub timeout_request: Option<f64>,

    /// Largest request head (request line and headers) in bytes, exactly;
    /// larger: 431.
    #[arg(long, env = "BRISK_LIMIT_MAX_HEADER_SIZE", default_value_t = 65536)]
    pub limit_max_header_size: usize,

    /// Most header lines in a request head; more: 431. Up to 100 (hyper's
    /// default, and axum's) costs nothing; above, hyper parses every request
    /// head into two heap scratch arrays of that many entries (8 KiB each at
    /// 256).
    #[arg(long, env = "BRISK_LIMIT_MAX_HEADERS", default_value_t = 100)]
    pub limit_max_headers: usize,

    /// The listen backlog: connections the kernel queues before they are accepted.
    #[arg(long, env = "BRISK_BACKLOG", default_value_t = 2048)]
    pub backlog: i32,

    /// Largest WebSocket message in bytes (reassembled from its frames);
    /// larger: the connection is closed with 1009.
    #[arg(long, alias = "ws-max-size", env = "BRISK_WS_MAX_MESSAGE_SIZE", default_value_t = 16 * 1024 * 1024)]
    pub ws_max_message_size: usize,

    /// Largest single WebSocket frame in bytes; larger: closed with 1009.
    #[arg(long, env = "BRISK_WS_MAX_FRAME_SIZE", default_value_t = 16 * 1024 * 1024)]
    pub ws_max_frame_size: usize,

    /// Seconds between the server's keep-alive pings on a WebSocket (0: none).
    #[arg(long, env = "BRISK_WS_PING_INTERVAL", default_value_t = 20.0)]
    pub ws_ping_interval: f64,

    /// Seconds a ping may go unanswered before the WebSocket is closed with 1011.
    #[arg(long, env = "BRISK_WS_PING_TIMEOUT", default_value_t = 20.0)]
    pub ws_ping_timeout: f64,

    /// WebSocket messages queued for a handler that has not read them yet;
    /// beyond it the server stops reading from that client (backpressure).
    #[arg(long, env = "BRISK_WS_MAX_QUEUE", default_value_t = 32)]
    pub ws_max_queue: usize,

    /// Largest multipart (upload) body in bytes; larger: 413 [default: 4 GiB].
    #[arg(long, env = "BRISK_LIMIT_UPLOAD_SIZE", default_value_t = 4 << 30)]
    pub limit_upload_size: u64,

    /// Largest single part of a multipart body in bytes; larger: 413 [default: the upload limit].
    #[arg(long, env = "BRISK_LIMIT_UPLOAD_PART_SIZE")]
    pub limit_upload_part_size: Option<u64>,

    /// Most file parts in a multipart body (Starlette's `max_files`); more: 400.
    #[arg(long, env = "BRISK_LIMIT_MAX_FILES", default_value_t = 1000)]
    pub limit_max_files: usize,

    /// Most non-file fields in a form (Starlette's `max_fields`); more: 400.
    #[arg(long, env = "BRISK_LIMIT_MAX_FIELDS", default_value_t = 1000)]
    pub limit_max_fields: usize,

    /// Do not log one line per request.
    #[arg(long, env = "BRISK_NO_ACCESS_LOG")]
    pub no_access_log: bool,

    /// How log lines are written: text, or json (one object per line).
    #[arg(long, env = "BRISK_LOG_FORMAT", value_enum, default_value_t = crate::logging::LogFormat::Text)]
    pub log_format: crate::logging::LogFormat,

    /// Serve HTTPS with this PEM certificate chain (uvicorn's flag).
    #[arg(long, env = "BRISK_SSL_CERTFILE")]
    pub ssl_certfile: Option<std::path::PathBuf>,

    /// The PEM private key (RSA, ECDSA or Ed25519) of --ssl-certfile
    /// [default: read from the certificate file].
    #[arg(long, env = "BRISK_SSL_KEYFILE")]
    pub ssl_keyfile: Option<std::path::PathBuf>,

    /// Seconds a TLS handshake may take.
    #[arg(long, env = "BRISK_SSL_HANDSHAKE_TIMEOUT", default_value_t = 10.0)]
    pub ssl_handshake_timeout: f64,

    /// Believe X-Forwarded-For / X-Forwarded-Proto (and RFC 7239 Forwarded)
    /// from the addresses in --forwarded-allow-ips (the default).
    #[arg(long, overrides_with = "no_proxy_headers")]
    pub proxy_headers: bool,

    /// Ignore every proxy header.
    #[arg(long, env = "BRISK_NO_PROXY_HEADERS", overrides_with = "proxy_headers")]
    pub no_proxy_headers: bool,

    /// Comma-separated addresses and networks (CIDR) whose proxy headers are
    /// believed; `*` trusts every peer.
    #[arg(long, env = "BRISK_FORWARDED_ALLOW_IPS", default_value = "127.0.0.1")]
    pub forwarded_allow_ips: String,

    /// The path prefix the app is served under behind a proxy (FastAPI's
    /// `root_path`): in the OpenAPI `servers`, in /docs, and stripped from
    /// request paths that still carry it.
    #[arg(long, env = "BRISK_ROOT_PATH", default_value = "")]
    pub root_path: String,

    /// Serve Prometheus metrics (at /metrics, or the app's `metrics_url`).
    #[arg(long, env = "BRISK_METRICS")]
    pub metrics: bool,
}

/// Seconds (as given on the command line) to a duration; negative or
/// non-finite values count as a millisecond.
pub(crate) fn seconds(value: f64) -> Duration {
    Duration::try_from_secs_f64(value.max(0.001)).unwrap_or(Duration::from_secs(86_400 * 365))
}

impl ServerConfig {
    /// The per-connection deadlines and limits.
    pub(crate) fn conn_settings(&self) -> ConnSettings {
        ConnSettings {
            head_timeout: seconds(self.timeout_keep_alive),
            body: BodyDeadlines {
                idle: seconds(self.timeout_body_idle),
                min_rate: self.min_body_rate,
                grace: seconds(self.min_rate_grace),
            },
            write_idle: seconds(self.timeout_write_idle),
            tls_handshake: seconds(self.ssl_handshake_timeout),
            max_header_size: self.limit_max_header_size,
            max_headers: self.limit_max_headers.max(1),
        }
    }

    /// The proxies whose forwarding headers are believed; `None` with
    /// `--no-proxy-headers`.
    pub(crate) fn trusted_proxies(&self) -> Option<super::proxy::TrustedProxies> {
        (!self.no_proxy_headers)
            .then(|| super::proxy::TrustedProxies::parse(&self.forwarded_allow_ips))
    }

    /// `--root-path` as a prefix: `""`, or `/api` (leading slash, none at
    /// the end).
    pub fn root_path(&self) -> String {
        let trimmed = self.root_path.trim().trim_end_matches('/');
        if trimmed.is_empty() || trimmed.starts_with('/') {
            trimmed.to_owned()
        } else {
            format!("/{trimmed}")
        }
    }

    /// The WebSocket limits and keep-alive pings.
    pub(crate) fn websocket_settings(&self) -> crate::params::WebSocketSettings {
        crate::params::WebSocketSettings {
            max_message_size: self.ws_max_message_size.max(1),
            max_frame_size: self.ws_max_frame_size.max(1),
            ping_interval: (self.ws_ping_interval > 0.0).then(|| seconds(self.ws_ping_interval)),
            ping_timeout: seconds(self.ws_ping_timeout),
            max_queue: self.ws_max_queue.max(1),
        }
    }

    /// The limits on form bodies and uploads.
    pub(crate) fn upload_limits(&self) -> crate::params::UploadLimits {
        let defaults = crate::params::UploadLimits::default();
        crate::params::UploadLimits {
            max_upload_size: self.limit_upload_size,
            max_part_size: self
                .limit_upload_part_size
                .unwrap_or(self.limit_upload_size),
            max_files: self.limit_max_files,
            max_fields: self.limit_max_fields,
            spool_threshold: defaults.spool_threshold,
        }
    }

    /// Reads the process's arguments and `BRISK_*` variables; prints help or
    /// an error and exits on bad input.
    pub fn from_args() -> Self {
        ServerConfig::parse()
    }

    /// Defaults with a free port on 127.0.0.1, no access log: for tests.
    ///
    /// ```
    /// let c = brisk::ServerConfig::for_tests();
    /// assert_eq!(c.port, 0);
    /// ```
    pub fn for_tests() -> Self {
        let mut c = ServerConfig::parse_from(["brisk"]);
        c.port = 0;
        c.no_access_log = true;
        c.log_level = "warn".into();
        c
    }
}
