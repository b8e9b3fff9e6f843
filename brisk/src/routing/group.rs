//! [`ApiRouter`]: a group of operations with a shared prefix, tags and
//! dependencies (FastAPI's `APIRouter`).

use super::invoke::{LayerFn, Request, Route, layer_fn};
use crate::depends::DepRef;
use crate::response::IntoResponse;
use crate::routing::Operation;

/// A group of path operations sharing a path prefix, tags and dependencies.
///
/// ```
/// use brisk::prelude::*;
///
/// #[dependency]
/// fn verify_token(x_token: Header<String>) -> Result<(), HttpError> {
///     if x_token.0 == "secret" { Ok(()) } else { Err(HttpError::bad_request("X-Token header invalid")) }
/// }
///
/// #[get("/{item_id}")]
/// async fn read_item(item_id: u32) -> Json<Value> { Json(json!({"item_id": item_id})) }
///
/// let items = ApiRouter::new()
///     .prefix("/items")
///     .tags(&["items"])
///     .dependencies(deps![verify_token])
///     .routes(routes![read_item]);
/// let client = brisk::TestClient::new(App::new().include(items));
/// assert_eq!(client.get("/items/3").header("x-token", "secret").send().status(), 200);
/// assert_eq!(client.get("/items/3").header("x-token", "nope").send().status(), 400);
/// ```
#[derive(Default)]
pub struct ApiRouter {
    prefix: String,
    tags: Vec<&'static str>,
    dependencies: Vec<DepRef>,
    operations: Vec<Operation>,
    layers: Vec<LayerFn>,
}

impl ApiRouter {
    /// An empty router.
    pub fn new() -> Self {
        Self::default()
    }

    /// Prepends `prefix` (e.g. `/items`) to every operation's path.
    pub fn prefix(mut self, prefix: &str) -> Self {
        self.prefix = prefix.trim_end_matches('/').to_owned();
        self
    }

    /// Adds tags to every operation.
    pub fn tags(mut self, tags: &[&'static str]) -> Self {
        self.tags.extend_from_slice(tags);
        self
    }

    /// Dependencies every operation of the router runs for their side effects.
    pub fn dependencies(mut self, deps: Vec<DepRef>) -> Self {
        self.dependencies.extend(deps);
        self
    }

    /// Adds operations.
    pub fn routes(mut self, operations: Vec<Operation>) -> Self {
        self.operations.extend(operations);
        self
    }

    /// Wraps every operation of this router (and only those) in a tower
    /// layer: any tower-http layer, or a function middleware made with
    /// [`brisk::middleware::from_fn`](crate::middleware::from_fn). The layer
    /// added last runs first. App-wide layers ([`App::layer`](crate::App::layer))
    /// run before router layers.
    ///
    /// ```
    /// use brisk::prelude::*;
    /// use brisk::middleware::{Next, Request};
    ///
    /// async fn tag(req: Request, next: Next) -> brisk::response::Response {
    ///     let mut resp = next.run(req).await;
    ///     resp.headers_mut().insert("x-router", "admin".parse().unwrap());
    ///     resp
    /// }
    ///
    /// #[get("/stats")]
    /// async fn stats() -> &'static str { "ok" }
    /// #[get("/")]
    /// async fn home() -> &'static str { "home" }
    ///
    /// let admin = ApiRouter::new()
    ///     .prefix("/admin")
    ///     .routes(routes![stats])
    ///     .layer(brisk::middleware::from_fn(tag));
    /// let client = brisk::TestClient::new(App::new().routes(routes![home]).include(admin));
    /// assert_eq!(client.get("/admin/stats").send().header("x-router"), Some("admin"));
    /// assert_eq!(client.get("/").send().header("x-router"), None);
    /// ```
    pub fn layer<L>(mut self, layer: L) -> Self
    where
        L: tower::Layer<Route> + Send + Sync + 'static,
        L::Service: tower::Service<Request> + Clone + Send + Sync + 'static,
        <L::Service as tower::Service<Request>>::Response: IntoResponse + 'static,
        <L::Service as tower::Service<Request>>::Error: Into<std::convert::Infallible> + 'static,
        <L::Service as tower::Service<Request>>::Future: Send + 'static,
    {
        self.layers.push(layer_fn(layer));
        self
    }

    /// Nests another router (its prefix goes under this one's).
    pub fn include(mut self, router: ApiRouter) -> Self {
        self.operations.extend(router.into_operations());
        self
    }

    /// The operations with the router's prefix, tags and dependencies applied.
    pub(crate) fn into_operations(self) -> Vec<Operation> {
        let ApiRouter {
            prefix,
            tags,
            dependencies,
            operations,
            layers,
        } = self;
        operations
            .into_iter()
            .map(|mut op| {
                if !prefix.is_empty() {
                    // Paths are `&'static str` everywhere (macros produce
                    // literals); a prefixed path is built once per app start.
                    // `"/"` under `/things` is `/things/`, as in FastAPI.
                    let path = format!("{prefix}{}", op.path);
                    op.path = Box::leak(path.into_boxed_str());
                }
                if !tags.is_empty() {
                    let mut all = tags.clone();
                    all.extend_from_slice(op.tags);
                    op.tags = Box::leak(all.into_boxed_slice());
                }
                let mut deps = dependencies.clone();
                deps.append(&mut op.dependencies);
                op.dependencies = deps;
                // An outer router's layers wrap a nested router's.
                op.layers.extend(layers.iter().cloned());
                op
            })
            .collect()
    }
}
