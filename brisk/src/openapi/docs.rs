//! The built-in documentation routes: `/openapi.json`, Swagger UI at
//! `/docs` and ReDoc at `/redoc`, with every asset compiled into the binary
//! (see `brisk/assets/update.sh` for where they come from), so no request
//! leaves the machine at build or run time.

use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use http::header::{CACHE_CONTROL, CONTENT_TYPE, HeaderValue};

use super::ApiInfo;
use crate::params::RequestContext;
use crate::response::{Body, Html, IntoResponse, Response};
use crate::routing::{HandlerFuture, Operation};

static SWAGGER_UI_JS: &[u8] = include_bytes!("../../assets/swagger-ui/swagger-ui-bundle.js");
static SWAGGER_UI_CSS: &[u8] = include_bytes!("../../assets/swagger-ui/swagger-ui.css");
static REDOC_JS: &[u8] = include_bytes!("../../assets/redoc/redoc.standalone.js");

/// Where the documentation is served; `None` turns a page off.
#[derive(Debug, Clone)]
pub(crate) struct DocsUrls {
    pub(crate) openapi: Option<String>,
    pub(crate) swagger: Option<String>,
    pub(crate) redoc: Option<String>,
}

impl Default for DocsUrls {
    fn default() -> Self {
        DocsUrls {
            openapi: Some("/openapi.json".into()),
            swagger: Some("/docs".into()),
            redoc: Some("/redoc".into()),
        }
    }
}

/// What the documentation routes serve: the document (built on first use
/// from the operations' descriptions) and the pages' settings. Kept in the
/// app's state, where the routes find it.
pub(crate) struct Docs {
    pub(crate) info: ApiInfo,
    pub(crate) urls: DocsUrls,
    /// `--root-path`: the prefix a proxy serves the app under (`""`: none).
    pub(crate) root_path: String,
    /// The operations, described (without their services), set once the
    /// app's router exists.
    operations: OnceLock<Vec<Operation>>,
    document: OnceLock<Bytes>,
}

impl Docs {
    pub(crate) fn new(info: ApiInfo, urls: DocsUrls, root_path: String) -> Arc<Self> {
        Arc::new(Docs {
            info,
            urls,
            root_path,
            operations: OnceLock::new(),
            document: OnceLock::new(),
        })
    }

    /// Gives the document its operations (once).
    pub(crate) fn set_operations(&self, operations: Vec<Operation>) {
        let _ = self.operations.set(operations);
    }

    /// The OpenAPI document as JSON bytes, generated on first use.
    pub(crate) fn document(&self) -> Bytes {
        self.document
            .get_or_init(|| {
                let operations = self.operations.get().map_or(&[][..], Vec::as_slice);
                let mut doc = super::document(&self.info, operations);
                if !self.root_path.is_empty() {
                    doc = with_servers(doc, &self.root_path);
                }
                Bytes::from(serde_json::to_vec(&doc).expect("the OpenAPI document is valid JSON"))
            })
            .clone()
    }
}

/// FastAPI's `servers: [{"url": root_path}]`, right after `info`.
fn with_servers(doc: serde_json::Value, root_path: &str) -> serde_json::Value {
    let serde_json::Value::Object(map) = doc else {
        return doc;
    };
    let mut out = serde_json::Map::new();
    for (key, value) in map {
        let after_info = key == "info";
        out.insert(key, value);
        if after_info {
            out.insert("servers".into(), serde_json::json!([{ "url": root_path }]));
        }
    }
    serde_json::Value::Object(out)
}

/// The app's [`Docs`], from a documentation route's request.
fn docs(cx: &RequestContext) -> Arc<Docs> {
    cx.state::<Docs>()
        .expect("the app registers its Docs with its documentation routes")
}

fn asset(bytes: &'static [u8], content_type: &'static str) -> Response {
    let mut resp = http::Response::new(Body::from(Bytes::from_static(bytes)));
    resp.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    resp.headers_mut().insert(
        CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=86400"),
    );
    resp
}

fn openapi_json(cx: &mut RequestContext) -> HandlerFuture<'_> {
    Box::pin(async move {
        let mut resp = http::Response::new(Body::from(docs(cx).document()));
        resp.headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        resp
    })
}

