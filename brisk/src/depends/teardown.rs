//! Teardown: code a dependency leaves to run after the request, FastAPI's
//! "dependencies with yield".

use std::future::Future;

use crate::exec::scope::Cleanup;
pub use crate::exec::scope::{Outcome, Scope};

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
