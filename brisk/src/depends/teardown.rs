//! Teardown: code a dependency leaves to run after the request, FastAPI's
//! "dependencies with yield".

use std::future::Future;

use http::StatusCode;

use super::BoxFuture;

/// When a dependency's cleanup runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Scope {
    /// After the response has been sent (FastAPI ≥ 0.118's default).
    #[default]
    Request,
    /// Right after the handler returns, before the response goes out
    /// (FastAPI's `scope="function"`).
    Function,
}

/// How the request went, as the cleanup sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The handler produced a response with this status (an error status
    /// when the handler returned an error).
    Response(StatusCode),
    /// The handler panicked (the client got a 500); the panic message.
    Panicked(String),
}

impl Outcome {
    /// True for a panic or an error status (4xx, 5xx).
    pub fn is_error(&self) -> bool {
        match self {
            Outcome::Response(s) => s.is_client_error() || s.is_server_error(),
            Outcome::Panicked(_) => true,
        }
    }
}

pub(crate) enum Cleanup {
    Async(Box<dyn FnOnce(Outcome) -> BoxFuture<'static, ()> + Send>),
    Blocking(Box<dyn FnOnce(Outcome) + Send>),
}

impl Cleanup {
    /// Runs the cleanup. A blocking one runs on a thread of its own, outside
    /// the bounded pool, so teardown never waits for a full pool (the
    /// deadlock of fastapi#3205 cannot happen). A panicking cleanup is logged.
    pub(crate) async fn run(self, outcome: Outcome) {
        let result = match self {
            Cleanup::Async(f) => {
                futures_util::FutureExt::catch_unwind(std::panic::AssertUnwindSafe(f(outcome)))
                    .await
                    .map_err(|_| ())
            }
            Cleanup::Blocking(f) => tokio::task::spawn_blocking(move || f(outcome))
                .await
                .map_err(|_| ()),
        };
        if result.is_err() {
            tracing::error!("a dependency's teardown panicked");
        }
    }
}

/// A dependency's output plus cleanup code (FastAPI's `yield`).
///
/// ```
/// use brisk::prelude::*;
/// use brisk::depends::{Outcome, Teardown};
///
/// #[derive(Clone)]
/// struct Db { id: u32 }
///
/// #[dependency]
/// async fn get_db() -> Teardown<Db> {
///     let db = Db { id: 1 };
///     Teardown::new(db, |outcome: Outcome| async move {
///         // runs after the response has been sent; sees how the request went
///         println!("closing db, request failed: {}", outcome.is_error());
///     })
/// }
/// ```
pub struct Teardown<T> {
    value: T,
    cleanup: Cleanup,
}

impl<T> Teardown<T> {
    /// `value`, with async cleanup code.
    pub fn new<F, Fut>(value: T, cleanup: F) -> Self
    where
        F: FnOnce(Outcome) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        Teardown {
            value,
            cleanup: Cleanup::Async(Box::new(move |o| Box::pin(cleanup(o)))),
        }
    }

    /// `value`, with blocking cleanup code (runs on its own thread).
    pub fn blocking<F>(value: T, cleanup: F) -> Self
    where
        F: FnOnce(Outcome) + Send + 'static,
    {
        Teardown {
            value,
            cleanup: Cleanup::Blocking(Box::new(cleanup)),
        }
    }

    pub(crate) fn into_parts(self) -> (T, Cleanup) {
        (self.value, self.cleanup)
    }
}