/// What a documentation page embeds: its own base URL (`page` picks it;
/// the route exists only when it is set), the document's URL, and the
/// escaped title.
fn page_inputs(
    cx: &RequestContext,
    page: fn(&DocsUrls) -> &Option<String>,
) -> (String, String, String) {
    let docs = docs(cx);
    // Behind a proxy under a prefix, the browser asks for the prefixed URLs.
    let root = &docs.root_path;
    let spec = format!("{root}{}", docs.urls.openapi.as_deref().unwrap_or_default());
    (
        format!("{root}{}", page(&docs.urls).as_deref().unwrap_or_default()),
        spec,
        html_escape(&docs.info.title),
    )
}

fn swagger_page(cx: &mut RequestContext) -> HandlerFuture<'_> {
    Box::pin(async move {
        let (base, spec, title) = page_inputs(cx, |u| &u.swagger);
        Html(format!(
            r#"<!DOCTYPE html>
<html>
<head>
<meta charset="utf-8">
<title>{title} - Swagger UI</title>
<link type="text/css" rel="stylesheet" href="{base}/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="{base}/swagger-ui-bundle.js"></script>
<script>
const ui = SwaggerUIBundle({{
    url: '{spec}',
    dom_id: '#swagger-ui',
    layout: 'BaseLayout',
    deepLinking: true,
    showExtensions: true,
    showCommonExtensions: true,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],
}})
</script>
</body>
</html>"#
        ))
        .into_response()
    })
}

fn redoc_page(cx: &mut RequestContext) -> HandlerFuture<'_> {
    Box::pin(async move {
        let (base, spec, title) = page_inputs(cx, |u| &u.redoc);
        Html(format!(
            r#"<!DOCTYPE html>
<html>
<head>
<title>{title} - ReDoc</title>
<meta charset="utf-8"/>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body {{ margin: 0; padding: 0; }}</style>
</head>
<body>
<noscript>ReDoc requires Javascript to function. Please enable it to browse the documentation.</noscript>
<redoc spec-url="{spec}"></redoc>
<script src="{base}/redoc.standalone.js"></script>
</body>
</html>"#
        ))
        .into_response()
    })
}

fn swagger_js(_cx: &mut RequestContext) -> HandlerFuture<'_> {
    Box::pin(async { asset(SWAGGER_UI_JS, "text/javascript; charset=utf-8") })
}

fn swagger_css(_cx: &mut RequestContext) -> HandlerFuture<'_> {
    Box::pin(async { asset(SWAGGER_UI_CSS, "text/css; charset=utf-8") })
}

fn redoc_js(_cx: &mut RequestContext) -> HandlerFuture<'_> {
    Box::pin(async { asset(REDOC_JS, "text/javascript; charset=utf-8") })
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The documentation routes for `urls` (hidden from the schema itself).
pub(crate) fn operations(urls: &DocsUrls) -> Vec<Operation> {
    // Paths are `&'static str` (macros produce literals); these are built
    // once per app.
    let leak = |s: String| -> &'static str { Box::leak(s.into_boxed_str()) };
    let get = |path: String, name: &'static str, handler: crate::routing::HandlerFn| {
        Operation::new(http::Method::GET, leak(path), name, handler, true).include_in_schema(false)
    };
    let mut ops = Vec::new();
    let Some(openapi) = &urls.openapi else {
        return ops;
    };
    ops.push(get(openapi.clone(), "openapi", openapi_json));
    if let Some(base) = &urls.swagger {
        ops.push(get(base.clone(), "swagger_ui_html", swagger_page));
        ops.push(get(
            format!("{base}/swagger-ui-bundle.js"),
            "swagger_ui_js",
            swagger_js,
        ));
        ops.push(get(
            format!("{base}/swagger-ui.css"),
            "swagger_ui_css",
            swagger_css,
        ));
    }
    if let Some(base) = &urls.redoc {
        ops.push(get(base.clone(), "redoc_html", redoc_page));
        ops.push(get(
            format!("{base}/redoc.standalone.js"),
            "redoc_js",
            redoc_js,
        ));
    }
    ops
}
