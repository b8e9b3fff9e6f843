//! Forms and file uploads: `application/x-www-form-urlencoded` and
//! `multipart/form-data` bodies, read once per request into a
//! [`ParsedForm`], then handed out to [`Form<T>`] (a whole model),
//! [`FormField<T>`] (one field, FastAPI's `Form()`), [`UploadFile`] and
//! [`FileBytes`] parameters.
//!
//! Multipart bodies are parsed as they arrive (multer): text fields are kept
//! (at most 1 MiB each, Starlette's limit), file parts stay in memory up to
//! 1 MiB and are spooled to a temporary file beyond it (Starlette's
//! `SpooledTemporaryFile`), so a large upload never sits in memory. A
//! temporary file is removed when its `UploadFile` is dropped: after the
//! handler, on an error or a panic, or when the client goes away.
//!
//! FastAPI's rules, recorded from it (`tests/fixtures/fastapi_forms.json`):
//! an empty value counts as absent, the last of repeated keys wins for a
//! single value, a file part with an empty filename and no content is no
//! file, and other content types give an empty form (so: 422 `missing`).

use std::path::Path;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use http::HeaderMap;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};
use tokio::io::AsyncWriteExt;

use super::sources::FromValues;
use super::{FromRequest, Location, ParamDoc, ParamSpec, Rejection, RequestContext};
use crate::error::{ErrorItem, HttpError, LocPart};
use crate::response::{CloseConnection, IntoResponse};

/// Limits on form bodies, from the server configuration
/// (`--limit-upload-size`, `--limit-upload-part-size`, `--limit-max-files`,
/// `--limit-max-fields`).
///
/// ```
/// let limits = brisk::params::UploadLimits::default();
/// assert_eq!(limits.max_files, 1000);
/// ```
#[derive(Debug, Clone, Copy)]
pub struct UploadLimits {
    /// The largest multipart body in bytes (413 beyond).
    pub max_upload_size: u64,
    /// The largest single part in bytes (413 beyond).
    pub max_part_size: u64,
    /// The most file parts (Starlette's `max_files`; 400 beyond).
    pub max_files: usize,
    /// The most non-file fields (Starlette's `max_fields`; 400 beyond).
    pub max_fields: usize,
    /// A file part larger than this goes to a temporary file.
    pub spool_threshold: usize,
}

impl Default for UploadLimits {
    /// 4 GiB uploads, parts as large, 1,000 files and 1,000 fields
    /// (Starlette's), spooled to disk beyond 1 MiB.
    fn default() -> Self {
        UploadLimits {
            max_upload_size: 4 << 30,
            max_part_size: 4 << 30,
            max_files: 1000,
            max_fields: 1000,
            spool_threshold: 1 << 20,
        }
    }
}

/// The largest text (non-file) field of a multipart body: Starlette's
/// `max_part_size`.
const MAX_TEXT_FIELD: usize = 1 << 20;

/// Where an uploaded file's bytes are.
#[derive(Debug, Clone)]
enum Storage {
    Memory(Bytes),
    /// A temporary file, removed when the last handle is dropped.
    Disk(Arc<tempfile::TempPath>),
}

/// An uploaded file (FastAPI's `UploadFile`): its name, type and headers
/// as sent, its size, and its bytes (in memory up to 1 MiB, else in a
/// temporary file removed when this is dropped).
///
/// Read it with [`bytes`](UploadFile::bytes) or
/// [`save_to`](UploadFile::save_to) in an `async fn`, and with
/// [`blocking_bytes`](UploadFile::blocking_bytes) or
/// [`reader`](UploadFile::reader) in a plain `fn` (which runs on the pool).
///
/// ```
/// use brisk::prelude::*;
/// use brisk::params::UploadFile;
///
/// #[post("/upload")]
/// async fn upload(file: UploadFile) -> Json<Value> {
///     let bytes = file.bytes().await.unwrap();
///     Json(json!({"filename": file.filename, "size": file.size(), "first": bytes[0]}))
/// }
///
/// let client = brisk::TestClient::new(App::new().routes(routes![upload]));
/// let body = "--b\r\ncontent-disposition: form-data; name=\"file\"; filename=\"a.txt\"\r\n\r\nhello\r\n--b--\r\n";
/// let resp = client.post("/upload").header("content-type", "multipart/form-data; boundary=b").body(body).send();
/// assert_eq!(resp.json::<Value>(), json!({"filename": "a.txt", "size": 5, "first": 104}));
/// ```
#[derive(Debug, Clone)]
pub struct UploadFile {
    /// The file name the client gave (may be empty).
    pub filename: String,
    /// The part's `Content-Type`, if it had one.
    pub content_type: Option<String>,
    /// The part's headers.
    pub headers: HeaderMap,
    size: u64,
    storage: Storage,
}

