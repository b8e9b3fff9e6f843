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

/// Runs user async code (a handler's or a dependency's future): on the event
/// loop, watched by the blocking watchdog; or, once the watchdog has
/// contained the route, on the thread pool (driven there by
/// `Handle::block_on`, so its timers and I/O still work).
#[doc(hidden)]
pub async fn run_async<F>(cx: &RequestContext, fut: F) -> F::Output
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let op = cx.operation();
    let watchdog = &cx.app.watchdog;
    // Even with the policy off, polls still mark their worker as busy (two
    // atomic stores): a worker process uses that to stop accepting while its
    // event loop is occupied. Only detection and containment are off.
    if watchdog::on_pool_thread() {
        fut.await
    } else if watchdog.is_contained(op.id) {
        let handle = tokio::runtime::Handle::current();
        cx.app.pool.run(move || handle.block_on(fut)).await
    } else {
        watchdog::Watched::new(fut, op.id).await
    }
}

/// Runs user blocking code (a plain `fn` handler or dependency) on the app's
/// bounded thread pool.
#[doc(hidden)]
pub async fn run_sync<F, R>(cx: &RequestContext, f: F) -> R
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    cx.app.pool.run(f).await
}

/// Runs an `async fn` handler and builds its response.
#[doc(hidden)]
pub async fn call_async<F, R>(cx: &mut RequestContext, fut: F) -> Response
where
    F: Future<Output = R> + Send + 'static,
    R: IntoResponse,
{
    let resp = run_async(cx, async move { fut.await.into_response() }).await;
    finish(cx, resp).await
}

/// Runs a plain `fn` handler on the thread pool; the response is built
/// (serialised) there too, off the event loop.
#[doc(hidden)]
pub async fn call_sync<F, R>(cx: &mut RequestContext, f: F) -> Response
where
    F: FnOnce() -> R + Send + 'static,
    R: IntoResponse,
{
    let resp = run_sync(cx, move || f().into_response()).await;
    finish(cx, resp).await
}

/// Applies the declared status and runs `scope="function"` teardown.
async fn finish(cx: &mut RequestContext, mut resp: Response) -> Response {
    apply_default_status(&mut resp, cx.operation().status);
    cx.scope()
        .run_function_cleanups(&crate::depends::Outcome::Response(resp.status()))
        .await;
    resp
}
