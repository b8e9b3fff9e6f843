//! What a request leaves behind, and running it at the right time:
//! teardown code of dependencies (after the handler, or after the
//! response has been sent) and background tasks, blocking ones on the
//! thread pool. `depends` builds these (`Teardown`, `BackgroundTasks`);
//! the request's context keeps them; this module runs them.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use http::StatusCode;

use super::ThreadPool;

/// A boxed future, `Send`, borrowing for `'a`.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A background task: async (runs on the event loop) or blocking (on the pool).
pub(crate) enum Task {
    Async(BoxFuture<'static, ()>),
    Blocking(Box<dyn FnOnce() + Send>),
}

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

/// Per-request teardown and background work; empty (and allocation-free)
/// for requests that use neither.
#[derive(Default)]
pub(crate) struct RequestScope {
    function_cleanups: Vec<Cleanup>,
    request_cleanups: Vec<Cleanup>,
    background: Option<Arc<Mutex<Vec<Task>>>>,
}

impl RequestScope {
    pub(crate) fn push_cleanup(&mut self, scope: Scope, cleanup: Cleanup) {
        match scope {
            Scope::Function => self.function_cleanups.push(cleanup),
            Scope::Request => self.request_cleanups.push(cleanup),
        }
    }

    pub(crate) fn background(&mut self) -> &Arc<Mutex<Vec<Task>>> {
        self.background.get_or_insert_with(Default::default)
    }

    /// Whether any `scope="function"` teardown is waiting.
    pub(crate) fn has_function_cleanups(&self) -> bool {
        !self.function_cleanups.is_empty()
    }

    /// Runs `scope="function"` cleanups, last set up first.
    pub(crate) async fn run_function_cleanups(&mut self, outcome: &Outcome) {
        while let Some(c) = self.function_cleanups.pop() {
            c.run(outcome.clone()).await;
        }
    }

    /// Packs what must run after the response: background tasks first, then
    /// request-scoped cleanups in reverse order (FastAPI's order).
    pub(crate) fn into_after_response(
        mut self,
        outcome: Outcome,
        pool: &Arc<ThreadPool>,
    ) -> Option<AfterResponse> {
        let tasks = self
            .background
            .take()
            .map(|q| std::mem::take(&mut *q.lock().expect("tasks lock")))
            .unwrap_or_default();
        if tasks.is_empty() && self.request_cleanups.is_empty() {
            return None;
        }
        let mut cleanups = std::mem::take(&mut self.request_cleanups);
        cleanups.reverse();
        Some(AfterResponse {
            work: Some(Work {
                tasks,
                cleanups,
                outcome,
                pool: Arc::clone(pool),
            }),
            handle: tokio::runtime::Handle::try_current().ok(),
        })
    }
}

struct Work {
    tasks: Vec<Task>,
    cleanups: Vec<Cleanup>,
    outcome: Outcome,
    pool: Arc<ThreadPool>,
}

impl Work {
    async fn run(self) {
        for task in self.tasks {
            let failed = match task {
                Task::Async(fut) => {
                    futures_util::FutureExt::catch_unwind(std::panic::AssertUnwindSafe(fut))
                        .await
                        .is_err()
                }
                Task::Blocking(f) => {
                    let pool = Arc::clone(&self.pool);
                    tokio::spawn(async move { pool.run(f).await })
                        .await
                        .is_err()
                }
            };
            if failed {
                tracing::error!("a background task panicked; running the remaining ones");
            }
        }
        for cleanup in self.cleanups {
            cleanup.run(self.outcome.clone()).await;
        }
    }
}

/// Runs a request's after-response work when dropped, i.e. when hyper has
/// written the last byte of the response body and lets go of it (it rides
/// on the body as a guard: [`Body::attach_guard`](crate::body::Body)).
pub(crate) struct AfterResponse {
    work: Option<Work>,
    handle: Option<tokio::runtime::Handle>,
}

impl Drop for AfterResponse {
    fn drop(&mut self) {
        let Some(work) = self.work.take() else { return };
        match self
            .handle
            .take()
            .or_else(|| tokio::runtime::Handle::try_current().ok())
        {
            Some(handle) => {
                handle.spawn(work.run());
            }
            None => tracing::error!("no runtime to run background tasks and teardown on"),
        }
    }
}
