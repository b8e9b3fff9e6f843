//! The JSON request body: [`Json<T>`](crate::Json) and [`Embed<T>`] as
//! parameters.
//!
//! The fast path is serde alone (`serde_json::from_slice`). Only when that
//! fails, or when the type's schema carries constraints serde cannot check,
//! does brisk parse to a `Value` and validate it like pydantic
//! ([`validate`](super::validate)) to report every error with FastAPI's shape.
//!
//! As in FastAPI 0.165, the body is read as JSON only when the request says
//! it is JSON (`application/json`, `application/*+json`); any other body is
//! validated as the string it is (a model then answers
//! `model_attributes_type`). With several body parameters (or one
//! [`Embed<T>`]), each is read from the field of its name in a JSON object
//! body, and the body is parsed once.

use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::json_decode::python_json_error;
use super::validate::{has_constraints, validate};
use super::{FromRequest, Location, ParamDoc, ParamSpec, Rejection, RequestContext};
use crate::error::{ErrorItem, LocPart};
use crate::response::{IntoResponse, Json};

/// The JSON Schema of a body type, and whether it has constraints that only
/// the schema knows about. Cached per parameter in its [`ParamSpec`].
#[doc(hidden)]
#[derive(Debug)]
pub struct BodySchema {
    pub(crate) schema: Value,
    pub(crate) has_constraints: bool,
}

impl BodySchema {
    fn of<T: JsonSchema>() -> Self {
        let schema = schemars::schema_for!(T).to_value();
        let has_constraints = has_constraints(&schema);
        BodySchema {
            schema,
            has_constraints,
        }
    }
}

impl<T> FromRequest for Json<T>
where
    T: DeserializeOwned + JsonSchema + Send,
{
    async fn from_request(
        cx: &mut RequestContext,
        spec: &'static ParamSpec,
    ) -> Result<Self, Rejection> {
        if spec.embed {
            return embedded::<T>(cx, spec).await.map(Json);
        }
        let json = is_json(cx.headers());
        let bytes = cx.body_bytes().await?;
        parse_body::<T>(&bytes, spec, json).map(Json)
    }

    fn describe(_spec: &'static ParamSpec) -> ParamDoc {
        ParamDoc::Body {
            schema: |generator| generator.subschema_for::<T>(),
        }
    }
}

/// A value read from the field of its parameter's name in a JSON object
/// body: FastAPI's `Body(embed=True)`, and its singular `Body()` values next
/// to other body parameters. Dereferences to `T`.
///
/// ```
/// use brisk::prelude::*;
/// use brisk::params::Embed;
///
/// #[derive(Serialize, Deserialize, JsonSchema)]
/// struct Item { name: String }
///
/// /// Expects `{"item": {"name": ...}, "importance": 5}`.
/// #[put("/items")]
/// async fn update(item: Embed<Item>, importance: Embed<u32>) -> Json<Value> {
///     Json(json!({"name": item.name, "importance": *importance}))
/// }
///
/// let client = brisk::TestClient::new(App::new().routes(routes![update]));
/// let resp = client.put("/items").json(&json!({"item": {"name": "x"}, "importance": 5})).send();
/// assert_eq!(resp.json::<Value>(), json!({"name": "x", "importance": 5}));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Embed<T>(pub T);

impl<T> std::ops::Deref for Embed<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T> FromRequest for Embed<T>
where
    T: DeserializeOwned + JsonSchema + Send,
{
    async fn from_request(
        cx: &mut RequestContext,
        spec: &'static ParamSpec,
    ) -> Result<Self, Rejection> {
        embedded::<T>(cx, spec).await.map(Embed)
    }

    fn describe(_spec: &'static ParamSpec) -> ParamDoc {
        ParamDoc::Body {
            schema: |generator| generator.subschema_for::<T>(),
        }
    }
}

/// Whether the request says its body is JSON: `application/json` or
/// `application/<anything>+json`, with or without parameters.
fn is_json(headers: &http::HeaderMap) -> bool {
    let Some(value) = headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let essence = value.split(';').next().unwrap_or("").trim();
    let Some((kind, subtype)) = essence.split_once('/') else {
        return false;
    };
    kind.eq_ignore_ascii_case("application")
        && (subtype.eq_ignore_ascii_case("json") || subtype.to_ascii_lowercase().ends_with("+json"))
}

