//! [`Operation`]: everything brisk knows about one path operation (method,
//! path, handler, parameters, docs), as `#[get]` & co. describe it.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use futures_util::future::{Either, Ready, ready};
use http::{Method, StatusCode};

use super::invoke::{BoxService, LayerFn};
use crate::depends::DepRef;
pub use crate::params::Param;
use crate::params::{RequestContext, RouteInfo};
use crate::response::doc::ResponseDoc;
use crate::response::{IntoResponse, Response, apply_default_status};

/// The future a generated handler returns; it borrows the request context.
pub type HandlerFuture<'a> = Pin<Box<dyn Future<Output = Response> + Send + 'a>>;

/// The generated request handler of an operation.
pub type HandlerFn = for<'a> fn(&'a mut RequestContext) -> HandlerFuture<'a>;

/// A path operation: method, path template, the generated handler that
/// extracts parameters and calls the user's function, and its documentation.
///
/// Usually produced by `#[get]`, `#[post]`, ... and collected with
/// [`routes!`](crate::routes). It can also be built by hand:
///
/// ```
/// use brisk::routing::{HandlerFuture, Operation};
/// use brisk::params::RequestContext;
/// use brisk::response::IntoResponse;
///
/// fn ping(_cx: &mut RequestContext) -> HandlerFuture<'_> {
///     Box::pin(async { "pong".into_response() })
/// }
/// let op = Operation::new(http::Method::GET, "/ping", "ping", ping, true);
/// assert_eq!(op.path, "/ping");
/// ```
pub struct Operation {
    /// The HTTP method.
    pub method: Method,
    /// The path template, FastAPI syntax (`/items/{item_id}`).
    pub path: &'static str,
    /// The function's name; the OpenAPI `operationId`.
    pub name: &'static str,
    /// Whether the user's function is `async fn` (event loop) or plain `fn` (thread pool).
    pub is_async: bool,
    /// The status of a successful response (`status = 201`).
    pub status: StatusCode,
    /// The parameters, in declaration order.
    pub params: &'static [Param],
    /// Dependencies run for their side effects before the parameters
    /// (app-level, then router-level, then the operation's own).
    pub dependencies: Vec<DepRef>,
    /// Whether the operation appears in the OpenAPI document.
    pub include_in_schema: bool,
    /// A `#[websocket]` route: its handler is a session that lives as long
    /// as the connection, so the blocking watchdog warns about it but never
    /// moves it to the bounded thread pool.
    pub is_websocket: bool,
    /// Short summary (OpenAPI); by default the name, title-cased (`read_item` → "Read Item").
    pub summary: Option<&'static str>,
    /// Long description: the function's doc comment (OpenAPI).
    pub description: Option<&'static str>,
    /// Tags (OpenAPI).
    pub tags: &'static [&'static str],
    /// Other answers the operation may give, documented with their
    /// description (FastAPI's `responses={404: {"description": ...}}`).
    pub responses: &'static [(u16, &'static str)],
    /// The generated request handler.
    pub handler: HandlerFn,
    /// Time limit for one request (`timeout = "2s"`): past it, 504 and the
    /// async handler is cancelled.
    pub timeout: Option<std::time::Duration>,
    /// The success response's schema, when the return type has one.
    pub response_doc: fn(&mut schemars::SchemaGenerator) -> Option<ResponseDoc>,
    /// Index in the app's router (set when the app is built).
    pub(crate) id: usize,
    /// Router layers around this operation, innermost first (`ApiRouter::layer`).
    pub(crate) layers: Vec<LayerFn>,
    /// What extraction and execution know about the route (set when the app is built).
    pub(crate) route: Arc<RouteInfo>,
    /// The operation wrapped in its router layers (built with the app).
    pub(crate) service: Option<BoxService>,
}

impl std::fmt::Debug for Operation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Operation")
            .field("method", &self.method)
            .field("path", &self.path)
            .field("name", &self.name)
            .field("is_async", &self.is_async)
            .finish_non_exhaustive()
    }
}

impl Operation {
    /// A new operation with status 200 and no documentation.
    pub fn new(
        method: Method,
        path: &'static str,
        name: &'static str,
        handler: HandlerFn,
        is_async: bool,
    ) -> Self {
        let route = Arc::new(RouteInfo::new(
            0,
            method.clone(),
            path,
            StatusCode::OK,
            Vec::new(),
        ));
        Operation {
            method,
            path,
            name,
            is_async,
            status: StatusCode::OK,
            params: &[],
            dependencies: Vec::new(),
            include_in_schema: true,
            is_websocket: false,
            summary: None,
            description: None,
            tags: &[],
            responses: &[],
            handler,
            response_doc: |_| None,
            timeout: None,
            id: 0,
            layers: Vec::new(),
            route,
            service: None,
        }
    }

    /// Sets the success status (panics on an invalid code).
    pub fn status(mut self, status: u16) -> Self {
        self.status = StatusCode::from_u16(status).expect("invalid status code");
        self
    }

    /// Sets the parameters.
    pub fn params(mut self, params: &'static [Param]) -> Self {
        self.params = params;
        self
    }

