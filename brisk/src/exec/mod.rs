//! Where handlers run: the event loop for `async fn`, the bounded thread pool
//! for plain `fn` (FastAPI's `async def` vs `def`).
//!
//! The macro-generated code calls [`call_async`] or [`call_sync`] once the
//! parameters are extracted; both apply the operation's declared status.

pub mod threadpool;

use std::future::Future;

pub use threadpool::{ThreadPool, run_in_threadpool};

use crate::params::RequestContext;
use crate::response::{IntoResponse, Response, apply_default_status};

/// Runs an `async fn` handler's future on the event loop.
#[doc(hidden)]
pub async fn call_async<F, R>(cx: &RequestContext, fut: F) -> Response
where
    F: Future<Output = R>,
    R: IntoResponse,
{
    let mut resp = fut.await.into_response();
    apply_default_status(&mut resp, cx.operation().status);
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
