//! Running one operation for one request: the request context, the
//! handler (panics caught, time limited), the app's exception handlers,
//! and the work left for after the response. Also the tower side of
//! operations: [`Route`], the boxed service every layer wraps, and router
//! layers around an operation.

use std::convert::Infallible;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::FutureExt;
use http::StatusCode;
use tower::util::BoxCloneSyncService;
use tower::{Service, ServiceExt};

use super::HandlerFn;
use crate::body::{Body, BoxError};
use crate::connection::ConnectionInfo;
use crate::error::{panic_message, panic_response};
use crate::exec::scope::Outcome;
use crate::params::{AppContext, RequestContext, RouteInfo};
use crate::response::{IntoResponse, Response};

/// A request, as every layer sees it.
pub type Request = http::Request<Body>;

/// The boxed service type layers wrap: request in, response out, never an
/// error (every problem is a response).
pub type BoxService = BoxCloneSyncService<Request, Response, Infallible>;

/// What a tower layer wraps: the rest of the app (or of a router's
/// operation). It accepts a request with any body, so layers that change
/// the request body (`RequestBodyLimitLayer`, decompression) plug in
/// unchanged, as with axum's `Route`.
#[derive(Clone)]
pub struct Route(pub(crate) BoxService);

impl Route {
    /// Boxes any service with a brisk-compatible shape.
    pub fn new<S, R>(service: S) -> Self
    where
        S: Service<Request, Response = R, Error = Infallible> + Clone + Send + Sync + 'static,
        S::Future: Send + 'static,
        R: IntoResponse + 'static,
    {
        Route(BoxCloneSyncService::new(
            service.map_response(IntoResponse::into_response),
        ))
    }
}

impl<B> Service<http::Request<B>> for Route
where
    B: http_body::Body<Data = bytes::Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = <BoxService as Service<Request>>::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        self.0.call(req.map(Body::new))
    }
}

/// Wraps a service in a tower layer and boxes the result: how
/// `App::layer` and `ApiRouter::layer` store what they are given.
pub(crate) type LayerFn = Arc<dyn Fn(BoxService) -> BoxService + Send + Sync>;

/// Turns any tower layer whose service answers brisk requests into a
/// [`LayerFn`].
pub(crate) fn layer_fn<L>(layer: L) -> LayerFn
where
    L: tower::Layer<Route> + Send + Sync + 'static,
    L::Service: Service<Request> + Clone + Send + Sync + 'static,
    <L::Service as Service<Request>>::Response: IntoResponse + 'static,
    <L::Service as Service<Request>>::Error: Into<Infallible> + 'static,
    <L::Service as Service<Request>>::Future: Send + 'static,
{
    Arc::new(move |inner: BoxService| {
        let wrapped = layer
            .layer(Route(inner))
            .map_response(IntoResponse::into_response)
            .map_err(Into::into);
        BoxCloneSyncService::new(wrapped)
    })
}

/// The path parameters of a request routed to an operation wrapped by
/// router layers, carried through them in the request's extensions.
#[derive(Clone)]
pub(crate) struct PathParams(pub(crate) Vec<(Box<str>, String)>);

/// One operation as a tower service (the innermost one, under router layers).
#[derive(Clone)]
pub(crate) struct OperationService {
    pub(crate) app: Arc<AppContext>,
    pub(crate) handler: HandlerFn,
    pub(crate) route: Arc<RouteInfo>,
    pub(crate) timeout: Option<Duration>,
}

impl Service<Request> for OperationService {
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request) -> Self::Future {
        let this = self.clone();
        Box::pin(async move {
            let (mut parts, body) = req.into_parts();
            let params = parts
                .extensions
                .remove::<PathParams>()
                .map(|p| p.0)
                .unwrap_or_default();
            Ok(run(
                this.app,
                this.handler,
                this.route,
                this.timeout,
                parts,
                body,
                params,
                None, // under router layers: in the extensions
            )
            .await)
        })
    }
}

/// Runs the operation for one request: extraction and the handler (panics
/// caught, `timeout` enforced with 504), the app's exception handlers, and
/// the work that must wait for the response to be sent.
// The request arrives in pieces, as routing took it apart; bundling them
// into a struct only to unpack it again here would add a move.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn run(
    app: Arc<AppContext>,
    handler: HandlerFn,
    route: Arc<RouteInfo>,
    timeout: Option<Duration>,
    parts: http::request::Parts,
    body: Body,
    params: Vec<(Box<str>, String)>,
    connection: Option<ConnectionInfo>,
) -> Response {
    // `app` moves into the context (no second reference count to write).
    let mut cx = RequestContext::new(parts, body, params, app, route, connection);
    let run = AssertUnwindSafe(handler(&mut cx)).catch_unwind();
    let result = match timeout {
        None => Ok(run.await),
        Some(limit) => tokio::time::timeout(limit, run).await.map_err(|_| limit),
    };
    let (resp, outcome) = match result {
        Err(limit) => {
            tracing::warn!(
                method = %cx.route().method,
                route = cx.route().path,
                limit_ms = limit.as_millis() as u64,
                "request timed out; answered 504 and cancelled the handler"
            );
            let resp = crate::HttpError::new(504, "Gateway Timeout").into_response();
            (resp, Outcome::Response(StatusCode::GATEWAY_TIMEOUT))
        }
        Ok(Ok(resp)) => {
            let status = resp.status();
            (resp, Outcome::Response(status))
        }
        Ok(Err(panic)) => {
            let message = panic_message(&panic).to_owned();
            tracing::error!(
                method = %cx.route().method,
                route = cx.route().path,
                panic = message,
                "handler panicked; answered 500, still serving"
            );
            // Function-scoped teardown the handler did not get to.
            let outcome = Outcome::Panicked(message.clone());
            cx.scope().run_function_cleanups(&outcome).await;
            (panic_response(message), outcome)
        }
    };
    // Each step below only for the responses that need it: a response is
    // about 170 bytes, copied whole into and out of every call and future
    // it passes through (most of a small request's `memcpy` time).
    let resp = if crate::response::Deferred::is_deferred(&resp) {
        crate::response::Deferred::finish(resp, cx.parts()).await
    } else {
        resp
    };
    let mut resp = if crate::error::ExceptionHandlers::raised(&resp) {
        if cx.app().handlers.would_handle(&resp) {
            // An exception handler sees the request's head, extensions and all.
            cx.connection_into_extensions();
        }
        cx.app().handlers.answer(cx.parts(), resp)
    } else {
        resp
    };
    let scope = std::mem::take(cx.scope());
    if let Some(after) = scope.into_after_response(outcome, &cx.app().pool) {
        resp.body_mut().attach_guard(Box::new(after));
    }
    resp
}
