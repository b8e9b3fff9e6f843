//! Where user code runs: the event loop for `async fn`, the bounded thread
//! pool for plain `fn` (FastAPI's `async def` vs `def`), the blocking
//! watchdog that contains `async fn` code blocking the loop, and what a
//! request leaves to run after its handler or its response ([`scope`]).
//!
//! The request context starts user code through here
//! ([`RequestContext::run_async`](crate::params::RequestContext::run_async),
//! [`run_sync`](crate::params::RequestContext::run_sync)).

pub mod scope;
pub mod threadpool;
pub mod watchdog;

pub use threadpool::{ThreadPool, run_in_threadpool};
pub use watchdog::{BlockingPolicy, MetricsSnapshot, RouteReport, Watchdog};

use std::future::Future;
use std::sync::Arc;

/// Runs user async code under watch `id` of `watchdog`: on the event loop,
/// its polls timed; or, once the watchdog has contained `id`, on the thread
/// pool (driven by `Handle::block_on`, so its timers and I/O still work).
/// Code already on a pool thread just runs.
pub(crate) async fn run_watched<F>(
    watchdog: &Watchdog,
    pool: &Arc<ThreadPool>,
    id: usize,
    fut: F,
) -> F::Output
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    // Even with the policy off, polls still mark their worker as busy (two
    // atomic stores): a worker process uses that to stop accepting while its
    // event loop is occupied. Only detection and containment are off.
    if watchdog::on_pool_thread() {
        fut.await
    } else if watchdog.is_contained(id) {
        let handle = tokio::runtime::Handle::current();
        pool.run(move || handle.block_on(fut)).await
    } else {
        watchdog::Watched::new(fut, id).await
    }
}
