//! Server settings from the command line and `BRISK_*` variables.

use clap::Parser;

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

    /// Do not log one line per request.
    #[arg(long, env = "BRISK_NO_ACCESS_LOG")]
    pub no_access_log: bool,
}

impl ServerConfig {
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