impl UploadFile {
    /// The size in bytes.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Whether the bytes are in memory (else in a temporary file).
    pub fn in_memory(&self) -> bool {
        matches!(self.storage, Storage::Memory(_))
    }

    /// The temporary file holding the bytes, when spooled to disk.
    pub fn path(&self) -> Option<&Path> {
        match &self.storage {
            Storage::Disk(path) => Some(path),
            Storage::Memory(_) => None,
        }
    }

    /// All the bytes (read from disk off the event loop when spooled).
    pub async fn bytes(&self) -> std::io::Result<Bytes> {
        match &self.storage {
            Storage::Memory(bytes) => Ok(bytes.clone()),
            Storage::Disk(path) => tokio::fs::read(&**path).await.map(Bytes::from),
        }
    }

    /// All the bytes, with blocking reads: for plain `fn` handlers, which
    /// run on the thread pool. Never call it on the event loop.
    pub fn blocking_bytes(&self) -> std::io::Result<Bytes> {
        match &self.storage {
            Storage::Memory(bytes) => Ok(bytes.clone()),
            Storage::Disk(path) => std::fs::read(&**path).map(Bytes::from),
        }
    }

    /// A blocking reader over the bytes (for plain `fn` handlers: hash or
    /// parse a large file without holding it in memory).
    pub fn reader(&self) -> std::io::Result<Box<dyn std::io::Read + Send>> {
        match &self.storage {
            Storage::Memory(bytes) => Ok(Box::new(std::io::Cursor::new(bytes.clone()))),
            Storage::Disk(path) => Ok(Box::new(std::io::BufReader::new(std::fs::File::open(
                &**path,
            )?))),
        }
    }

    /// An async reader over the bytes.
    pub async fn async_reader(
        &self,
    ) -> std::io::Result<Box<dyn tokio::io::AsyncRead + Send + Unpin>> {
        match &self.storage {
            Storage::Memory(bytes) => Ok(Box::new(std::io::Cursor::new(bytes.clone()))),
            Storage::Disk(path) => Ok(Box::new(tokio::fs::File::open(&**path).await?)),
        }
    }

    /// Copies the file to `destination` (off the event loop).
    pub async fn save_to(&self, destination: impl AsRef<Path>) -> std::io::Result<u64> {
        match &self.storage {
            Storage::Memory(bytes) => {
                tokio::fs::write(destination, bytes).await?;
                Ok(bytes.len() as u64)
            }
            Storage::Disk(path) => tokio::fs::copy(&**path, destination).await,
        }
    }

    /// A part FastAPI treats as no file at all: no name and no content.
    fn is_absent(&self) -> bool {
        self.filename.is_empty() && self.size == 0
    }
}

/// A request's form, parsed once.
#[derive(Default)]
pub(crate) struct ParsedForm {
    fields: Vec<(String, String)>,
    /// Taken by the parameter that claims them.
    files: Vec<(String, Option<UploadFile>)>,
}

