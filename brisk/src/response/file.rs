//! Files: [`FileResponse`] (Starlette's `FileResponse`) and
//! [`StaticFiles`] (Starlette's `StaticFiles`, mounted with
//! [`App::mount`](crate::App::mount)).
//!
//! A file is streamed from disk in 64 KiB reads (tokio's file I/O, off the
//! event loop), never read whole, with `Content-Type` from the extension,
//! `Content-Length`, `ETag`, `Last-Modified`, conditional requests
//! (`If-None-Match`, `If-Modified-Since` → 304), single byte ranges
//! (`Range` → 206, or 416), `HEAD`, and `Content-Disposition` for
//! downloads. Written here rather than on tower-http's `ServeDir` because
//! that one sends no `ETag` (so no `If-None-Match`), which browsers and
//! CDNs rely on.

use std::future::Future;
use std::io::SeekFrom;
use std::path::{Component, Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::SystemTime;

use futures_util::StreamExt;
use http::header::{self, HeaderValue};
use http::{HeaderMap, Method, StatusCode};
use tokio::io::{AsyncReadExt, AsyncSeekExt};

use super::{Body, IntoResponse, Response};

/// Read size when streaming a file.
const CHUNK: usize = 64 * 1024;

/// A file from disk as the answer.
///
/// ```
/// use brisk::prelude::*;
/// use brisk::response::FileResponse;
///
/// #[get("/report")]
/// async fn report() -> FileResponse {
///     FileResponse::new("Cargo.toml").filename("report.toml")
/// }
///
/// let client = brisk::TestClient::new(App::new().routes(routes![report]));
/// let resp = client.get("/report").send();
/// assert_eq!(resp.status(), 200);
/// assert_eq!(resp.header("content-disposition"), Some("attachment; filename=\"report.toml\""));
/// assert!(resp.header("etag").is_some());
/// let part = client.get("/report").header("range", "bytes=0-6").send();
/// assert_eq!((part.status().as_u16(), part.text()), (206, "[packag".to_owned()));
/// ```
#[derive(Debug, Clone)]
pub struct FileResponse {
    path: PathBuf,
    media_type: Option<String>,
    filename: Option<String>,
    inline: bool,
    status: StatusCode,
    headers: HeaderMap,
}

impl FileResponse {
    /// The file at `path` (a missing file answers 404).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        FileResponse {
            path: path.into(),
            media_type: None,
            filename: None,
            inline: false,
            status: StatusCode::OK,
            headers: HeaderMap::new(),
        }
    }

    /// The media type (default: guessed from the extension, else
    /// `application/octet-stream`).
    pub fn media_type(mut self, media_type: impl Into<String>) -> Self {
        self.media_type = Some(media_type.into());
        self
    }

    /// Offers the file as a download under this name
    /// (`Content-Disposition: attachment`).
    pub fn filename(mut self, name: impl Into<String>) -> Self {
        self.filename = Some(name.into());
        self
    }

    /// Shows the file in the browser under this name
    /// (`Content-Disposition: inline`).
    pub fn inline(mut self, name: impl Into<String>) -> Self {
        self.filename = Some(name.into());
        self.inline = true;
        self
    }

    /// Adds a header (panics on an invalid name or value).
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.append(
            header::HeaderName::try_from(name).expect("invalid header name"),
            HeaderValue::try_from(value).expect("invalid header value"),
        );
        self
    }

    fn status(mut self, status: StatusCode) -> Self {
        self.status = status;
        self
    }

    /// The answer to `request` (method and conditional / range headers).
    pub async fn respond(self, method: &Method, request: &HeaderMap) -> Response {
        let meta = match tokio::fs::metadata(&self.path).await {
            Ok(meta) if meta.is_file() => meta,
            _ => return not_found(),
        };
        let size = meta.len();
        let modified = meta.modified().ok();
        let etag = etag(size, modified);
        let last_modified = modified.map(httpdate::fmt_http_date);
        let mut headers = HeaderMap::new();
        let media_type = self.media_type.clone().unwrap_or_else(|| {
            mime_guess::from_path(&self.path)
                .first_raw()
                .map(|m| match m {
                    m if m.starts_with("text/") || m == "application/javascript" => {
                        format!("{m}; charset=utf-8")
                    }
                    m => m.to_owned(),
                })
                .unwrap_or_else(|| "application/octet-stream".into())
        });
        insert(&mut headers, header::CONTENT_TYPE, &media_type);
        insert(&mut headers, header::ETAG, &etag);
        if let Some(date) = &last_modified {
            insert(&mut headers, header::LAST_MODIFIED, date);
        }
        insert(&mut headers, header::ACCEPT_RANGES, "bytes");
        if let Some(name) = &self.filename {
            insert(
                &mut headers,
                header::CONTENT_DISPOSITION,
                &content_disposition(name, self.inline),
            );
        }
        headers.extend(self.headers.clone());

        if not_modified(request, &etag, modified) {
            let mut resp = http::Response::new(Body::empty());
            *resp.status_mut() = StatusCode::NOT_MODIFIED;
            for name in [header::ETAG, header::LAST_MODIFIED] {
                if let Some(v) = headers.get(&name) {
                    resp.headers_mut().insert(name, v.clone());
                }
            }
            return resp;
        }
        let (status, start, length) = match requested_range(request, size, &etag, modified) {
            Range::Whole => (self.status, 0, size),
            Range::Part(start, end) => {
                insert(
                    &mut headers,
                    header::CONTENT_RANGE,
                    &format!("bytes {start}-{end}/{size}"),
                );
                (StatusCode::PARTIAL_CONTENT, start, end - start + 1)
            }
            Range::Unsatisfiable => {
                let mut resp = detail(StatusCode::RANGE_NOT_SATISFIABLE, "Range Not Satisfiable");
                insert(
                    resp.headers_mut(),
                    header::CONTENT_RANGE,
                    &format!("bytes */{size}"),
                );
                resp.headers_mut()
                    .insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
                return resp;
            }
        };
        let body = if method == Method::HEAD || length == 0 {
            Body::empty()
        } else {
            match file_body(&self.path, start, length).await {
                Ok(body) => body,
                Err(_) => return not_found(),
            }
        };
        let mut resp = http::Response::new(body);
        *resp.status_mut() = status;
        *resp.headers_mut() = headers;
        resp.headers_mut()
            .insert(header::CONTENT_LENGTH, HeaderValue::from(length));
        resp
    }
}

