//! [`State<T>`]: typed application state as a parameter, the map it is
//! kept in, and [`Metrics`], the app's counters as a parameter.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::sync::Arc;

use super::{FromRequest, ParamSpec, Rejection, RequestContext};
use crate::exec::MetricsSnapshot;
use crate::response::IntoResponse;

/// A map from type to one value of that type: the app's state.
///
/// ```
/// let mut map = brisk::params::StateMap::default();
/// map.insert(42u32);
/// assert_eq!(*map.get::<u32>().unwrap(), 42);
/// ```
#[derive(Default)]
pub struct StateMap(HashMap<TypeId, Arc<dyn Any + Send + Sync>>);

impl StateMap {
    /// Adds (or replaces) the value of type `T`.
    pub fn insert<T: Send + Sync + 'static>(&mut self, value: T) {
        self.0.insert(TypeId::of::<T>(), Arc::new(value));
    }

    /// Adds (or replaces) a value of type `T` shared with its owner.
    pub fn insert_shared<T: Send + Sync + 'static>(&mut self, value: Arc<T>) {
        self.0.insert(TypeId::of::<T>(), value);
    }

    /// The value of type `T`, if any.
    pub fn get<T: Send + Sync + 'static>(&self) -> Option<Arc<T>> {
        self.0
            .get(&TypeId::of::<T>())
            .and_then(|b| Arc::clone(b).downcast().ok())
    }
}

/// The app's metrics as a handler parameter, e.g. for a `/metrics` route:
/// the watchdog's and the thread pool's counters.
///
/// ```
/// use brisk::prelude::*;
/// use brisk::params::Metrics;
///
/// #[get("/metrics")]
/// async fn metrics(m: Metrics) -> Json<brisk::exec::MetricsSnapshot> {
///     Json(m.0)
/// }
/// ```
#[derive(Debug, Clone)]
pub struct Metrics(pub MetricsSnapshot);

impl FromRequest for Metrics {
    async fn from_request(
        cx: &mut RequestContext,
        _spec: &'static ParamSpec,
    ) -> Result<Self, Rejection> {
        Ok(Metrics(cx.app.watchdog.snapshot()))
    }
}

/// Application state of type `T`, registered with
/// [`App::state`](crate::App::state); dereferences to `T`.
///
/// A handler asking for state the app does not have is a programming error:
/// it answers 500 and logs the type.
///
/// ```
/// use brisk::prelude::*;
///
/// struct Counter { hits: std::sync::atomic::AtomicU64 }
///
/// #[post("/hit")]
/// async fn hit(counter: State<Counter>) -> String {
///     let n = counter.hits.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
///     n.to_string()
/// }
///
/// let app = App::new().state(Counter { hits: Default::default() }).routes(routes![hit]);
/// let client = brisk::TestClient::new(app);
/// client.post("/hit").send();
/// assert_eq!(client.post("/hit").send().text(), "2");
/// ```
pub struct State<T>(pub Arc<T>);

impl<T> std::ops::Deref for State<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T> Clone for State<T> {
    fn clone(&self) -> Self {
        State(Arc::clone(&self.0))
    }
}

impl<T: Send + Sync + 'static> FromRequest for State<T> {
    async fn from_request(
        cx: &mut RequestContext,
        _spec: &'static ParamSpec,
    ) -> Result<Self, Rejection> {
        match cx.state::<T>() {
            Some(value) => Ok(State(value)),
            None => {
                tracing::error!(
                    state_type = std::any::type_name::<T>(),
                    "no such state registered with App::state"
                );
                Err(Rejection::Respond(
                    crate::HttpError::internal().into_response(),
                ))
            }
        }
    }
}