impl ParsedForm {
    pub(crate) fn values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.fields
            .iter()
            .filter(move |(k, v)| k == name && !v.is_empty())
            .map(|(_, v)| v.as_str())
    }

    fn take_files(&mut self, name: &str) -> Vec<UploadFile> {
        self.files
            .iter_mut()
            .filter(|(k, _)| k == name)
            .filter_map(|(_, f)| f.take())
            .filter(|f| !f.is_absent())
            .collect()
    }

    /// The form as pydantic receives it for a model: one key per name
    /// (a list when repeated, or when the model wants a list), empty values
    /// left out.
    fn as_object(&self, is_list: impl Fn(&str) -> bool) -> Map<String, Value> {
        let mut object = Map::new();
        for (key, value) in &self.fields {
            if value.is_empty() {
                continue;
            }
            let value = Value::String(value.clone());
            match object.get_mut(key) {
                Some(Value::Array(list)) => list.push(value),
                Some(single) => {
                    let first = single.take();
                    *single = Value::Array(vec![first, value]);
                }
                None if is_list(key) => {
                    object.insert(key.clone(), Value::Array(vec![value]));
                }
                None => {
                    object.insert(key.clone(), value);
                }
            }
        }
        object
    }
}

/// The request's form, parsing the body the first time.
pub(crate) async fn parsed(cx: &mut RequestContext) -> Result<&mut ParsedForm, Rejection> {
    if cx.form.is_none() {
        let form = parse(cx).await?;
        cx.form = Some(Box::new(form));
    }
    Ok(cx.form.as_mut().expect("parsed form"))
}

fn bad_request(detail: &str) -> Rejection {
    Rejection::Respond(HttpError::bad_request(detail).into_response())
}

fn too_large(detail: String) -> Rejection {
    let mut resp = HttpError::new(413, detail).into_response();
    // The rest of the body is not read: the connection cannot be reused.
    resp.extensions_mut().insert(CloseConnection);
    Rejection::Respond(resp)
}

async fn parse(cx: &mut RequestContext) -> Result<ParsedForm, Rejection> {
    let content_type = cx
        .headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let limits = cx.app().uploads;
    match essence.as_str() {
        "application/x-www-form-urlencoded" => {
            let bytes = cx.body_bytes().await?;
            let fields: Vec<(String, String)> =
                form_urlencoded::parse(&bytes).into_owned().collect();
            if fields.len() > limits.max_fields {
                return Err(bad_request(&format!(
                    "Too many fields. Maximum number of fields is {}.",
                    limits.max_fields
                )));
            }
            Ok(ParsedForm {
                fields,
                files: Vec::new(),
            })
        }
        "multipart/form-data" => {
            let Ok(boundary) = multer::parse_boundary(&content_type) else {
                return Err(bad_request("Missing boundary in multipart."));
            };
            let body = cx.take_body();
            parse_multipart(body, boundary, limits).await
        }
        // Starlette reads any other body as an empty form.
        _ => Ok(ParsedForm::default()),
    }
}

/// A multer error as the answer FastAPI/Starlette would give (or 413/408).
fn multipart_error(err: multer::Error, limits: &UploadLimits) -> Rejection {
    match err {
        multer::Error::StreamSizeExceeded { .. } => too_large(format!(
            "Upload too large: the limit is {} bytes",
            limits.max_upload_size
        )),
        multer::Error::FieldSizeExceeded { .. } => too_large(format!(
            "Part too large: the limit is {} bytes",
            limits.max_part_size
        )),
        multer::Error::StreamReadFailed(inner) if crate::body::is_body_timeout(&*inner) => {
            let mut resp = HttpError::new(408, "Request Timeout").into_response();
            resp.extensions_mut().insert(CloseConnection);
            Rejection::Respond(resp)
        }
        other => {
            tracing::debug!(error = %other, "invalid multipart body");
            let mut resp =
                HttpError::bad_request("There was an error parsing the body").into_response();
            resp.extensions_mut().insert(CloseConnection);
            Rejection::Respond(resp)
        }
    }
}

