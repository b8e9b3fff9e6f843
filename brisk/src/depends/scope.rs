//! What a request leaves behind: teardown code and background tasks, run in
//! the right order when the request ends.

use std::sync::{Arc, Mutex};

use super::background::Task;
use super::teardown::{Cleanup, Outcome, Scope};
use crate::exec::ThreadPool;

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
