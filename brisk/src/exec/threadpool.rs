//! The bounded thread pool that runs plain `fn` handlers and
//! [`run_in_threadpool`] closures: FastAPI's `run_in_threadpool` / anyio's
//! capacity limiter, in Rust.
//!
//! At most `size` closures run at once (default 40, as in FastAPI). Callers
//! beyond that wait in FIFO order without holding any thread: the wait is an
//! async semaphore acquire (tokio's semaphore is fair). Closures run on the
//! runtime's blocking threads, never on an event-loop worker.

use std::cell::RefCell;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use tokio::sync::Semaphore;

/// FastAPI's (anyio's) default number of threads.
pub const DEFAULT_SIZE: usize = 40;

/// A bounded pool of threads for blocking work.
///
/// ```
/// # #[tokio::main] async fn main() {
/// let pool = brisk::exec::ThreadPool::new(2);
/// let answer = pool.run(|| 6 * 7).await;
/// assert_eq!(answer, 42);
/// assert_eq!(pool.size(), 2);
/// # }
/// ```
#[derive(Debug)]
pub struct ThreadPool {
    permits: Arc<Semaphore>,
    size: usize,
    waiting: AtomicUsize,
}

impl ThreadPool {
    /// A pool running at most `size` closures at once (`size` ≥ 1).
    pub fn new(size: usize) -> Self {
        let size = size.max(1);
        ThreadPool {
            permits: Arc::new(Semaphore::new(size)),
            size,
            waiting: AtomicUsize::new(0),
        }
    }

    /// How many closures may run at once.
    pub fn size(&self) -> usize {
        self.size
    }

    /// How many closures are running now.
    ///
    /// ```
    /// assert_eq!(brisk::exec::ThreadPool::new(3).in_use(), 0);
    /// ```
    pub fn in_use(&self) -> usize {
        self.size - self.permits.available_permits()
    }

    /// How many callers are waiting for a free thread.
    ///
    /// ```
    /// assert_eq!(brisk::exec::ThreadPool::new(3).waiting(), 0);
    /// ```
    pub fn waiting(&self) -> usize {
        self.waiting.load(Ordering::Relaxed)
    }

    /// Runs `f` on a pool thread once one is free (FIFO), and returns its result.
    ///
    /// A panic in `f` is resumed in the caller, where brisk turns it into a
    /// 500. If the caller stops waiting (a cancelled request), a closure that
    /// already started still finishes and keeps its slot until then, so the
    /// bound always holds.
    pub async fn run<F, R>(&self, f: F) -> R
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        let permit = {
            let _waiting = WaitingGuard::enter(&self.waiting);
            Arc::clone(&self.permits)
                .acquire_owned()
                .await
                .expect("the thread pool's semaphore is never closed")
        };
        let task = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            super::watchdog::in_pool(f)
        });
        match task.await {
            Ok(v) => v,
            Err(err) if err.is_panic() => std::panic::resume_unwind(err.into_panic()),
            Err(err) => panic!("thread pool task failed: {err}"),
        }
    }
}

struct WaitingGuard<'a>(&'a AtomicUsize);

impl<'a> WaitingGuard<'a> {
    fn enter(counter: &'a AtomicUsize) -> Self {
        counter.fetch_add(1, Ordering::Relaxed);
        WaitingGuard(counter)
    }
}

impl Drop for WaitingGuard<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

thread_local! {
    static CURRENT: RefCell<Option<Arc<ThreadPool>>> = const { RefCell::new(None) };
}

/// Makes `pool` the one [`run_in_threadpool`] uses on this thread; brisk
/// calls it on every thread of the runtimes it builds.
pub(crate) fn set_current(pool: Arc<ThreadPool>) {
    CURRENT.with(|c| *c.borrow_mut() = Some(pool));
}

/// The pool of the app serving on this thread, or a process-wide default
/// pool of [`DEFAULT_SIZE`] outside brisk's runtimes.
pub fn current() -> Arc<ThreadPool> {
    CURRENT.with(|c| c.borrow().clone()).unwrap_or_else(|| {
        static DEFAULT: OnceLock<Arc<ThreadPool>> = OnceLock::new();
        DEFAULT
            .get_or_init(|| Arc::new(ThreadPool::new(DEFAULT_SIZE)))
            .clone()
    })
}

/// Runs blocking code on the app's thread pool from an `async fn` and awaits
/// its result: FastAPI's `await run_in_threadpool(func)`.
///
/// ```
/// use std::time::Duration;
///
/// # #[tokio::main] async fn main() {
/// let out = brisk::run_in_threadpool(|| {
///     std::thread::sleep(Duration::from_millis(10)); // blocking, but not on the event loop
///     "done"
/// })
/// .await;
/// assert_eq!(out, "done");
/// # }
/// ```
pub async fn run_in_threadpool<F, R>(f: F) -> R
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    current().run(f).await
}