/// The answer is made once the request's headers are known (after the
/// handler returns): brisk's operation runner finishes it with
/// [`FileResponse::respond`].
impl IntoResponse for FileResponse {
    fn into_response(self) -> Response {
        Deferred::response(move |method, headers| {
            Box::pin(async move { self.respond(&method, &headers).await })
        })
    }
}

/// A response that needs the request's method and headers to be made:
/// kept in a placeholder's extensions until the operation runner has them.
#[derive(Clone)]
pub(crate) struct Deferred(Arc<std::sync::Mutex<Option<DeferredFn>>>);

type DeferredFn =
    Box<dyn FnOnce(Method, HeaderMap) -> Pin<Box<dyn Future<Output = Response> + Send>> + Send>;

impl Deferred {
    fn response(
        f: impl FnOnce(Method, HeaderMap) -> Pin<Box<dyn Future<Output = Response> + Send>>
        + Send
        + 'static,
    ) -> Response {
        let mut resp = http::Response::new(Body::empty());
        resp.extensions_mut()
            .insert(Deferred(Arc::new(std::sync::Mutex::new(Some(Box::new(f))))));
        resp
    }

    /// Whether `resp` is a deferred one ([`finish`](Self::finish) has work).
    pub(crate) fn is_deferred(resp: &Response) -> bool {
        resp.extensions().get::<Deferred>().is_some()
    }

    /// Finishes `resp` if it is deferred.
    pub(crate) async fn finish(mut resp: Response, parts: &http::request::Parts) -> Response {
        let Some(deferred) = resp.extensions_mut().remove::<Deferred>() else {
            return resp;
        };
        let Some(f) = deferred.0.lock().ok().and_then(|mut f| f.take()) else {
            return resp;
        };
        f(parts.method.clone(), parts.headers.clone()).await
    }
}

fn insert(headers: &mut HeaderMap, name: header::HeaderName, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        headers.insert(name, v);
    }
}

