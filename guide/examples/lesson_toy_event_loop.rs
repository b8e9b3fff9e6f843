//! Lesson 8 — what an event loop does, by hand: a toy executor with a
//! ready queue and wakers, no tokio, mirroring the `EventLoop` class of
//! seed 004. First, though: calling an `async fn` runs none of its code; it
//! returns a future, which does something only when polled.
//!
//! ```text
//! cargo run --release --example lesson_toy_event_loop
//! ```

use std::cell::RefCell;
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};

// ---- 1. Calling is not running ---------------------------------------------------

async fn my_async_func() -> &'static str {
    println!("  (inside my_async_func: this prints only once it is polled)");
    "result"
}

// ---- 2. An "I/O operation" the loop can finish -----------------------------------

/// Where a pending I/O operation's result and waker live.
#[derive(Default)]
struct IoSlot {
    result: Option<String>,
    waker: Option<Waker>,
}

/// One pending operation: its name and its slot.
type Pending = (&'static str, Arc<Mutex<IoSlot>>);

thread_local! {
    /// The operations waiting for "I/O" (the seed's `self.waiting`): a real
    /// loop would ask the OS (epoll, kqueue) which of them are ready.
    static WAITING: RefCell<Vec<Pending>> = const { RefCell::new(Vec::new()) };
}

/// The seed's `Awaitable("DB_REQUEST")`: a future that is `Pending` until
/// the loop delivers its result.
struct Io {
    name: &'static str,
    slot: Option<Arc<Mutex<IoSlot>>>,
}

fn io(name: &'static str) -> Io {
    Io { name, slot: None }
}

impl Future for Io {
    type Output = String;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<String> {
        match &self.slot {
            // First poll: register with the loop, remember who to wake.
            None => {
                let slot = Arc::new(Mutex::new(IoSlot {
                    result: None,
                    waker: Some(cx.waker().clone()),
                }));
                WAITING.with(|w| w.borrow_mut().push((self.name, Arc::clone(&slot))));
                self.slot = Some(slot);
                Poll::Pending
            }
            // Polled again after the wake-up: the result is there.
            Some(slot) => match slot.lock().unwrap().result.take() {
                Some(result) => Poll::Ready(result),
                None => Poll::Pending,
            },
        }
    }
}

// ---- 3. The event loop -------------------------------------------------------------

type Task = Pin<Box<dyn Future<Output = ()>>>;

/// Waking a task = putting its number back on the ready queue.
struct TaskWaker {
    id: usize,
    ready: Arc<Mutex<VecDeque<usize>>>,
}

impl Wake for TaskWaker {
    fn wake(self: Arc<Self>) {
        self.ready.lock().unwrap().push_back(self.id);
    }
}

/// The seed's `EventLoop`: tasks, a ready queue, and a loop that polls the
/// ready ones and then "completes" pending I/O.
#[derive(Default)]
struct EventLoop {
    tasks: Vec<Option<Task>>,
    ready: Arc<Mutex<VecDeque<usize>>>,
}

impl EventLoop {
    /// The seed's `create_task`: store the future, mark it ready.
    fn create_task(&mut self, fut: impl Future<Output = ()> + 'static) {
        self.tasks.push(Some(Box::pin(fut)));
        self.ready.lock().unwrap().push_back(self.tasks.len() - 1);
    }

    fn run(&mut self) {
        loop {
            // Run every ready task until it awaits something not ready yet.
            let mut next = self.ready.lock().unwrap().pop_front();
            while let Some(id) = next {
                let waker = Waker::from(Arc::new(TaskWaker {
                    id,
                    ready: Arc::clone(&self.ready),
                }));
                if let Some(task) = &mut self.tasks[id]
                    && task
                        .as_mut()
                        .poll(&mut Context::from_waker(&waker))
                        .is_ready()
                {
                    self.tasks[id] = None; // finished
                }
                next = self.ready.lock().unwrap().pop_front();
            }
            // Nothing ready: "wait for I/O". Here it completes at once.
            let waiting = WAITING.with(|w| std::mem::take(&mut *w.borrow_mut()));
            if waiting.is_empty() {
                return; // nothing ready, nothing waiting: all done
            }
            for (name, slot) in waiting {
                println!("I/O finished for {name}");
                let mut slot = slot.lock().unwrap();
                slot.result = Some(format!("result of {name}"));
                if let Some(waker) = slot.waker.take() {
                    waker.wake(); // back on the ready queue
                }
            }
        }
    }
}

/// The seed's `handler`: starts, waits for the database, finishes.
async fn handler(n: u32) {
    println!("Handler {n} start");
    let result = io("DB_REQUEST").await; // pause here until the loop wakes us
    println!("Handler {n} got result: {result}");
}

fn main() {
    println!("== Calling an async fn runs none of its code:");
    let fut = my_async_func();
    println!(
        "  got a future of {} bytes; nothing printed from inside yet",
        std::mem::size_of_val(&fut)
    );
    let mut event_loop = EventLoop::default();
    event_loop.create_task(async move {
        let result = fut.await;
        println!("  awaited it: {result}");
    });
    event_loop.run();

    println!("== Three handlers on one thread, taking turns at each .await:");
    let mut event_loop = EventLoop::default();
    for n in 1..=3 {
        event_loop.create_task(handler(n));
    }
    event_loop.run();
}
