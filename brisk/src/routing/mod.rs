//! The router: which [`Operation`] answers a method and path.
//!
//! Paths use FastAPI's template syntax, `/items/{item_id}`, and
//! `/files/{file_path:path}` for a parameter spanning several segments.
//! Matching is done by [matchit](https://docs.rs/matchit) (a radix tree).

mod group;
mod operation;

use std::sync::Arc;

use http::{HeaderValue, Method};

pub use group::ApiRouter;
pub use operation::{HandlerFn, HandlerFuture, IntoOperation, Operation, Param};

/// What the router found for a request.
pub(crate) enum RouteMatch<'a> {
    /// An operation, with the percent-decoded path parameters.
    Found(&'a Arc<Operation>, Vec<(Box<str>, String)>),
    /// The path exists but not for this method; the `Allow` header value.
    MethodNotAllowed(&'a HeaderValue),
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
    pub(crate) fn new(operations: Vec<Operation>) -> Self {
        let mut tree = matchit::Router::new();
        let mut entries: Vec<PathEntry> = Vec::new();
        let mut templates: Vec<String> = Vec::new();
        for (id, mut op) in operations.into_iter().enumerate() {
            op.id = id;
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

    /// Finds the operation for `method` and `path`. `HEAD` falls back to `GET`.
    pub(crate) fn route(&self, method: &Method, path: &str) -> RouteMatch<'_> {
        let Ok(found) = self.tree.at(path) else {
            return RouteMatch::NotFound;
        };
        let entry = &self.entries[*found.value];
        let op = entry
            .operations
            .iter()
            .find(|o| o.method == method)
            .or_else(|| {
                (method == Method::HEAD)
                    .then(|| entry.operations.iter().find(|o| o.method == Method::GET))
                    .flatten()
            });
        match op {
            Some(op) => {
                let params = found
                    .params
                    .iter()
                    .map(|(k, v)| {
                        let decoded = percent_encoding::percent_decode_str(v).decode_utf8_lossy();
                        (Box::from(k), decoded.into_owned())
                    })
                    .collect();
                RouteMatch::Found(op, params)
            }
            None => RouteMatch::MethodNotAllowed(&entry.allow),
        }
    }

    /// Every operation (in no particular order; `Operation::id` is the registration order).
    pub(crate) fn operations(&self) -> impl Iterator<Item = &Arc<Operation>> {
        self.entries.iter().flat_map(|e| e.operations.iter())
    }
}

#[cfg(test)]
mod tests {
    use super::matchit_template;

    #[test]
    fn converts_fastapi_path_converter() {
        assert_eq!(
            matchit_template("/files/{file_path:path}"),
            "/files/{*file_path}"
        );
        assert_eq!(matchit_template("/items/{item_id}/x"), "/items/{item_id}/x");
    }
}