/// The request body parsed once for its embedded parameters.
pub(crate) enum EmbeddedBody {
    /// A JSON object: each parameter takes its field.
    Object(serde_json::Map<String, Value>),
    /// No body, or not an object: every embedded parameter is missing.
    Absent,
    /// The body could not be parsed; the error is already reported (once).
    Reported,
}

/// Reads parameter `spec`'s field of the (once-parsed) body.
async fn embedded<T: DeserializeOwned + JsonSchema>(
    cx: &mut RequestContext,
    spec: &'static ParamSpec,
) -> Result<T, Rejection> {
    if cx.embedded.is_none() {
        let json = is_json(cx.headers());
        let bytes = cx.body_bytes().await?;
        let (parsed, errors) = match parse_json_value(&bytes, json) {
            Err(rejection @ Rejection::Respond(_)) => return Err(rejection),
            Err(Rejection::Invalid(errors)) => (EmbeddedBody::Reported, errors),
            Ok(Some(Value::Object(map))) => (EmbeddedBody::Object(map), Vec::new()),
            Ok(_) => (EmbeddedBody::Absent, Vec::new()),
        };
        cx.embedded = Some(parsed);
        if !errors.is_empty() {
            return Err(Rejection::Invalid(errors));
        }
    }
    let name = spec.wire_name(Location::Body);
    let loc = vec![LocPart::from("body"), LocPart::from(name)];
    let field = match cx.embedded.as_mut() {
        Some(EmbeddedBody::Reported) => return Err(Rejection::Invalid(Vec::new())),
        Some(EmbeddedBody::Object(map)) => map.remove(name),
        _ => None,
    };
    let Some(value) = field else {
        return Err(Rejection::Invalid(vec![ErrorItem::missing(
            loc,
            Value::Null,
        )]));
    };
    let schema = spec.body_schema.get_or_init(BodySchema::of::<T>);
    validate_value::<T>(value, schema, loc).map_err(Rejection::Invalid)
}

/// The body as a JSON value: `None` when empty; a string when the request
/// does not say it is JSON; a 400 when it cannot be decoded at all.
fn parse_json_value(bytes: &[u8], json: bool) -> Result<Option<Value>, Rejection> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let Ok(text) = std::str::from_utf8(bytes) else {
        return Err(cannot_parse());
    };
    if !json {
        return Ok(Some(Value::String(text.to_owned())));
    }
    match serde_json::from_str(text) {
        Ok(v) => Ok(Some(v)),
        Err(_) if nesting_depth(bytes) > MAX_DEPTH => Err(cannot_parse()),
        Err(_) => Err(Rejection::Invalid(vec![json_invalid(bytes)])),
    }
}

/// FastAPI's answer when its parser gives up on a body (invalid UTF-8,
/// Python's RecursionError): 400, not a validation error.
fn cannot_parse() -> Rejection {
    Rejection::Respond(
        crate::HttpError::bad_request("There was an error parsing the body").into_response(),
    )
}

/// Validates `value` (at `loc`) against `T`'s schema like pydantic, then
/// deserialises it.
pub(crate) fn validate_value<T: DeserializeOwned>(
    mut value: Value,
    schema: &BodySchema,
    loc: Vec<LocPart>,
) -> Result<T, Vec<ErrorItem>> {
    let mut errors = Vec::new();
    let mut at = loc.clone();
    validate(
        &schema.schema,
        &schema.schema,
        &mut value,
        &mut at,
        &mut errors,
    );
    if !errors.is_empty() {
        return Err(errors);
    }
    serde_path_to_error::deserialize::<_, T>(value).map_err(|err| {
        let mut loc = loc;
        for segment in err.path().iter() {
            match segment {
                serde_path_to_error::Segment::Seq { index } => loc.push(LocPart::Index(*index)),
                serde_path_to_error::Segment::Map { key } => loc.push(LocPart::from(key.clone())),
                serde_path_to_error::Segment::Enum { variant } => {
                    loc.push(LocPart::from(variant.clone()))
                }
                serde_path_to_error::Segment::Unknown => {}
            }
        }
        let msg = format!("Value error, {}", err.inner());
        vec![ErrorItem::new("value_error", loc, msg, Value::Null)]
    })
}

/// How deeply arrays and objects may nest in a body: serde_json's own
/// limit, which keeps parsing (and brisk's error reporting) off the edge of
/// the stack.
const MAX_DEPTH: usize = 128;

