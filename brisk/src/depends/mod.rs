//! Dependencies, the FastAPI way: `Depends`, sub-dependencies, a per-request
//! cache, teardown after the response, overrides, and background tasks.
//!
//! `#[dependency]` on an `async fn` or a plain `fn` makes it a
//! [`Dependency`]: its parameters are extracted by the same rules as a path
//! operation's (path, query, header, cookie, body, other dependencies), a
//! plain `fn` runs on the thread pool and an `async fn` on the event loop,
//! and a handler (or another dependency) receives its output by asking for
//! [`Depends<name>`](Depends).
//!
//! ```
//! use brisk::prelude::*;
//!
//! #[derive(Clone)]
//! struct User { name: String }
//!
//! /// Reads the user from a header; rejects the request without one.
//! #[dependency]
//! async fn current_user(x_user: Header<Option<String>>) -> Result<User, HttpError> {
//!     match x_user.0 {
//!         Some(name) => Ok(User { name }),
//!         None => Err(HttpError::unauthorized("Not authenticated").with_header("www-authenticate", "Bearer")),
//!     }
//! }
//!
//! #[get("/me")]
//! async fn me(user: Depends<current_user>) -> String {
//!     user.name.clone()
//! }
//!
//! let client = brisk::TestClient::new(App::new().routes(routes![me]));
//! assert_eq!(client.get("/me").header("x-user", "ada").send().text(), "ada");
//! assert_eq!(client.get("/me").send().status(), 401);
//! ```
//!
//! A dependency may return `T`, `Result<T, E>` (the error answers the request,
//! e.g. an [`HttpError`](crate::HttpError)), [`Teardown<T>`] (cleanup code that
//! runs after the response has been sent, or right after the handler with
//! `#[dependency(scope = "function")]`), or `Result<Teardown<T>, E>`.
//! Outputs are cached per request (the dependency runs once however many
//! times it is asked for) unless declared `#[dependency(cache = false)]`;
//! cached outputs must be `Clone`.

mod background;
mod teardown;

use std::any::{Any, TypeId};

pub use background::BackgroundTasks;
pub use teardown::{Outcome, Scope, Teardown};

pub use crate::exec::scope::BoxFuture;
#[doc(hidden)]
pub use crate::params::ErasedRun;
pub use crate::params::{DependencyInfo, Param};
use crate::params::{FromRequest, ParamDoc, ParamSpec, Rejection, RequestContext};
use crate::response::IntoResponse;

/// A function usable with [`Depends`]; implemented by `#[dependency]`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a brisk dependency",
    note = "add `#[dependency]` to the function `{Self}` to use it as `Depends<{Self}>`"
)]
pub trait Dependency: Send + Sync + 'static {
    /// What the dependency gives (the `T` of `T`, `Result<T, E>`, `Teardown<T>`).
    type Output: Send + 'static;

    /// Static description.
    fn info() -> &'static DependencyInfo;

    /// Runs the dependency: extracts its parameters and calls the function.
    fn call(cx: &mut RequestContext) -> BoxFuture<'_, Result<Self::Output, Rejection>>;

    /// Gets the output for this request: from the cache, an override, or by
    /// calling it. The macro picks [`cached`] or [`uncached`].
    fn resolve(cx: &mut RequestContext) -> BoxFuture<'_, Result<Self::Output, Rejection>>;
}

/// Resolves `D` once per request and hands out clones (FastAPI's default,
/// `use_cache=True`).
pub async fn cached<D: Dependency>(cx: &mut RequestContext) -> Result<D::Output, Rejection>
where
    D::Output: Clone,
{
    let key = TypeId::of::<D>();
    if let Some(hit) = cx.dep_cache().iter().find(|(k, _)| *k == key)
        && let Some(value) = hit.1.downcast_ref::<D::Output>()
    {
        return Ok(value.clone());
    }
    let value = uncached::<D>(cx).await?;
    cx.dep_cache().push((key, Box::new(value.clone())));
    Ok(value)
}

/// Resolves `D` every time it is asked for (`use_cache=False`).
pub async fn uncached<D: Dependency>(cx: &mut RequestContext) -> Result<D::Output, Rejection> {
    if let Some(run) = cx.app.dependency_override(TypeId::of::<D>()) {
        let any = run(cx).await?;
        return any.downcast::<D::Output>().map(|b| *b).map_err(|_| {
            tracing::error!(
                dependency = D::info().name,
                "dependency override has the wrong output type"
            );
            Rejection::Respond(crate::HttpError::internal().into_response())
        });
    }
    D::call(cx).await
}

/// Runs `D` and boxes its output.
#[doc(hidden)]
pub fn erased<D: Dependency>(
    cx: &mut RequestContext,
) -> BoxFuture<'_, Result<Box<dyn Any + Send>, Rejection>> {
    Box::pin(async move {
        D::resolve(cx)
            .await
            .map(|v| Box::new(v) as Box<dyn Any + Send>)
    })
}

/// The output of dependency `D`, as a handler or dependency parameter.
///
/// `Depends<get_db>` runs `get_db` (once per request, unless uncached) and
/// dereferences to its output.
pub struct Depends<D: Dependency>(pub D::Output);