/// A strong validator from size and modification time.
fn etag(size: u64, modified: Option<SystemTime>) -> String {
    let nanos = modified
        .and_then(|m| m.duration_since(SystemTime::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos());
    format!("\"{size:x}-{nanos:x}\"")
}

/// `attachment; filename="x"`, with RFC 6266's `filename*` for names that
/// are not plain ASCII (as Starlette).
fn content_disposition(name: &str, inline: bool) -> String {
    let kind = if inline { "inline" } else { "attachment" };
    if name.bytes().all(|b| b.is_ascii_graphic() || b == b' ') && !name.contains('"') {
        format!("{kind}; filename=\"{name}\"")
    } else {
        let encoded =
            percent_encoding::utf8_percent_encode(name, percent_encoding::NON_ALPHANUMERIC);
        format!("{kind}; filename*=utf-8''{encoded}")
    }
}

/// Whether a conditional GET can be answered 304.
fn not_modified(request: &HeaderMap, etag: &str, modified: Option<SystemTime>) -> bool {
    if let Some(tags) = request
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
    {
        return tags
            .split(',')
            .map(|t| t.trim().trim_start_matches("W/"))
            .any(|t| t == "*" || t == etag);
    }
    let since = request
        .get(header::IF_MODIFIED_SINCE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| httpdate::parse_http_date(v).ok());
    match (since, modified) {
        // HTTP dates have whole seconds.
        (Some(since), Some(modified)) => {
            let secs = |t: SystemTime| {
                t.duration_since(SystemTime::UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs())
            };
            secs(modified) <= secs(since)
        }
        _ => false,
    }
}

enum Range {
    Whole,
    /// First and last byte, inclusive.
    Part(u64, u64),
    Unsatisfiable,
}

/// The single byte range asked for (`Range: bytes=a-b`, `a-`, `-n`),
/// honouring `If-Range`; several ranges are answered whole.
fn requested_range(
    request: &HeaderMap,
    size: u64,
    etag: &str,
    modified: Option<SystemTime>,
) -> Range {
    let Some(spec) = request.get(header::RANGE).and_then(|v| v.to_str().ok()) else {
        return Range::Whole;
    };
    if let Some(condition) = request.get(header::IF_RANGE).and_then(|v| v.to_str().ok()) {
        let fresh = if condition.starts_with('"') {
            condition == etag
        } else {
            httpdate::parse_http_date(condition).ok()
                == modified.map(|m| {
                    // Compare at the HTTP date's precision.
                    httpdate::parse_http_date(&httpdate::fmt_http_date(m)).unwrap_or(m)
                })
        };
        if !fresh {
            return Range::Whole;
        }
    }
    let Some(ranges) = spec.trim().strip_prefix("bytes=") else {
        return Range::Whole;
    };
    if ranges.contains(',') {
        return Range::Whole;
    }
    let Some((first, last)) = ranges.trim().split_once('-') else {
        return Range::Whole;
    };
    let parse = |s: &str| s.trim().parse::<u64>().ok();
    let (start, end) = match (first.trim().is_empty(), parse(first), parse(last)) {
        // `-n`: the last n bytes.
        (true, _, Some(n)) if n > 0 => (size.saturating_sub(n), size.saturating_sub(1)),
        (false, Some(a), None) if last.trim().is_empty() => (a, size.saturating_sub(1)),
        (false, Some(a), Some(b)) if a <= b => (a, b.min(size.saturating_sub(1))),
        _ => return Range::Whole,
    };
    if size == 0 || start >= size {
        return Range::Unsatisfiable;
    }
    Range::Part(start, end)
}

/// `length` bytes of the file from `start`, read in chunks as the client
/// takes them.
async fn file_body(path: &Path, start: u64, length: u64) -> std::io::Result<Body> {
    let mut file = tokio::fs::File::open(path).await?;
    if start > 0 {
        file.seek(SeekFrom::Start(start)).await?;
    }
    let stream = tokio_util::io::ReaderStream::with_capacity(file.take(length), CHUNK);
    let stream = stream.map(|chunk| chunk.map_err(crate::body::BoxError::from));
    Ok(Body::new(http_body_util::StreamBody::new(
        stream.map(|r| r.map(http_body::Frame::data)),
    )))
}

/// A directory of files, served under a prefix with
/// [`App::mount`](crate::App::mount): Starlette's `StaticFiles`. With
/// [`html(true)`](StaticFiles::html), a directory answers its `index.html`
/// and a missing file `404.html` (a static site). Paths that would leave the
/// directory (`..`, encoded or not, absolute paths, symbolic links pointing
/// out of it) answer 404 and never read outside it.
///
/// ```
/// use brisk::prelude::*;
/// use brisk::response::StaticFiles;
///
/// let app = App::new().mount("/static", StaticFiles::new("."));
/// let client = brisk::TestClient::new(app);
/// assert_eq!(client.get("/static/Cargo.toml").send().status(), 200);
/// assert_eq!(client.get("/static/../Cargo.toml").send().status(), 404);
/// assert_eq!(client.get("/static/%2e%2e/Cargo.toml").send().status(), 404);
/// ```
#[derive(Clone, Debug)]
pub struct StaticFiles {
    root: PathBuf,
    html: bool,
}

impl StaticFiles {
    /// Serves the files under `directory`.
    pub fn new(directory: impl Into<PathBuf>) -> Self {
        StaticFiles {
            root: directory.into(),
            html: false,
        }
    }

    /// Serves `index.html` for directories and `404.html` for missing files.
    pub fn html(mut self, html: bool) -> Self {
        self.html = html;
        self
    }

    /// The answer to a request for `path` (relative to the mount).
    async fn answer(self, method: Method, path: String, headers: HeaderMap) -> Response {
        if method != Method::GET && method != Method::HEAD {
            let mut resp = detail(StatusCode::METHOD_NOT_ALLOWED, "Method Not Allowed");
            insert(resp.headers_mut(), header::ALLOW, "GET, HEAD");
            return resp;
        }
        let Ok(root) = tokio::fs::canonicalize(&self.root).await else {
            return not_found();
        };
        match self.locate(&root, &path).await {
            Found::File(file) => FileResponse::new(file).respond(&method, &headers).await,
            Found::Directory if self.html && !path.ends_with('/') && !path.is_empty() => {
                // `/static/docs` → `/static/docs/`, so relative links in its
                // index.html work (a relative Location keeps the mount's prefix).
                let last = path.rsplit('/').next().unwrap_or("");
                let mut resp = http::Response::new(Body::empty());
                *resp.status_mut() = StatusCode::TEMPORARY_REDIRECT;
                insert(resp.headers_mut(), header::LOCATION, &format!("{last}/"));
                resp
            }
            _ if self.html => match self.locate(&root, "404.html").await {
                Found::File(file) => {
                    FileResponse::new(file)
                        .status(StatusCode::NOT_FOUND)
                        .respond(&method, &headers)
                        .await
                }
                _ => not_found(),
            },
            _ => not_found(),
        }
    }

    /// Resolves `path` under `root` without ever leaving it.
    async fn locate(&self, root: &Path, path: &str) -> Found {
        let decoded = percent_encoding::percent_decode_str(path).decode_utf8_lossy();
        if decoded.contains('\0') || decoded.contains('\\') {
            return Found::Nothing;
        }
        let mut candidate = root.to_path_buf();
        for component in Path::new(decoded.trim_start_matches('/')).components() {
            match component {
                Component::Normal(part) => candidate.push(part),
                Component::CurDir => {}
                // `..`, a root or a prefix: refused, not resolved.
                _ => return Found::Nothing,
            }
        }
        // Symbolic links are followed, then the result must still be inside.
        let Ok(real) = tokio::fs::canonicalize(&candidate).await else {
            return Found::Nothing;
        };
        if !real.starts_with(root) {
            return Found::Nothing;
        }
        match tokio::fs::metadata(&real).await {
            Ok(m) if m.is_file() => Found::File(real),
            Ok(m) if m.is_dir() => {
                if !self.html {
                    return Found::Nothing;
                }
                let index = real.join("index.html");
                match tokio::fs::metadata(&index).await {
                    Ok(m) if m.is_file() && (decoded.is_empty() || decoded.ends_with('/')) => {
                        Found::File(index)
                    }
                    Ok(m) if m.is_file() => Found::Directory,
                    _ => Found::Nothing,
                }
            }
            _ => Found::Nothing,
        }
    }
}

enum Found {
    File(PathBuf),
    /// A directory with an `index.html`, asked for without the trailing slash.
    Directory,
    Nothing,
}

fn not_found() -> Response {
    detail(StatusCode::NOT_FOUND, "Not Found")
}

impl tower::Service<http::Request<Body>> for StaticFiles {
    type Response = Response;
    type Error = std::convert::Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, std::convert::Infallible>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<Body>) -> Self::Future {
        let this = self.clone();
        let method = req.method().clone();
        let path = req.uri().path().to_owned();
        let headers = req.headers().clone();
        Box::pin(async move { Ok(this.answer(method, path, headers).await) })
    }
}

/// An error answer with FastAPI's body, `{"detail": ...}`. (`HttpError`
/// lives in `error`, a stage before this one; these answers need no
/// exception handler of their own.)
fn detail(status: StatusCode, detail: &str) -> Response {
    super::json_response(status, &serde_json::json!({ "detail": detail }))
}
