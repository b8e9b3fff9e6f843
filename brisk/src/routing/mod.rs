//! The router: which [`Operation`] answers a method and path.
//!
//! Paths use FastAPI's template syntax, `/items/{item_id}`, and
//! `/files/{file_path:path}` for a parameter spanning several segments.
//! Matching is done by [matchit](https://docs.rs/matchit) (a radix tree).

mod group;
mod invoke;
mod operation;

use std::sync::Arc;

use http::{HeaderValue, Method};
use tower::util::BoxCloneSyncService;

use crate::params::{AppContext, RouteInfo};
pub use group::ApiRouter;
pub use invoke::{BoxService, Request, Route};
pub(crate) use invoke::{LayerFn, PathParams, layer_fn, run};
pub use operation::{HandlerFn, HandlerFuture, IntoOperation, Operation, Param};
#[doc(hidden)]
pub use operation::{call_async, call_sync};

/// What the router found for a request.
pub(crate) enum RouteMatch<'a> {
    /// An operation, with the percent-decoded path parameters.
    Found(&'a Arc<Operation>, Vec<(Box<str>, String)>),
    /// The path exists but not for this method; the `Allow` header value.
    MethodNotAllowed(HeaderValue),
    /// No route has this path.
    NotFound,
}

struct PathEntry {
    operations: Vec<Arc<Operation>>,
    allow: HeaderValue,
}

/// All the app's operations, by path and method.
pub(crate) struct Router {
    tree: matchit::Router<usize>,
    entries: Vec<PathEntry>,
}

/// Turns FastAPI's `{name:path}` into matchit's catch-all `{*name}`.
pub(crate) fn matchit_template(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    let mut rest = path;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let Some(len) = rest[start..].find('}') else {
            break;
        };
        let inner = &rest[start + 1..start + len];
        match inner.strip_suffix(":path") {
            Some(name) => out.push_str(&format!("{{*{name}}}")),
            None => out.push_str(&format!("{{{inner}}}")),
        }
        rest = &rest[start + len + 1..];
    }
    out.push_str(rest);
    out
}

impl Router {
    /// Builds the router; panics with a clear message on a duplicate or
    /// conflicting route, as these are programming errors found at startup.
    /// Operation `i` of `operations` gets id `i` (the watchdog's key), its
    /// route information, and its router layers around it.
    pub(crate) fn new(
        operations: Vec<Operation>,
        app: &Arc<AppContext>,
        default_timeout: Option<std::time::Duration>,
    ) -> Self {
        let mut tree = matchit::Router::new();
        let mut entries: Vec<PathEntry> = Vec::new();
        let mut templates: Vec<String> = Vec::new();
        for (id, mut op) in operations.into_iter().enumerate() {
            op.id = id;
            op.route = Arc::new(RouteInfo::new(
                id,
                op.method.clone(),
                op.path,
                op.status,
                op.dependencies.iter().map(|d| d.run).collect(),
            ));
            if !op.layers.is_empty() {
                let inner = invoke::OperationService {
                    app: Arc::clone(app),
                    handler: op.handler,
                    route: Arc::clone(&op.route),
                    timeout: op.timeout.or(default_timeout),
                };
                let service = op
                    .layers
                    .iter()
                    .fold(BoxCloneSyncService::new(inner), |svc, layer| layer(svc));
                op.service = Some(service);
            }
            let template = matchit_template(op.path);
            let index = match templates.iter().position(|t| *t == template) {
                Some(i) => i,
                None => {
                    tree.insert(template.clone(), entries.len())
                        .unwrap_or_else(|e| {
                            panic!("brisk: cannot add route {} {}: {e}", op.method, op.path)
                        });
                    templates.push(template);
                    entries.push(PathEntry {
                        operations: Vec::new(),
                        allow: HeaderValue::from_static(""),
                    });
                    entries.len() - 1
                }
            };
            let entry = &mut entries[index];
            if entry.operations.iter().any(|o| o.method == op.method) {
                panic!("brisk: route {} {} is declared twice", op.method, op.path);
            }
            entry.operations.push(Arc::new(op));
            let allow: Vec<&str> = entry.operations.iter().map(|o| o.method.as_str()).collect();
            entry.allow = HeaderValue::from_str(&allow.join(", "))
                .expect("method names are valid header text");
        }
        Router { tree, entries }
    }

