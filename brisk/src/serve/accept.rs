//! The accept loop, on a thread of its own.
//!
//! Accepting must not depend on an event-loop worker that user code can
//! block. This loop runs on its own single-threaded runtime; it waits until a
//! new connection has sent its first bytes (so the lane that gets it can
//! parse and route the request at once) and hands it to the
//! [`Dispatcher`](super::lanes::Dispatcher).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;

use super::lanes::Dispatcher;

/// How long to wait for a new connection's first bytes before handing it to
/// an event loop anyway.
const FIRST_BYTES_WAIT: Duration = Duration::from_secs(5);

/// Resolves once the client has sent something (or closed). `peek` rather
/// than `readable()`: readiness can be reported before any byte is there
/// (seen here: a connection handed over empty then waited on a blocked
/// event loop's reactor).
async fn first_bytes(stream: &tokio::net::TcpStream) {
    let _ = stream.peek(&mut [0u8; 1]).await;
}

/// Accepts until `shutdown` resolves. Runs inside the acceptor runtime.
///
/// As one of several worker processes sharing the socket (`shared = true`),
/// it takes a connection only when its main event loop can start on it:
/// while every event-loop thread is running user code, connections stay in
/// the kernel's queue for a worker that is free (the balance uvicorn's
/// workers get by being single-threaded), and each accepted connection is
/// picked up before the next is taken.
pub(crate) async fn accept_loop(
    listener: TcpListener,
    dispatcher: Arc<Dispatcher>,
    shutdown: impl Future<Output = ()>,
    shared: bool,
) {
    tokio::pin!(shutdown);
    if shared {
        return shared_accept_loop(listener, dispatcher, shutdown).await;
    }
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let dispatcher = Arc::clone(&dispatcher);
                    tokio::spawn(async move {
                        let _ = tokio::time::timeout(FIRST_BYTES_WAIT, first_bytes(&stream)).await;
                        match stream.into_std() {
                            Ok(std_stream) => {
                                let _ = dispatcher.dispatch(std_stream, peer);
                            }
                            Err(e) => tracing::debug!(%peer, error = %e, "could not hand off connection"),
                        }
                    });
                }
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            () = &mut shutdown => break,
        }
    }
}

/// How long a worker waits for a new connection's first bytes before
/// handing it on, when sharing the socket (it accepts one at a time).
const SHARED_FIRST_BYTES_WAIT: Duration = Duration::from_millis(5);

/// The longest a worker keeps the next connection waiting for its own event
/// loop to start on the previous one.
const PICKUP_WAIT: Duration = Duration::from_millis(20);

async fn shared_accept_loop(
    listener: TcpListener,
    dispatcher: Arc<Dispatcher>,
    mut shutdown: std::pin::Pin<&mut impl Future<Output = ()>>,
) {
    loop {
        // Busy: leave the next connection to another worker.
        while dispatcher.main_loop_occupied() {
            tokio::select! {
                () = tokio::time::sleep(Duration::from_millis(1)) => {}
                () = &mut shutdown => return,
            }
        }
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => return,
        };
        let _ = tokio::time::timeout(SHARED_FIRST_BYTES_WAIT, first_bytes(&stream)).await;
        let conn = match stream.into_std() {
            Ok(std_stream) => dispatcher.dispatch(std_stream, peer),
            Err(e) => {
                tracing::debug!(%peer, error = %e, "could not hand off connection");
                continue;
            }
        };
        let deadline = tokio::time::Instant::now() + PICKUP_WAIT;
        while conn.is_waiting() && tokio::time::Instant::now() < deadline {
            // The acceptor thread runs nothing else that matters meanwhile.
            std::thread::sleep(Duration::from_micros(100));
        }
        // Give the event loop a moment to enter the handler before checking
        // whether it is occupied.
        std::thread::sleep(Duration::from_micros(200));
    }
}