async fn parse_multipart(
    body: crate::body::Body,
    boundary: String,
    limits: UploadLimits,
) -> Result<ParsedForm, Rejection> {
    let constraints = multer::Constraints::new().size_limit(
        multer::SizeLimit::new()
            .whole_stream(limits.max_upload_size)
            .per_field(limits.max_part_size),
    );
    let stream = http_body_util::BodyDataStream::new(body);
    let mut multipart = multer::Multipart::with_constraints(stream, boundary, constraints);
    let mut form = ParsedForm::default();
    let (mut n_files, mut n_fields) = (0usize, 0usize);
    loop {
        let field = match multipart.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => break,
            Err(err) => return Err(multipart_error(err, &limits)),
        };
        let name = field.name().unwrap_or("").to_owned();
        if let Some(filename) = field.file_name().map(str::to_owned) {
            n_files += 1;
            if n_files > limits.max_files {
                return Err(bad_request(&format!(
                    "Too many files. Maximum number of files is {}.",
                    limits.max_files
                )));
            }
            let content_type = field.content_type().map(|m| m.to_string());
            let headers = field.headers().clone();
            let (size, storage) = spool(field, &limits).await?;
            form.files.push((
                name,
                Some(UploadFile {
                    filename,
                    content_type,
                    headers,
                    size,
                    storage,
                }),
            ));
        } else {
            n_fields += 1;
            if n_fields > limits.max_fields {
                return Err(bad_request(&format!(
                    "Too many fields. Maximum number of fields is {}.",
                    limits.max_fields
                )));
            }
            let mut field = field;
            let mut text = BytesMut::new();
            loop {
                match field.chunk().await {
                    Ok(Some(chunk)) => {
                        if text.len() + chunk.len() > MAX_TEXT_FIELD {
                            return Err(bad_request(&format!(
                                "Part exceeded maximum size of {}KB.",
                                MAX_TEXT_FIELD / 1024
                            )));
                        }
                        text.extend_from_slice(&chunk);
                    }
                    Ok(None) => break,
                    Err(err) => return Err(multipart_error(err, &limits)),
                }
            }
            form.fields
                .push((name, String::from_utf8_lossy(&text).into_owned()));
        }
    }
    Ok(form)
}

/// Reads a file part: in memory up to the threshold, then into a
/// temporary file (created and written off the event loop).
async fn spool(
    mut field: multer::Field<'static>,
    limits: &UploadLimits,
) -> Result<(u64, Storage), Rejection> {
    let mut memory = BytesMut::new();
    let mut disk: Option<(tokio::fs::File, tempfile::TempPath)> = None;
    let mut size = 0u64;
    let io_failed = |err: std::io::Error| {
        tracing::error!(error = %err, "could not spool an upload to a temporary file");
        Rejection::Respond(HttpError::internal().into_response())
    };
    loop {
        let chunk = match field.chunk().await {
            Ok(Some(chunk)) => chunk,
            Ok(None) => break,
            Err(err) => return Err(multipart_error(err, limits)),
        };
        size += chunk.len() as u64;
        match &mut disk {
            Some((file, _)) => file.write_all(&chunk).await.map_err(io_failed)?,
            None if memory.len() + chunk.len() > limits.spool_threshold => {
                let temp = tokio::task::spawn_blocking(|| {
                    tempfile::Builder::new().prefix("brisk-upload-").tempfile()
                })
                .await
                .map_err(|e| io_failed(std::io::Error::other(e)))?
                .map_err(io_failed)?;
                let (file, path) = temp.into_parts();
                let mut file = tokio::fs::File::from_std(file);
                file.write_all(&memory).await.map_err(io_failed)?;
                file.write_all(&chunk).await.map_err(io_failed)?;
                memory = BytesMut::new();
                disk = Some((file, path));
            }
            None => memory.extend_from_slice(&chunk),
        }
    }
    match disk {
        Some((mut file, path)) => {
            file.flush().await.map_err(io_failed)?;
            Ok((size, Storage::Disk(Arc::new(path))))
        }
        None => Ok((size, Storage::Memory(memory.freeze()))),
    }
}

