//! How a handler's return type documents itself: its response schema and
//! media type, when it has one.
//!
//! `#[get]` & co. know the return type only as tokens. They call
//! `(&Probe::<Ret>::new()).response_doc(generator)`: method resolution picks
//! [`ViaSchema`] when `Ret: ResponseSchema` (e.g. `Json<T>` with
//! `T: JsonSchema`) and falls back to [`ViaNothing`] otherwise, so handlers
//! returning types without a schema still compile ("autoref specialisation").

use std::marker::PhantomData;

use schemars::{JsonSchema, Schema, SchemaGenerator};

use super::{FileResponse, Html, Json, NoContent, Sse, StreamingResponse};

/// A documented response body.
#[derive(Debug)]
pub struct ResponseDoc {
    /// Its media type.
    pub content_type: &'static str,
    /// Its schema.
    pub schema: Schema,
}

/// A return type whose body has a known schema.
pub trait ResponseSchema {
    /// The body's media type and schema.
    fn response_doc(generator: &mut SchemaGenerator) -> ResponseDoc;
}

impl<T: JsonSchema> ResponseSchema for Json<T> {
    fn response_doc(generator: &mut SchemaGenerator) -> ResponseDoc {
        ResponseDoc {
            content_type: "application/json",
            schema: generator.subschema_for::<T>(),
        }
    }
}

impl<T: ResponseSchema, E> ResponseSchema for Result<T, E> {
    fn response_doc(generator: &mut SchemaGenerator) -> ResponseDoc {
        T::response_doc(generator)
    }
}

impl<T: ResponseSchema> ResponseSchema for (http::StatusCode, T) {
    fn response_doc(generator: &mut SchemaGenerator) -> ResponseDoc {
        T::response_doc(generator)
    }
}

macro_rules! text_response {
    ($($t:ty => $ct:literal),*) => {$(
        impl ResponseSchema for $t {
            fn response_doc(_generator: &mut SchemaGenerator) -> ResponseDoc {
                ResponseDoc { content_type: $ct, schema: schemars::json_schema!({"type": "string"}) }
            }
        }
    )*};
}

text_response!(String => "text/plain", &'static str => "text/plain", Html<String> => "text/html", Html<&'static str> => "text/html");

/// Server-Sent Events: a stream of text in the `text/event-stream` format.
impl ResponseSchema for Sse {
    fn response_doc(_generator: &mut SchemaGenerator) -> ResponseDoc {
        ResponseDoc {
            content_type: "text/event-stream",
            schema: schemars::json_schema!({"type": "string"}),
        }
    }
}

/// A file: bytes (its actual type comes from its extension at run time).
impl ResponseSchema for FileResponse {
    fn response_doc(_generator: &mut SchemaGenerator) -> ResponseDoc {
        ResponseDoc {
            content_type: "application/octet-stream",
            schema: schemars::json_schema!({"type": "string", "format": "binary"}),
        }
    }
}

/// A stream of bytes (its media type is set at run time).
impl ResponseSchema for StreamingResponse {
    fn response_doc(_generator: &mut SchemaGenerator) -> ResponseDoc {
        ResponseDoc {
            content_type: "application/octet-stream",
            schema: schemars::json_schema!({"type": "string", "format": "binary"}),
        }
    }
}

impl ResponseSchema for NoContent {
    fn response_doc(_generator: &mut SchemaGenerator) -> ResponseDoc {
        ResponseDoc {
            content_type: "application/json",
            schema: schemars::json_schema!({}),
        }
    }
}

/// Carries a return type for [`ViaSchema`] / [`ViaNothing`].
pub struct Probe<T>(PhantomData<T>);

impl<T> Probe<T> {
    /// A probe for `T`.
    pub fn new() -> Self {
        Probe(PhantomData)
    }
}

impl<T> Default for Probe<T> {
    fn default() -> Self {
        Self::new()
    }
}

/// Picked when the return type has a schema.
pub trait ViaSchema {
    /// The response doc.
    fn response_doc(&self, generator: &mut SchemaGenerator) -> Option<ResponseDoc>;
}

impl<T: ResponseSchema> ViaSchema for Probe<T> {
    fn response_doc(&self, generator: &mut SchemaGenerator) -> Option<ResponseDoc> {
        Some(T::response_doc(generator))
    }
}

/// Picked otherwise.
pub trait ViaNothing {
    /// No response doc.
    fn response_doc(&self, generator: &mut SchemaGenerator) -> Option<ResponseDoc>;
}

impl<T> ViaNothing for &Probe<T> {
    fn response_doc(&self, _generator: &mut SchemaGenerator) -> Option<ResponseDoc> {
        None
    }
}