/// Parses and validates a whole body into `T`, with FastAPI's errors.
pub(crate) fn parse_body<T: DeserializeOwned + JsonSchema>(
    bytes: &[u8],
    spec: &ParamSpec,
    json: bool,
) -> Result<T, Rejection> {
    let schema = spec.body_schema.get_or_init(BodySchema::of::<T>);
    if json
        && !schema.has_constraints
        && let Ok(v) = serde_json::from_slice::<T>(bytes)
    {
        return Ok(v);
    }
    let Some(value) = parse_json_value(bytes, json)? else {
        return Err(Rejection::Invalid(vec![ErrorItem::missing(
            vec![LocPart::from("body")],
            Value::Null,
        )]));
    };
    validate_value::<T>(value, schema, vec![LocPart::from("body")]).map_err(Rejection::Invalid)
}

/// The deepest nesting of arrays and objects in `bytes` (brackets inside
/// strings do not count), found without recursion, whatever the input.
fn nesting_depth(bytes: &[u8]) -> usize {
    let (mut depth, mut deepest) = (0usize, 0usize);
    let (mut in_string, mut escaped) = (false, false);
    for &b in bytes {
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}

/// FastAPI's answer to a syntactically invalid body.
fn json_invalid(bytes: &[u8]) -> ErrorItem {
    json_invalid_at(bytes, vec![LocPart::from("body")])
}

/// A `json_invalid` error at Python's position of the first syntax error,
/// after `loc`.
fn json_invalid_at(bytes: &[u8], mut loc: Vec<LocPart>) -> ErrorItem {
    let text = String::from_utf8_lossy(bytes);
    let (error, pos) = python_json_error(&text).unwrap_or(("Expecting value", 0));
    loc.push(LocPart::Index(pos));
    ErrorItem::new(
        "json_invalid",
        loc,
        "JSON decode error",
        serde_json::json!({}),
    )
    .with_ctx(serde_json::json!({ "error": error }))
}

/// The schema of `T`, made once per type (for values that are not
/// parameters, such as WebSocket messages).
pub(crate) fn schema_of<T: JsonSchema + 'static>() -> std::sync::Arc<BodySchema> {
    use std::any::TypeId;
    use std::collections::HashMap;
    use std::sync::{Arc, LazyLock, RwLock};
    static SCHEMAS: LazyLock<RwLock<HashMap<TypeId, Arc<BodySchema>>>> =
        LazyLock::new(Default::default);
    let id = TypeId::of::<T>();
    if let Some(schema) = SCHEMAS.read().expect("schema cache").get(&id) {
        return Arc::clone(schema);
    }
    let schema = Arc::new(BodySchema::of::<T>());
    SCHEMAS
        .write()
        .expect("schema cache")
        .insert(id, Arc::clone(&schema));
    schema
}

/// Parses and validates one JSON message (a WebSocket message) into `T`,
/// with pydantic's errors, located from the message's root.
pub(crate) fn parse_message<T>(bytes: &[u8]) -> Result<T, Vec<ErrorItem>>
where
    T: DeserializeOwned + JsonSchema + 'static,
{
    let schema = schema_of::<T>();
    if !schema.has_constraints
        && let Ok(v) = serde_json::from_slice::<T>(bytes)
    {
        return Ok(v);
    }
    match serde_json::from_slice::<Value>(bytes) {
        Ok(value) => validate_value::<T>(value, &schema, Vec::new()),
        // Too deep for Python's scanner to locate (see `json_decode`).
        Err(_) if nesting_depth(bytes) > MAX_DEPTH => Err(vec![
            ErrorItem::new(
                "json_invalid",
                Vec::new(),
                "JSON decode error",
                serde_json::json!({}),
            )
            .with_ctx(serde_json::json!({ "error": "Maximum nesting depth exceeded" })),
        ]),
        Err(_) => Err(vec![json_invalid_at(bytes, Vec::new())]),
    }
}

#[cfg(test)]
mod tests {
    use super::nesting_depth;

    #[test]
    fn measures_nesting_without_counting_strings() {
        assert_eq!(nesting_depth(br#"{"a": [1, {"b": "[[[["}]}"#), 3);
        assert_eq!(nesting_depth(br#"["\"[", []]"#), 2);
        assert_eq!(nesting_depth(&vec![b'['; 100_000]), 100_000);
        assert_eq!(nesting_depth(b"42"), 0);
    }
}
