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

/// Accepts until `shutdown` resolves. Runs inside the acceptor runtime.
pub(crate) async fn accept_loop(
    listener: TcpListener,
    dispatcher: Arc<Dispatcher>,
    shutdown: impl Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let dispatcher = Arc::clone(&dispatcher);
                    tokio::spawn(async move {
                        let _ = tokio::time::timeout(FIRST_BYTES_WAIT, stream.readable()).await;
                        match stream.into_std() {
                            Ok(std_stream) => dispatcher.dispatch(std_stream, peer),
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
