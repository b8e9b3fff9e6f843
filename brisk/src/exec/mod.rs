//! Where handlers run: the event loop for `async fn`, the bounded thread pool
//! for plain `fn` (FastAPI's `async def` vs `def`).
//!
//! The macro-generated code calls [`call_async`] or [`call_sync`] once the
//! parameters are extracted; both apply the operation's declared status.

pub mod threadpool;
pub mod watchdog;

use std::future::Future;

pub use threadpool::{ThreadPool, run_in_threadpool};
pub use watchdog::{BlockingPolicy, Metrics, MetricsSnapshot, RouteReport, Watchdog};

use crate::params::RequestContext;
use crate::response::{IntoResponse, Response, apply_default_status};

/// Runs an `async fn` handler's future: on the event loop, watched by the
/// blocking watchdog; or, once the watchdog has contained its route, on the
/// thread pool (the future is driven there with `Handle::block_on`, so its
/// timers and I/O still work).
#[doc(hidden)]
pub async fn call_async<F, R>(cx: &RequestContext, fut: F) -> Response
where
    F: Future<Output = R> + Send + 'static,
    R: IntoResponse,
{
    let op = cx.operation();
    let watchdog = &cx.app.watchdog;
    let mut resp = if watchdog.policy() == BlockingPolicy::Off || watchdog::on_pool_thread() {
        fut.await.into_response()
    } else if watchdog.is_contained(op.id) {
        let handle = tokio::runtime::Handle::current();
        let fut = async move { fut.await.into_response() };
        cx.app.pool.run(move || handle.block_on(fut)).await
    } else {
        watchdog::Watched::new(fut, op.id).await.into_response()
    };
    apply_default_status(&mut resp, op.status);
    resp
}

/// Runs a plain `fn` handler on the app's bounded thread pool; the response
/// is built (serialised) there too, off the event loop.
#[doc(hidden)]
pub async fn call_sync<F, R>(cx: &RequestContext, f: F) -> Response
where
    F: FnOnce() -> R + Send + 'static,
    R: IntoResponse,
{
    let mut resp = cx.app.pool.run(move || f().into_response()).await;
    apply_default_status(&mut resp, cx.operation().status);
    resp
}
