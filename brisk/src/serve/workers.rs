//! Multi-process workers: `--workers N`, a supervisor, and the worker side
//! of its health check.
//!
//! The supervisor binds the listening socket once and starts N copies of
//! the current program (re-executed, never `fork`ed from a threaded
//! process). Each worker inherits the socket's file descriptor and accepts
//! on it: a *shared* socket rather than one `SO_REUSEPORT` socket per worker,
//! because with a shared accept queue the connections waiting in it survive
//! a worker's death or retirement (with `SO_REUSEPORT` the kernel resets the
//! ones queued on the dead worker's socket), which is what lets `kill -9`,
//! `--limit-max-requests` and SIGHUP restarts happen without failed requests.
//!
//! Supervision: each worker gets one end of a socket pair. The worker's
//! *main event loop* answers the supervisor's pings (so a worker whose loop is
//! completely blocked counts as hung, unlike uvicorn whose check is answered
//! by a separate thread), and reports when it is ready. A worker that exits
//! or stops answering for `--timeout-worker-healthcheck` is killed and
//! replaced; one that dies before it is ready stops the supervisor with a
//! clear message instead of a restart loop.
//!
//! Signals to the supervisor: SIGTERM/SIGINT stop everything gracefully;
//! SIGHUP replaces the workers one at a time (a new one is ready before an
//! old one drains); SIGTTIN / SIGTTOU add / remove a worker.

use std::collections::{HashMap, VecDeque};
use std::os::fd::{AsRawFd, FromRawFd, RawFd};
use std::os::unix::net::UnixStream as StdUnixStream;
use std::os::unix::process::CommandExt;
use std::process::ExitStatus;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::mpsc;

use super::ServerConfig;

/// Environment variable carrying the inherited listening socket's fd.
pub(crate) const ENV_LISTEN_FD: &str = "BRISK_WORKER_LISTEN_FD";
/// Environment variable carrying the health-check socket's fd.
pub(crate) const ENV_HEALTH_FD: &str = "BRISK_WORKER_HEALTH_FD";
/// Environment variable carrying the worker's number (for logs).
pub(crate) const ENV_WORKER_ID: &str = "BRISK_WORKER_ID";

/// Health-check protocol bytes.
const PING: u8 = b'?';
const PONG: u8 = b'!';
const READY: u8 = b'R';

/// How long a new worker may take to become ready.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(60);

/// Whether this process is a worker started by a supervisor.
pub(crate) fn is_worker() -> bool {
    std::env::var_os(ENV_LISTEN_FD).is_some()
}

/// The listening socket inherited from the supervisor.
pub(crate) fn inherited_listener() -> std::io::Result<std::net::TcpListener> {
    let fd: RawFd = std::env::var(ENV_LISTEN_FD)
        .ok()
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| {
            std::io::Error::other(format!("{ENV_LISTEN_FD} is not a file descriptor"))
        })?;
    // SAFETY: the supervisor passed this fd, open and not owned by anything
    // else in this process, for exactly this purpose.
    Ok(unsafe { std::net::TcpListener::from_raw_fd(fd) })
}

/// The worker's end of the health-check socket, if it has one.
pub(crate) fn health_socket() -> Option<StdUnixStream> {
    let fd: RawFd = std::env::var(ENV_HEALTH_FD).ok()?.parse().ok()?;
    // SAFETY: as for the listener: passed by the supervisor for this use only.
    let stream = unsafe { StdUnixStream::from_raw_fd(fd) };
    stream.set_nonblocking(true).ok()?;
    Some(stream)
}

/// Worker side: tells the supervisor this worker is ready. Called before
/// the first connection is accepted, so a request that blocks the event loop
/// right away cannot delay it.
pub(crate) fn report_ready(stream: &StdUnixStream) {
    use std::io::Write;
    // The socket is non-blocking; one byte into an empty socket buffer
    // cannot fail with WouldBlock.
    if let Err(e) = (&*stream).write_all(&[READY]) {
        tracing::error!(error = %e, "could not report readiness to the supervisor");
    }
}

/// Worker side: answers every ping. Runs on the main event loop on purpose:
/// if that loop is blocked, pings go unanswered.
pub(crate) async fn answer_health_checks(stream: StdUnixStream) {
    let Ok(mut stream) = UnixStream::from_std(stream) else {
        return;
    };
    let mut buf = [0u8; 64];
    loop {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return, // supervisor gone
            Ok(n) => {
                let pongs = buf[..n].iter().filter(|b| **b == PING).count();
                if stream.write_all(&vec![PONG; pongs]).await.is_err() {
                    return;
                }
            }
        }
    }
}

