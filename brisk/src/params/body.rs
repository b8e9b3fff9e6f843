//! The JSON request body: [`Json<T>`](crate::Json) as a parameter.
//!
//! The fast path is serde alone (`serde_json::from_slice`). Only when that
//! fails, or when the type's schema carries constraints serde cannot check,
//! does brisk parse to a `Value` and validate it like pydantic
//! ([`validate`](super::validate)) to report every error with FastAPI's shape.

use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::json_decode::python_json_error;
use super::validate::{has_constraints, validate};
use super::{FromRequest, ParamDoc, ParamSpec, Rejection, RequestContext};
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
        let bytes = cx.body_bytes().await?;
        parse_body::<T>(&bytes, spec).map(Json)
    }

    fn describe(_spec: &'static ParamSpec) -> ParamDoc {
        ParamDoc::Body {
            schema: |generator| generator.subschema_for::<T>(),
        }
    }
}

/// How deeply arrays and objects may nest in a body: serde_json's own
/// limit, which keeps parsing (and brisk's error reporting) off the edge of
/// the stack.
const MAX_DEPTH: usize = 128;

/// Parses and validates a JSON body into `T`, with FastAPI's errors.
pub(crate) fn parse_body<T: DeserializeOwned + JsonSchema>(
    bytes: &[u8],
    spec: &ParamSpec,
) -> Result<T, Rejection> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(Rejection::Invalid(vec![ErrorItem::missing(
            vec![LocPart::from("body")],
            Value::Null,
        )]));
    }
    let schema = spec.body_schema.get_or_init(BodySchema::of::<T>);
    if !schema.has_constraints
        && let Ok(v) = serde_json::from_slice::<T>(bytes)
    {
        return Ok(v);
    }
    let mut value: Value = match serde_json::from_slice(bytes) {
        Ok(v) => v,
        Err(_) if nesting_depth(bytes) > MAX_DEPTH => {
            // FastAPI's answer when its parser gives up on such a body
            // (Python's RecursionError): 400, not a validation error.
            return Err(Rejection::Respond(
                crate::HttpError::bad_request("There was an error parsing the body")
                    .into_response(),
            ));
        }
        Err(_) => return Err(Rejection::Invalid(vec![json_invalid(bytes)])),
    };
    let mut errors = Vec::new();
    let mut loc = vec![LocPart::from("body")];
    validate(
        &schema.schema,
        &schema.schema,
        &mut value,
        &mut loc,
        &mut errors,
    );
    if !errors.is_empty() {
        return Err(Rejection::Invalid(errors));
    }
    serde_path_to_error::deserialize::<_, T>(value).map_err(|err| {
        let mut loc = vec![LocPart::from("body")];
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
        Rejection::Invalid(vec![ErrorItem::new("value_error", loc, msg, Value::Null)])
    })
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
    let text = String::from_utf8_lossy(bytes);
    let (error, pos) = python_json_error(&text).unwrap_or(("Expecting value", 0));
    ErrorItem::new(
        "json_invalid",
        vec![LocPart::from("body"), LocPart::Index(pos)],
        "JSON decode error",
        serde_json::json!({}),
    )
    .with_ctx(serde_json::json!({ "error": error }))
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
