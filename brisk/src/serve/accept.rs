//! The listening socket and the accept loop, on a thread of its own.
//!
//! Accepting must not depend on an event-loop worker that user code can
//! block, and must never wait on a client. The loop runs on its own
//! single-threaded runtime; it registers each connection with the
//! [`Tracker`] and hands it to the [`Dispatcher`] once its first bytes are
//! there (so the lane that gets it can parse and route the request at once).
//!
//! * The socket is bound with `TCP_DEFER_ACCEPT` (1 s): the kernel completes
//!   a connection to `accept` only once the client has sent something (or a
//!   second or so has passed), so silent connections cost neither a file
//!   descriptor nor a wake-up while they stay silent.
//! * A connection without bytes yet waits in a task of its own, up to
//!   `--timeout-keep-alive`, and is closed if nothing comes; the loop goes
//!   straight back to `accept`.
//! * Near the file-descriptor limit (or when `accept` fails for want of
//!   one), the connections idle the longest are shed to make room; clients
//!   with a request in progress are never cut.

use std::future::Future;
use std::mem::MaybeUninit;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};

use super::ServerConfig;
use super::lanes::Dispatcher;
use super::tracker::{ConnHandle, Tracker};
use crate::logging::RateLimited;

/// Seconds the kernel holds a silent connection before `accept` sees it.
const DEFER_ACCEPT_SECS: libc::c_int = 1;

/// Connections shed at once when the process runs out of descriptors.
const SHED_BATCH: usize = 16;

static ACCEPT_ERRORS: RateLimited = RateLimited::new(Duration::from_secs(10));
static SHEDDING: RateLimited = RateLimited::new(Duration::from_secs(10));

/// Binds the listening socket with `--backlog` and `TCP_DEFER_ACCEPT`
/// (shared by all worker processes).
pub(crate) fn bind(config: &ServerConfig) -> std::io::Result<std::net::TcpListener> {
    use socket2::{Domain, Socket, Type};
    let addr: SocketAddr = format!("{}:{}", config.host, config.port)
        .parse()
        .or_else(|_| {
            std::net::ToSocketAddrs::to_socket_addrs(&(config.host.as_str(), config.port))?
                .next()
                .ok_or_else(|| std::io::Error::other("host did not resolve"))
        })?;
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
    socket.set_reuse_address(true)?;
    set_defer_accept(&socket);
    socket.bind(&addr.into())?;
    socket.listen(config.backlog)?;
    Ok(socket.into())
}

fn set_defer_accept(socket: &socket2::Socket) {
    use std::os::fd::AsRawFd;
    let secs: libc::c_int = DEFER_ACCEPT_SECS;
    // SAFETY: setsockopt on a socket we own, with an int option value.
    let rc = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_DEFER_ACCEPT,
            (&secs as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc != 0 {
        tracing::debug!(error = %std::io::Error::last_os_error(), "TCP_DEFER_ACCEPT not available");
    }
}

/// What the accept loop needs besides the listener.
pub(crate) struct Acceptor {
    pub(crate) dispatcher: Arc<Dispatcher>,
    pub(crate) tracker: Arc<Tracker>,
    /// How long a connection may stay silent.
    pub(crate) head_timeout: Duration,
    /// One of several worker processes sharing the socket.
    pub(crate) shared: bool,
}

impl Acceptor {
    /// Accepts until `shutdown` resolves, then drops the listener (new
    /// connections are refused from then on). Runs inside the acceptor runtime.
    ///
    /// As one of several worker processes sharing the socket, it takes a
    /// connection only when its main event loop can start on it: while every
    /// event-loop thread is running user code, connections stay in the
    /// kernel's queue for a worker that is free (the balance uvicorn's
    /// workers get by being single-threaded).
    pub(crate) async fn run(self, listener: TcpListener, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        loop {
            if self.shared {
                // Busy: leave the next connection to another worker.
                while self.dispatcher.main_loop_occupied() {
                    tokio::select! {
                        () = tokio::time::sleep(Duration::from_millis(1)) => {}
                        () = &mut shutdown => return,
                    }
                }
            }
            if self.tracker.at_capacity() {
                self.shed(SHED_BATCH);
            }
            tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok((stream, peer)) => self.accepted(stream, peer),
                    Err(e) => self.accept_failed(e).await,
                },
                () = &mut shutdown => return,
            }
        }
    }

    fn shed(&self, n: usize) -> usize {
        let shed = self.tracker.shed_oldest_idle(n);
        if shed > 0
            && let Some(times) = SHEDDING.hit()
        {
            tracing::warn!(
                open = self.tracker.open(),
                times,
                "near the file-descriptor limit: closed the connections idle the longest to accept new ones"
            );
        }
        shed
    }

    async fn accept_failed(&self, e: std::io::Error) {
        let out_of_fds = matches!(e.raw_os_error(), Some(libc::EMFILE | libc::ENFILE));
        if out_of_fds && self.shed(SHED_BATCH) > 0 {
            // The shed connections close on their own tasks; try again shortly.
            tokio::time::sleep(Duration::from_millis(1)).await;
            return;
        }
        if let Some(times) = ACCEPT_ERRORS.hit() {
            tracing::warn!(error = %e, times, "accept failed");
        }
        // Nothing to shed: back off instead of spinning.
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    fn accepted(&self, stream: TcpStream, peer: SocketAddr) {
        let conn = self.tracker.register();
        match peek_now(&stream) {
            Some(true) => self.dispatch(stream, peer, conn),
            Some(false) => {} // closed already
            None => {
                // Nothing yet: wait in a task of its own, never in the loop.
                let dispatcher = Arc::clone(&self.dispatcher);
                let timeout = self.head_timeout;
                tokio::spawn(async move {
                    let mut byte = [0u8; 1];
                    tokio::select! {
                        sent = tokio::time::timeout(timeout, stream.peek(&mut byte)) => {
                            if matches!(sent, Ok(Ok(n)) if n > 0)
                                && let Ok(std_stream) = stream.into_std()
                            {
                                let _ = dispatcher.dispatch(std_stream, peer, conn);
                            }
                        }
                        () = conn.state().shed() => {}
                    }
                });
            }
        }
    }

    fn dispatch(&self, stream: TcpStream, peer: SocketAddr, conn: ConnHandle) {
        let Ok(std_stream) = stream.into_std() else {
            return;
        };
        let pending = self.dispatcher.dispatch(std_stream, peer, conn);
        if self.shared {
            // Let the main event loop start on this connection's request
            // before taking the next, so that `main_loop_occupied` sees a
            // handler that blocks it (the handler's first poll follows the
            // request reaching the app in the same task poll). This waits on
            // our own event loop, not on the client; meanwhile the other
            // workers accept. At most a quarter second, for a loop that is
            // slow to get to it.
            let deadline = std::time::Instant::now() + Duration::from_millis(250);
            while (pending.is_waiting() || !pending.state.has_started())
                && std::time::Instant::now() < deadline
            {
                std::thread::sleep(Duration::from_micros(50));
            }
            std::thread::sleep(Duration::from_micros(100));
        }
    }
}

/// Whether the client has sent something (`Some(true)`), closed
/// (`Some(false)`), or neither yet (`None`), without waiting. A raw
/// `MSG_PEEK`: tokio only learns readiness on its reactor's next turn.
fn peek_now(stream: &TcpStream) -> Option<bool> {
    let mut byte = [MaybeUninit::<u8>::uninit(); 1];
    match socket2::SockRef::from(stream).peek(&mut byte) {
        Ok(0) => Some(false),
        Ok(_) => Some(true),
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => None,
        Err(_) => Some(false),
    }
}