/// One form field (FastAPI's `username: str = Form()`), named after the
/// parameter, with the query parameters' rules: a scalar takes the last
/// value and is required, `Option<T>` may be absent, `Vec<T>` takes every
/// value; constraints from `#[param(...)]`; errors at `["body", name]`.
///
/// ```
/// use brisk::prelude::*;
/// use brisk::params::FormField;
///
/// #[post("/login")]
/// async fn login(username: FormField<String>, #[param(min_length = 3)] password: FormField<String>) -> String {
///     format!("hello {}", username.0)
/// }
///
/// let client = brisk::TestClient::new(App::new().routes(routes![login]));
/// let form = |body: &'static str| client.post("/login").header("content-type", "application/x-www-form-urlencoded").body(body).send();
/// assert_eq!(form("username=ann&password=secret").text(), "hello ann");
/// assert_eq!(form("username=ann").json::<Value>()["detail"][0]["loc"], json!(["body", "password"]));
/// ```
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(transparent)]
pub struct FormField<T>(pub T);

impl<T> std::ops::Deref for FormField<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: FromValues> FromRequest for FormField<T> {
    async fn from_request(
        cx: &mut RequestContext,
        spec: &'static ParamSpec,
    ) -> Result<Self, Rejection> {
        let form = parsed(cx).await?;
        let name = spec.wire_name(Location::Body);
        T::from_values(form.values(name), spec, Location::Body)
            .map(FormField)
            .map_err(Rejection::Invalid)
    }

    fn describe(_spec: &'static ParamSpec) -> ParamDoc {
        ParamDoc::FormField {
            schema: T::values_schema,
            required: T::required(),
            file: false,
        }
    }
}

/// A whole form as a model (FastAPI's `Annotated[Model, Form()]`): fields
/// by name, validated as a JSON body would be (constraints, nested errors),
/// each located at `["body", field]`.
///
/// ```
/// use brisk::prelude::*;
/// use brisk::params::Form;
///
/// #[derive(Deserialize, JsonSchema)]
/// struct Profile { name: String, age: u8, #[serde(default)] tags: Vec<String> }
///
/// #[post("/profile")]
/// async fn profile(form: Form<Profile>) -> Json<Value> {
///     Json(json!({"name": form.name, "age": form.age, "tags": form.tags}))
/// }
///
/// let client = brisk::TestClient::new(App::new().routes(routes![profile]));
/// let resp = client.post("/profile").header("content-type", "application/x-www-form-urlencoded")
///     .body("name=ann&age=30&tags=a&tags=b").send();
/// assert_eq!(resp.json::<Value>(), json!({"name": "ann", "age": 30, "tags": ["a", "b"]}));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Form<T>(pub T);

impl<T> std::ops::Deref for Form<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T> FromRequest for Form<T>
where
    T: DeserializeOwned + schemars::JsonSchema + Send + 'static,
{
    async fn from_request(
        cx: &mut RequestContext,
        _spec: &'static ParamSpec,
    ) -> Result<Self, Rejection> {
        // Made once per type, as for JSON bodies.
        let schema = super::body::schema_of::<T>();
        let form = parsed(cx).await?;
        let object = Value::Object(form.as_object(|name| is_list(&schema.schema, name)));
        super::body::validate_value::<T>(object, &schema, vec![LocPart::from("body")])
            .map(Form)
            .map_err(Rejection::Invalid)
    }

    fn describe(_spec: &'static ParamSpec) -> ParamDoc {
        ParamDoc::FormModel {
            schema: |generator| generator.subschema_for::<T>().to_value(),
        }
    }
}

/// Whether the model's property `name` is a list (then a single value sent
/// for it is still a list).
fn is_list(schema: &Value, name: &str) -> bool {
    let array = json!("array");
    schema["properties"][name]
        .get("type")
        .is_some_and(|t| *t == array || t.as_array().is_some_and(|ts| ts.contains(&array)))
}

/// pydantic's error for a text field where a file was expected.
fn expected_file(spec: &ParamSpec, form: &ParsedForm) -> Option<ErrorItem> {
    let name = spec.wire_name(Location::Body);
    let text = form.values(name).last()?;
    Some(
        ErrorItem::new(
            "value_error",
            spec.loc(Location::Body),
            "Value error, Expected UploadFile, received: <class 'str'>",
            Value::String(text.to_owned()),
        )
        .with_ctx(json!({"error": {}})),
    )
}

fn missing(spec: &ParamSpec) -> Rejection {
    Rejection::Invalid(vec![ErrorItem::missing(
        spec.loc(Location::Body),
        Value::Null,
    )])
}

