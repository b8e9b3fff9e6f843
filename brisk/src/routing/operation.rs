//! [`Operation`]: everything brisk knows about one path operation (method,
//! path, handler, parameters, docs), as `#[get]` & co. describe it.

use std::future::Future;
use std::pin::Pin;

use http::{Method, StatusCode};

use crate::depends::DepRef;
use crate::params::{ParamDoc, ParamSpec, RequestContext};
use crate::response::Response;

/// The future a generated handler returns; it borrows the request context.
pub type HandlerFuture<'a> = Pin<Box<dyn Future<Output = Response> + Send + 'a>>;

/// The generated request handler of an operation.
pub type HandlerFn = for<'a> fn(&'a mut RequestContext) -> HandlerFuture<'a>;

/// One declared parameter: its spec and how its type documents itself.
#[derive(Debug, Clone, Copy)]
pub struct Param {
    /// Name, location hints and constraints.
    pub spec: &'static ParamSpec,
    /// `<T as FromRequest>::describe`.
    pub describe: fn(&'static ParamSpec) -> ParamDoc,
}

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
    pub response_doc:
        fn(&mut schemars::SchemaGenerator) -> Option<crate::openapi::probe::ResponseDoc>,
    /// Index in the app's router (set when the app is built).
    pub(crate) id: usize,
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
        Operation {
            method,
            path,
            name,
            is_async,
            status: StatusCode::OK,
            params: &[],
            dependencies: Vec::new(),
            include_in_schema: true,
            summary: None,
            description: None,
            tags: &[],
            responses: &[],
            handler,
            response_doc: |_| None,
            timeout: None,
            id: 0,
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
        doc: fn(&mut schemars::SchemaGenerator) -> Option<crate::openapi::probe::ResponseDoc>,
    ) -> Self {
        self.response_doc = doc;
        self
    }

    /// Hides the operation from the OpenAPI document (it is still served).
    pub fn include_in_schema(mut self, include: bool) -> Self {
        self.include_in_schema = include;
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