    /// Finds the operation for `method` and `path`.
    ///
    /// As in Starlette, the path is matched percent-decoded (`%2F` is a `/`
    /// there too), and only the declared methods match: `HEAD` on a `GET`
    /// route is a 405, as FastAPI answers it.
    pub(crate) fn route(&self, method: &Method, path: &str) -> RouteMatch<'_> {
        let decoded = percent_encoding::percent_decode_str(path).decode_utf8_lossy();
        let path: &str = &decoded;
        let Ok(found) = self.tree.at(path) else {
            return RouteMatch::NotFound;
        };
        let entry = &self.entries[*found.value];
        match entry.operations.iter().find(|o| o.method == method) {
            Some(op) => {
                let params = found
                    .params
                    .iter()
                    .map(|(k, v)| (Box::from(k), v.to_owned()))
                    .collect();
                RouteMatch::Found(op, params)
            }
            // matchit prefers `/users/me` over `/users/{username}`; Starlette
            // tries every route in turn and answers 405 only if none has the
            // method. On this (rare) path, look for another template that
            // matches and has it.
            None => match self.other_route_with_method(method, path) {
                Some(found) => found,
                None => RouteMatch::MethodNotAllowed(self.allowed_methods(path, &entry.allow)),
            },
        }
    }

    /// The first other route whose template matches `path` and that has `method`.
    fn other_route_with_method(&self, method: &Method, path: &str) -> Option<RouteMatch<'_>> {
        // `path` is decoded already.
        self.entries.iter().find_map(|entry| {
            let op = entry.operations.iter().find(|o| o.method == method)?;
            let params = match_template(&matchit_template(op.path), path)?;
            Some(RouteMatch::Found(op, params))
        })
    }

    /// `Allow` for a path: the methods of every route matching it (the
    /// matched entry's precomputed value when it is the only one).
    fn allowed_methods(&self, path: &str, matched: &HeaderValue) -> HeaderValue {
        let mut methods: Vec<&str> = Vec::new();
        for entry in &self.entries {
            let Some(first) = entry.operations.first() else {
                continue;
            };
            if match_template(&matchit_template(first.path), path).is_some() {
                for op in &entry.operations {
                    if !methods.contains(&op.method.as_str()) {
                        methods.push(op.method.as_str());
                    }
                }
            }
        }
        if methods.is_empty() {
            return matched.clone();
        }
        HeaderValue::from_str(&methods.join(", ")).unwrap_or_else(|_| matched.clone())
    }

    /// Where to redirect a path no route has, when the same path with (or
    /// without) a trailing slash has one: FastAPI's `redirect_slashes`.
    pub(crate) fn slash_redirect(&self, path: &str) -> Option<String> {
        if path == "/" {
            return None;
        }
        let other = match path.strip_suffix('/') {
            Some(trimmed) => trimmed.to_owned(),
            None => format!("{path}/"),
        };
        let decoded = percent_encoding::percent_decode_str(&other).decode_utf8_lossy();
        self.tree.at(&decoded).is_ok().then_some(other)
    }

    /// Every operation (in no particular order; `Operation::id` is the registration order).
    pub(crate) fn operations(&self) -> impl Iterator<Item = &Arc<Operation>> {
        self.entries.iter().flat_map(|e| e.operations.iter())
    }
}

/// Matches `path` (already percent-decoded) against a matchit-style
/// template (`{name}` one segment, `{*name}` the rest), returning the
/// parameters.
fn match_template(template: &str, path: &str) -> Option<Vec<(Box<str>, String)>> {
    let decode = |v: &str| v.to_owned();
    let mut params = Vec::new();
    let mut segments = path.split('/');
    for part in template.split('/') {
        if let Some(name) = part.strip_prefix("{*").and_then(|p| p.strip_suffix('}')) {
            let rest: Vec<&str> = segments.by_ref().collect();
            let rest = rest.join("/");
            if rest.is_empty() {
                return None;
            }
            params.push((Box::from(name), decode(&rest)));
            return Some(params);
        }
        let segment = segments.next()?;
        match part.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
            Some(name) if !segment.is_empty() => params.push((Box::from(name), decode(segment))),
            Some(_) => return None,
            None if part == segment => {}
            None => return None,
        }
    }
    segments.next().is_none().then_some(params)
}

#[cfg(test)]
mod tests {
    use super::{match_template, matchit_template};

    #[test]
    fn matches_templates_segment_by_segment() {
        let p = match_template("/users/{username}", "/users/me").unwrap();
        assert_eq!(&*p[0].0, "username");
        assert_eq!(p[0].1, "me");
        assert!(match_template("/users/{username}", "/users/").is_none());
        assert!(match_template("/users/{username}", "/users/a/b").is_none());
        let p = match_template("/files/{*path}", "/files/a/b c").unwrap();
        assert_eq!(p[0].1, "a/b c");
    }

    #[test]
    fn converts_fastapi_path_converter() {
        assert_eq!(
            matchit_template("/files/{file_path:path}"),
            "/files/{*file_path}"
        );
        assert_eq!(matchit_template("/items/{item_id}/x"), "/items/{item_id}/x");
    }
}