fn file_doc() -> ParamDoc {
    ParamDoc::FormField {
        schema: |_| json!({"type": "string", "contentMediaType": "application/octet-stream"}),
        required: true,
        file: true,
    }
}

impl FromRequest for UploadFile {
    async fn from_request(
        cx: &mut RequestContext,
        spec: &'static ParamSpec,
    ) -> Result<Self, Rejection> {
        let form = parsed(cx).await?;
        match form.take_files(spec.wire_name(Location::Body)).pop() {
            Some(file) => Ok(file),
            None => Err(expected_file(spec, form)
                .map(|e| Rejection::Invalid(vec![e]))
                .unwrap_or_else(|| missing(spec))),
        }
    }

    fn describe(_spec: &'static ParamSpec) -> ParamDoc {
        file_doc()
    }
}

impl FromRequest for Option<UploadFile> {
    async fn from_request(
        cx: &mut RequestContext,
        spec: &'static ParamSpec,
    ) -> Result<Self, Rejection> {
        let form = parsed(cx).await?;
        Ok(form.take_files(spec.wire_name(Location::Body)).pop())
    }

    fn describe(_spec: &'static ParamSpec) -> ParamDoc {
        ParamDoc::FormField {
            schema: |_| json!({"anyOf": [{"type": "string", "contentMediaType": "application/octet-stream"}, {"type": "null"}]}),
            required: false,
            file: true,
        }
    }
}

/// Several files under one name (FastAPI's `list[UploadFile]`); at least
/// one is required.
impl FromRequest for Vec<UploadFile> {
    async fn from_request(
        cx: &mut RequestContext,
        spec: &'static ParamSpec,
    ) -> Result<Self, Rejection> {
        let form = parsed(cx).await?;
        let files = form.take_files(spec.wire_name(Location::Body));
        if files.is_empty() {
            return Err(missing(spec));
        }
        Ok(files)
    }

    fn describe(_spec: &'static ParamSpec) -> ParamDoc {
        ParamDoc::FormField {
            schema: |_| json!({"type": "array", "items": {"type": "string", "contentMediaType": "application/octet-stream"}}),
            required: true,
            file: true,
        }
    }
}

/// A small file's bytes (FastAPI's `file: bytes = File()`); a text field
/// of that name is taken as its bytes, as FastAPI does.
///
/// ```
/// use brisk::prelude::*;
/// use brisk::params::FileBytes;
///
/// #[post("/files")]
/// async fn files(file: FileBytes) -> Json<Value> {
///     Json(json!({"file_size": file.0.len()}))
/// }
/// # let _ = routes![files];
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileBytes(pub Bytes);

impl FromRequest for FileBytes {
    async fn from_request(
        cx: &mut RequestContext,
        spec: &'static ParamSpec,
    ) -> Result<Self, Rejection> {
        let form = parsed(cx).await?;
        let name = spec.wire_name(Location::Body);
        if let Some(file) = form.take_files(name).pop() {
            return file.bytes().await.map(FileBytes).map_err(|err| {
                tracing::error!(error = %err, "could not read a spooled upload");
                Rejection::Respond(HttpError::internal().into_response())
            });
        }
        match form.values(name).last() {
            Some(text) => Ok(FileBytes(Bytes::copy_from_slice(text.as_bytes()))),
            None => Err(missing(spec)),
        }
    }

    fn describe(_spec: &'static ParamSpec) -> ParamDoc {
        file_doc()
    }
}

/// A form field with a default (`#[param(default = FormField(false))]`):
/// absent (or empty) gives the default; documented as not required.
impl<T: super::ParamValue> FromRequest for Option<FormField<T>> {
    async fn from_request(
        cx: &mut RequestContext,
        spec: &'static ParamSpec,
    ) -> Result<Self, Rejection> {
        let field = FormField::<Option<T>>::from_request(cx, spec).await?;
        Ok(field.0.map(FormField))
    }

    fn describe(_spec: &'static ParamSpec) -> ParamDoc {
        ParamDoc::FormField {
            schema: T::param_schema,
            required: false,
            file: false,
        }
    }
}
