//! [`State<T>`]: typed application state as a parameter.

use std::sync::Arc;

use super::{FromRequest, ParamSpec, Rejection, RequestContext};
use crate::response::IntoResponse;

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