/// Clears close-on-exec so a child process inherits `fd`.
fn inheritable(fd: RawFd) -> std::io::Result<()> {
    // SAFETY: fcntl on an fd we own, with valid flags.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFD) };
    if flags < 0 || unsafe { libc::fcntl(fd, libc::F_SETFD, flags & !libc::FD_CLOEXEC) } < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

fn send_signal(pid: u32, sig: libc::c_int) {
    // SAFETY: kill(2) with a child's pid; an already-gone pid only yields ESRCH.
    unsafe {
        libc::kill(pid as libc::pid_t, sig);
    }
}

enum Event {
    Ready {
        id: usize,
    },
    Exited {
        id: usize,
        pid: u32,
        status: std::io::Result<ExitStatus>,
        was_ready: bool,
    },
}

enum Command {
    Terminate,
}

struct Handle {
    pid: u32,
    tx: mpsc::UnboundedSender<Command>,
}

/// Runs the supervisor until SIGTERM/SIGINT; returns the exit code.
pub(crate) fn supervise(config: ServerConfig) -> i32 {
    let listener = match super::accept::bind(&config) {
        Ok(l) => l,
        Err(e) => {
            tracing::error!(host = %config.host, port = config.port, error = %e, "could not bind");
            return 1;
        }
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("supervisor runtime");
    // Where the workers' metrics meet (see `crate::prometheus`); removed
    // when the supervisor stops.
    let metrics_dir = tempfile::Builder::new()
        .prefix("brisk-metrics-")
        .tempdir()
        .map_err(|e| tracing::warn!(error = %e, "no directory for the workers' metrics; each scrape sees one worker"))
        .ok();
    let mut supervisor = Supervisor::new(config, listener);
    supervisor.metrics_dir = metrics_dir.as_ref().map(|d| d.path().to_owned());
    runtime.block_on(supervisor.run())
}

struct Supervisor {
    config: ServerConfig,
    /// Closed (`None`) when stopping, so that once the workers close their
    /// copies too, new connections are refused instead of queued.
    listener: Option<std::net::TcpListener>,
    workers: HashMap<usize, Handle>,
    next_id: usize,
    target: usize,
    events_tx: mpsc::UnboundedSender<Event>,
    events: mpsc::UnboundedReceiver<Event>,
    /// SIGHUP: workers still to replace, and the replacement being started.
    rolling: VecDeque<usize>,
    rolling_pending: Option<(usize, usize)>,
    stopping: bool,
    metrics_dir: Option<std::path::PathBuf>,
}

impl Supervisor {
    fn new(config: ServerConfig, listener: std::net::TcpListener) -> Self {
        let (events_tx, events) = mpsc::unbounded_channel();
        let target = config.workers.max(1);
        Supervisor {
            config,
            listener: Some(listener),
            workers: HashMap::new(),
            next_id: 0,
            target,
            events_tx,
            events,
            rolling: VecDeque::new(),
            rolling_pending: None,
            stopping: false,
            metrics_dir: None,
        }
    }

    fn spawn(&mut self) -> std::io::Result<usize> {
        let id = self.next_id;
        self.next_id += 1;
        let listener_fd = match &self.listener {
            Some(l) => l.as_raw_fd(),
            None => return Err(std::io::Error::other("the listener is closed")),
        };
        let (ours, theirs) = StdUnixStream::pair()?;
        inheritable(theirs.as_raw_fd())?;
        inheritable(listener_fd)?;
        let exe = std::env::current_exe()?;
        let mut cmd = tokio::process::Command::new(exe);
        cmd.args(std::env::args_os().skip(1))
            .env(ENV_LISTEN_FD, listener_fd.to_string())
            .env(ENV_HEALTH_FD, theirs.as_raw_fd().to_string())
            .env(ENV_WORKER_ID, id.to_string())
            .kill_on_drop(false);
        if let Some(dir) = &self.metrics_dir {
            cmd.env(crate::prometheus::ENV_METRICS_DIR, dir);
        }
        // A worker gets SIGTERM if the supervisor dies (even by SIGKILL),
        // drains, and exits, instead of living on unsupervised. If the
        // supervisor died before prctl took effect, the worker is already
        // orphaned: its parent pid changed, so it does not start at all.
        let supervisor = std::process::id() as libc::pid_t;
        // SAFETY: prctl and getppid only, both async-signal-safe.
        unsafe {
            cmd.as_std_mut().pre_exec(move || {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
                if libc::getppid() != supervisor {
                    return Err(std::io::Error::other("the supervisor is gone"));
                }
                Ok(())
            });
        }
        let child = cmd.spawn()?;
        drop(theirs);
        let pid = child.id().unwrap_or(0);
        ours.set_nonblocking(true)?;
        let (tx, rx) = mpsc::unbounded_channel();
        let timeout = Duration::from_secs_f64(self.config.timeout_worker_healthcheck.max(0.1));
        tokio::spawn(watch_worker(
            id,
            pid,
            child,
            UnixStream::from_std(ours)?,
            rx,
            self.events_tx.clone(),
            timeout,
        ));
        tracing::info!(worker = id, pid, "started worker");
        self.workers.insert(id, Handle { pid, tx });
        Ok(id)
    }

    fn terminate(&self, id: usize) {
        if let Some(w) = self.workers.get(&id) {
            let _ = w.tx.send(Command::Terminate);
        }
    }

    async fn run(mut self) -> i32 {
        let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
        let mut int = signal(SignalKind::interrupt()).expect("SIGINT handler");
        let mut hup = signal(SignalKind::hangup()).expect("SIGHUP handler");
        let mut ttin = signal(SignalKind::from_raw(libc::SIGTTIN)).expect("SIGTTIN handler");
        let mut ttou = signal(SignalKind::from_raw(libc::SIGTTOU)).expect("SIGTTOU handler");
        tracing::info!(
            pid = std::process::id(),
            workers = self.target,
            "brisk supervisor serving on {}://{} with {} workers",
            if self.config.ssl_certfile.is_some() {
                "https"
            } else {
                "http"
            },
            self.listener
                .as_ref()
                .and_then(|l| l.local_addr().ok())
                .map(|a| a.to_string())
                .unwrap_or_default(),
            self.target
        );
        for _ in 0..self.target {
            if let Err(e) = self.spawn() {
                tracing::error!(error = %e, "could not start a worker");
                return 1;
            }
        }
        loop {
            tokio::select! {
                _ = term.recv() => { tracing::info!("SIGTERM received, stopping workers"); break; }
                _ = int.recv() => { tracing::info!("SIGINT received, stopping workers"); break; }
                _ = hup.recv() => {
                    // New workers load the certificate again; a broken one
                    // must not replace working workers with failing ones.
                    if let Err(e) = super::tls::Tls::from_config(&self.config) {
                        tracing::error!(error = %e, "SIGHUP received, but the TLS files do not load; keeping the running workers");
                        continue;
                    }
                    tracing::info!("SIGHUP received, replacing workers one at a time");
                    self.rolling = self.workers.keys().copied().collect();
                    self.next_rolling();
                }
                _ = ttin.recv() => {
                    self.target += 1;
                    tracing::info!(workers = self.target, "SIGTTIN received, adding a worker");
                    let _ = self.spawn();
                }
                _ = ttou.recv() => {
                    if self.target > 1 {
                        self.target -= 1;
                        tracing::info!(workers = self.target, "SIGTTOU received, removing a worker");
                        if let Some(id) = self.workers.keys().copied().max() {
                            self.terminate(id);
                        }
                    }
                }
                Some(event) = self.events.recv() => {
                    if let Some(code) = self.on_event(event) {
                        return code;
                    }
                }
            }
        }
        self.stop().await
    }

    /// Starts replacing the next worker of a rolling restart.
    fn next_rolling(&mut self) {
        while let Some(old) = self.rolling.pop_front() {
            if self.workers.contains_key(&old) {
                match self.spawn() {
                    Ok(new) => self.rolling_pending = Some((old, new)),
                    Err(e) => tracing::error!(error = %e, "could not start a replacement worker"),
                }
                return;
            }
        }
    }

    fn on_event(&mut self, event: Event) -> Option<i32> {
        match event {
            Event::Ready { id } => {
                if let Some(w) = self.workers.get(&id) {
                    tracing::info!(worker = id, pid = w.pid, "worker ready");
                }
                if let Some((old, new)) = self.rolling_pending
                    && new == id
                {
                    self.terminate(old);
                }
                None
            }
            Event::Exited {
                id,
                pid,
                status,
                was_ready,
            } => {
                self.workers.remove(&id);
                let status = status
                    .map(|s| s.to_string())
                    .unwrap_or_else(|e| e.to_string());
                if self.stopping {
                    tracing::info!(worker = id, pid, %status, "worker stopped");
                    return None;
                }
                if !was_ready {
                    tracing::error!(
                        worker = id,
                        pid,
                        %status,
                        "worker failed during startup; stopping instead of restarting it in a loop \
                         (run without --workers to see the error directly)"
                    );
                    for w in self.workers.values() {
                        send_signal(w.pid, libc::SIGTERM);
                    }
                    return Some(1);
                }
                let replaced_by_rolling =
                    matches!(self.rolling_pending, Some((old, _)) if old == id);
                if replaced_by_rolling {
                    tracing::info!(worker = id, pid, %status, "old worker drained and exited");
                    self.rolling_pending = None;
                    self.next_rolling();
                } else if self.workers.len() < self.target {
                    tracing::warn!(worker = id, pid, %status, "worker exited; starting a replacement");
                    if let Err(e) = self.spawn() {
                        tracing::error!(error = %e, "could not start a replacement worker");
                    }
                } else {
                    tracing::info!(worker = id, pid, %status, "worker exited");
                }
                None
            }
        }
    }

    /// SIGTERM to every worker; waits for them to drain (up to the graceful
    /// timeout plus a margin), then SIGKILL to stragglers.
    async fn stop(mut self) -> i32 {
        self.stopping = true;
        // Stop listening first: the workers close their copies as they start
        // draining, and then the kernel refuses new connections.
        self.listener = None;
        for id in self.workers.keys().copied().collect::<Vec<_>>() {
            self.terminate(id);
        }
        let deadline =
            Instant::now() + Duration::from_secs(self.config.timeout_graceful_shutdown + 5);
        while !self.workers.is_empty() {
            let left = deadline.saturating_duration_since(Instant::now());
            match tokio::time::timeout(left, self.events.recv()).await {
                Ok(Some(Event::Exited { id, .. })) => {
                    self.workers.remove(&id);
                }
                Ok(Some(_)) => {}
                Ok(None) | Err(_) => break,
            }
        }
        for w in self.workers.values() {
            tracing::warn!(pid = w.pid, "worker did not stop in time; killing it");
            send_signal(w.pid, libc::SIGKILL);
        }
        tracing::info!("supervisor stopped");
        0
    }
}

/// Watches one worker: its exit, its readiness, and its health checks.
async fn watch_worker(
    id: usize,
    pid: u32,
    mut child: tokio::process::Child,
    mut health: UnixStream,
    mut commands: mpsc::UnboundedReceiver<Command>,
    events: mpsc::UnboundedSender<Event>,
    timeout: Duration,
) {
    let started = Instant::now();
    let mut ready = false;
    // When the oldest ping still unanswered was sent. Silence is counted
    // from the pings actually sent, not from the last answer: if the
    // supervisor itself was held up (its loop is a single thread, and
    // starting a worker blocks it until the new process has exec'd, which
    // took seconds on a loaded machine), its workers sent nothing because
    // they were asked nothing, and must not be killed for it.
    let mut unanswered_since: Option<Instant> = None;
    let mut killed = false;
    let mut tick = tokio::time::interval(
        (timeout / 4).clamp(Duration::from_millis(50), Duration::from_secs(1)),
    );
    let mut buf = [0u8; 64];
    let mut health_open = true;
    loop {
        tokio::select! {
            // Answers already waiting are read before the tick judges silence.
            biased;
            status = child.wait() => {
                let _ = events.send(Event::Exited { id, pid, status, was_ready: ready });
                return;
            }
            read = health.read(&mut buf), if health_open => match read {
                Ok(0) | Err(_) => health_open = false,
                Ok(n) => {
                    unanswered_since = None;
                    if !ready && buf[..n].contains(&READY) {
                        ready = true;
                        let _ = events.send(Event::Ready { id });
                    }
                }
            },
            _ = tick.tick() => {
                if killed {
                    continue;
                }
                if !ready {
                    if started.elapsed() > STARTUP_TIMEOUT {
                        tracing::error!(worker = id, pid, "worker did not become ready in time; killing it");
                        send_signal(pid, libc::SIGKILL);
                        killed = true;
                    }
                    continue;
                }
                if let Some(since) = unanswered_since
                    && since.elapsed() > timeout
                {
                    tracing::error!(
                        worker = id,
                        pid,
                        silent_for_ms = since.elapsed().as_millis() as u64,
                        "worker's event loop stopped answering health checks; killing and replacing it"
                    );
                    send_signal(pid, libc::SIGKILL);
                    killed = true;
                    continue;
                }
                let _ = health.write_all(&[PING]).await;
                unanswered_since.get_or_insert_with(Instant::now);
            }
            Some(cmd) = commands.recv() => match cmd {
                Command::Terminate => send_signal(pid, libc::SIGTERM),
            },
        }
    }
}