    /// Adds dependencies run for their side effects.
    pub fn dependencies(mut self, deps: Vec<DepRef>) -> Self {
        self.dependencies.extend(deps);
        self
    }

    /// Sets the request time limit (overrides `--timeout-request`).
    pub fn timeout(mut self, timeout: std::time::Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Sets how the success response is documented.
    pub fn response_doc(
        mut self,
        doc: fn(&mut schemars::SchemaGenerator) -> Option<ResponseDoc>,
    ) -> Self {
        self.response_doc = doc;
        self
    }

    /// The operation's description without its services (for the OpenAPI
    /// document, which must not keep the app alive).
    pub(crate) fn describe(&self) -> Operation {
        Operation {
            method: self.method.clone(),
            path: self.path,
            name: self.name,
            is_async: self.is_async,
            status: self.status,
            params: self.params,
            dependencies: self.dependencies.clone(),
            include_in_schema: self.include_in_schema,
            is_websocket: self.is_websocket,
            summary: self.summary,
            description: self.description,
            tags: self.tags,
            responses: self.responses,
            handler: self.handler,
            timeout: self.timeout,
            response_doc: self.response_doc,
            id: self.id,
            layers: Vec::new(),
            route: Arc::clone(&self.route),
            service: None,
        }
    }

    /// Hides the operation from the OpenAPI document (it is still served).
    pub fn include_in_schema(mut self, include: bool) -> Self {
        self.include_in_schema = include;
        self
    }

    /// Marks a WebSocket route (what `#[websocket]` generates): left out of
    /// the OpenAPI document, as in FastAPI, and never contained by the
    /// blocking watchdog (see [`Operation::is_websocket`]).
    ///
    /// ```
    /// # use brisk::routing::{HandlerFuture, Operation};
    /// # use brisk::params::RequestContext;
    /// # fn ws(_: &mut RequestContext) -> HandlerFuture<'_> { unimplemented!() }
    /// let op = Operation::new(http::Method::GET, "/ws", "ws", ws, true).websocket();
    /// assert!(op.is_websocket && !op.include_in_schema);
    /// ```
    pub fn websocket(mut self) -> Self {
        self.is_websocket = true;
        self.include_in_schema = false;
        self
    }

    /// Sets the summary.
    pub fn summary(mut self, summary: &'static str) -> Self {
        self.summary = Some(summary);
        self
    }

    /// Sets the description.
    pub fn description(mut self, description: &'static str) -> Self {
        self.description = Some(description);
        self
    }

    /// Sets the tags.
    pub fn tags(mut self, tags: &'static [&'static str]) -> Self {
        self.tags = tags;
        self
    }

    /// Documents other answers the operation may give (status, description).
    ///
    /// ```
    /// # use brisk::routing::{HandlerFuture, Operation};
    /// # fn h(_cx: &mut brisk::params::RequestContext) -> HandlerFuture<'_> { unimplemented!() }
    /// let op = Operation::new(http::Method::GET, "/items/{id}", "read", h, true)
    ///     .responses(&[(404, "Item not found")]);
    /// assert_eq!(op.responses[0].0, 404);
    /// ```
    pub fn responses(mut self, responses: &'static [(u16, &'static str)]) -> Self {
        self.responses = responses;
        self
    }
}

/// Implemented by the marker type `#[get]` & co. generate next to a handler
/// function, so that [`routes!`](crate::routes) can name the handler.
pub trait IntoOperation {
    /// The operation's description.
    fn operation() -> Operation;
}

/// Runs an `async fn` handler's future and builds its response; called by
/// the code `#[get]` & co. generate once the parameters are extracted.
#[doc(hidden)]
pub async fn call_async<F, R>(cx: &mut RequestContext, fut: F) -> Response
where
    F: Future<Output = R> + Send + 'static,
    R: IntoResponse,
{
    let resp = cx.run_async(async move { fut.await.into_response() }).await;
    finish(cx, resp).await
}

/// Runs a plain `fn` handler on the thread pool; the response is built
/// (serialised) there too, off the event loop.
#[doc(hidden)]
pub async fn call_sync<F, R>(cx: &mut RequestContext, f: F) -> Response
where
    F: FnOnce() -> R + Send + 'static,
    R: IntoResponse,
{
    let resp = cx.run_sync(move || f().into_response()).await;
    finish(cx, resp).await
}

/// Applies the declared status and runs `scope="function"` teardown.
///
/// Not an `async fn`: most requests have no function-scoped teardown, and
/// the response (about 170 bytes) would be copied into and out of the
/// future's state on every request.
fn finish(
    cx: &mut RequestContext,
    mut resp: Response,
) -> Either<Ready<Response>, impl Future<Output = Response> + Send + '_> {
    apply_default_status(&mut resp, cx.route().status);
    if !cx.scope().has_function_cleanups() {
        return Either::Left(ready(resp));
    }
    Either::Right(async move {
        cx.scope()
            .run_function_cleanups(&crate::exec::scope::Outcome::Response(resp.status()))
            .await;
        resp
    })
}