impl<D: Dependency> Depends<D> {
    /// The output, by value.
    pub fn into_inner(self) -> D::Output {
        self.0
    }
}

impl<D: Dependency> std::ops::Deref for Depends<D> {
    type Target = D::Output;
    fn deref(&self) -> &D::Output {
        &self.0
    }
}

impl<D: Dependency> std::ops::DerefMut for Depends<D> {
    fn deref_mut(&mut self) -> &mut D::Output {
        &mut self.0
    }
}

impl<D: Dependency> std::fmt::Debug for Depends<D>
where
    D::Output: std::fmt::Debug,
{
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Depends").field(&self.0).finish()
    }
}

impl<D: Dependency> FromRequest for Depends<D> {
    async fn from_request(
        cx: &mut RequestContext,
        _spec: &'static ParamSpec,
    ) -> Result<Self, Rejection> {
        D::resolve(cx).await.map(Depends)
    }

    fn describe(_spec: &'static ParamSpec) -> ParamDoc {
        ParamDoc::Dependency(D::info())
    }
}

/// A dependency run for its side effects only: route-, router- and app-level
/// `dependencies = [...]` (FastAPI's `dependencies=[Depends(verify_token)]`).
#[derive(Clone, Copy)]
pub struct DepRef {
    pub(crate) info: fn() -> &'static DependencyInfo,
    /// Runs the dependency, its output boxed.
    pub run: ErasedRun,
}

impl std::fmt::Debug for DepRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DepRef({})", (self.info)().name)
    }
}

impl DepRef {
    /// Refers to dependency `D`.
    pub fn of<D: Dependency>() -> Self {
        DepRef {
            info: D::info,
            run: erased::<D>,
        }
    }

    /// The dependency's description.
    pub fn info(&self) -> &'static DependencyInfo {
        (self.info)()
    }
}

/// Lists dependencies run for their side effects, for
/// [`App::dependencies`](crate::App::dependencies) and
/// [`ApiRouter::dependencies`](crate::routing::ApiRouter::dependencies).
///
/// ```
/// use brisk::prelude::*;
///
/// #[dependency]
/// fn verify_token(x_token: Header<String>) -> Result<(), HttpError> {
///     if x_token.0 == "secret" { Ok(()) } else { Err(HttpError::bad_request("X-Token header invalid")) }
/// }
///
/// let app = App::new().dependencies(deps![verify_token]);
/// ```
#[macro_export]
macro_rules! deps {
    ($($d:path),* $(,)?) => {
        ::std::vec![$($crate::depends::DepRef::of::<$d>()),*]
    };
}

/// Converts what a dependency function returns into its output, registering
/// teardown and turning errors into responses. Used by `#[dependency]`.
pub trait IntoDependencyResult<T> {
    /// Finishes one dependency call.
    fn finish(self, cx: &mut RequestContext, scope: Scope) -> Result<T, Rejection>;
}

impl<T> IntoDependencyResult<T> for T {
    fn finish(self, _cx: &mut RequestContext, _scope: Scope) -> Result<T, Rejection> {
        Ok(self)
    }
}

impl<T> IntoDependencyResult<T> for Teardown<T> {
    fn finish(self, cx: &mut RequestContext, scope: Scope) -> Result<T, Rejection> {
        let (value, cleanup) = self.into_parts();
        cx.scope().push_cleanup(scope, cleanup);
        Ok(value)
    }
}

impl<T, E: IntoResponse> IntoDependencyResult<T> for Result<T, E> {
    fn finish(self, _cx: &mut RequestContext, _scope: Scope) -> Result<T, Rejection> {
        self.map_err(|e| Rejection::Respond(e.into_response()))
    }
}

impl<T, E: IntoResponse> IntoDependencyResult<T> for Result<Teardown<T>, E> {
    fn finish(self, cx: &mut RequestContext, scope: Scope) -> Result<T, Rejection> {
        match self {
            Ok(t) => t.finish(cx, scope),
            Err(e) => Err(Rejection::Respond(e.into_response())),
        }
    }
}

/// Checks the dependency graph of every operation for cycles; panics at
/// startup with the cycle spelled out.
pub(crate) fn check_cycles(op_name: &str, params: &[Param], extra: &[DepRef]) {
    fn visit(info: &'static DependencyInfo, stack: &mut Vec<&'static str>, op_name: &str) {
        if stack.contains(&info.name) {
            stack.push(info.name);
            panic!(
                "brisk: dependency cycle in `{op_name}`: {}",
                stack.join(" -> ")
            );
        }
        stack.push(info.name);
        for p in info.params {
            if let ParamDoc::Dependency(sub) = (p.describe)(p.spec) {
                visit(sub, stack, op_name);
            }
        }
        stack.pop();
    }
    let mut stack = Vec::new();
    for d in extra {
        visit(d.info(), &mut stack, op_name);
    }
    for p in params {
        if let ParamDoc::Dependency(info) = (p.describe)(p.spec) {
            visit(info, &mut stack, op_name);
        }
    }
}
