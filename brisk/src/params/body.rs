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
use crate::response::Json;

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
        parse_body::<T>(&bytes, spec)
            .map(Json)
            .map_err(Rejection::Invalid)
    }

    fn describe(_spec: &'static ParamSpec) -> ParamDoc {
        ParamDoc::Body {
            schema: |generator| generator.subschema_for::<T>(),
        }
    }
}

/// Parses and validates a JSON body into `T`, with FastAPI's errors.
pub(crate) fn parse_body<T: DeserializeOwned + JsonSchema>(
    bytes: &[u8],
    spec: &ParamSpec,
) -> Result<T, Vec<ErrorItem>> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(vec![ErrorItem::missing(
            vec![LocPart::from("body")],
            Value::Null,
        )]);
    }
    let schema = spec.body_schema.get_or_init(BodySchema::of::<T>);
    if !schema.has_constraints
        && let Ok(v) = serde_json::from_slice::<T>(bytes)
    {
        return Ok(v);
    }
    let mut value: Value = match serde_json::from_slice(bytes) {
        Ok(v) => v,
        Err(_) => return Err(vec![json_invalid(bytes)]),
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
        return Err(errors);
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
        vec![ErrorItem::new("value_error", loc, msg, Value::Null)]
    })
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
