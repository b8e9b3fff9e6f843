//! Background tasks: work a handler schedules to run after the response.

use std::future::Future;
use std::sync::{Arc, Mutex};

use crate::exec::scope::Task;
use crate::params::{FromRequest, ParamSpec, Rejection, RequestContext};

/// Tasks that run after the response has been sent, in the order added:
/// async ones on the event loop, blocking ones on the thread pool. A task
/// that panics is logged and the others still run.
///
/// ```
/// use brisk::prelude::*;
/// use brisk::depends::BackgroundTasks;
///
/// #[post("/send-notification/{email}")]
/// async fn send_notification(email: String, tasks: BackgroundTasks) -> Json<Value> {
///     tasks.add_blocking(move || println!("notify {email}"));
///     Json(json!({"message": "Notification sent in the background"}))
/// }
/// ```
#[derive(Clone)]
pub struct BackgroundTasks {
    pub(crate) queue: Arc<Mutex<Vec<Task>>>,
}

impl BackgroundTasks {
    /// Adds an async task.
    pub fn add<F>(&self, task: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        self.queue
            .lock()
            .expect("tasks lock")
            .push(Task::Async(Box::pin(task)));
    }

    /// Adds a blocking task (it runs on the thread pool).
    pub fn add_blocking<F>(&self, task: F)
    where
        F: FnOnce() + Send + 'static,
    {
        self.queue
            .lock()
            .expect("tasks lock")
            .push(Task::Blocking(Box::new(task)));
    }
}

impl FromRequest for BackgroundTasks {
    async fn from_request(
        cx: &mut RequestContext,
        _spec: &'static ParamSpec,
    ) -> Result<Self, Rejection> {
        Ok(BackgroundTasks {
            queue: Arc::clone(cx.scope().background()),
        })
    }
}
