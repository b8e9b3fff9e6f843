//! Where scalar values come from: the path, the query string, headers and
//! cookies, plus the raw [`Request`].
//!
//! A bare scalar parameter is a path parameter when its name is in the path
//! template and a query parameter otherwise; [`Header`], [`Cookie`] and
//! [`Query`] pick the source explicitly.

use bytes::Bytes;
use serde_json::Value;

use super::scalar::{ParamValue, parse_value};
use super::{FromRequest, Location, ParamDoc, ParamSpec, Rejection, RequestContext};
use crate::error::ErrorItem;

/// A value built from all the raw strings a source has for one name:
/// a scalar takes the last one and is required, `Option<T>` may be absent,
/// `Vec<T>` takes every one (repeated query keys: `?tag=a&tag=b`).
///
/// ```
/// use brisk::params::{FromValues, Location, ParamSpec};
/// static TAG: ParamSpec = ParamSpec::named("tag");
/// let tags = Vec::<String>::from_values(vec!["a", "b"], &TAG, Location::Query).unwrap();
/// assert_eq!(tags, ["a", "b"]);
/// let missing = Option::<u32>::from_values(Vec::<&str>::new(), &TAG, Location::Query).unwrap();
/// assert_eq!(missing, None);
/// ```
pub trait FromValues: Sized + Send {
    /// Builds the value from every raw string found for the parameter.
    fn from_values<'a, I>(
        values: I,
        spec: &ParamSpec,
        location: Location,
    ) -> Result<Self, Vec<ErrorItem>>
    where
        I: IntoIterator<Item = &'a str>;

    /// Whether a request without the parameter is invalid (for OpenAPI).
    fn required() -> bool;

    /// The JSON Schema of the value (for OpenAPI).
    fn values_schema(generator: &mut schemars::SchemaGenerator) -> Value;
}

impl<T: ParamValue> FromValues for T {
    fn from_values<'a, I>(
        values: I,
        spec: &ParamSpec,
        location: Location,
    ) -> Result<Self, Vec<ErrorItem>>
    where
        I: IntoIterator<Item = &'a str>,
    {
        match values.into_iter().last() {
            Some(raw) => parse_value(raw, spec, location).map_err(|e| vec![e]),
            None => Err(vec![ErrorItem::missing(spec.loc(location), Value::Null)]),
        }
    }
    fn required() -> bool {
        true
    }
    fn values_schema(generator: &mut schemars::SchemaGenerator) -> Value {
        T::param_schema(generator)
    }
}

impl<T: ParamValue> FromValues for Option<T> {
    fn from_values<'a, I>(
        values: I,
        spec: &ParamSpec,
        location: Location,
    ) -> Result<Self, Vec<ErrorItem>>
    where
        I: IntoIterator<Item = &'a str>,
    {
        match values.into_iter().last() {
            Some(raw) => parse_value(raw, spec, location)
                .map(Some)
                .map_err(|e| vec![e]),
            None => Ok(None),
        }
    }
    fn required() -> bool {
        false
    }
    fn values_schema(generator: &mut schemars::SchemaGenerator) -> Value {
        serde_json::json!({ "anyOf": [T::param_schema(generator), { "type": "null" }] })
    }
}

/// Every value, each parsed and checked; errors carry the value's index.
fn parse_all<'a, T: ParamValue>(
    values: impl IntoIterator<Item = &'a str>,
    spec: &ParamSpec,
    location: Location,
) -> Result<Vec<T>, Vec<ErrorItem>> {
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for (i, raw) in values.into_iter().enumerate() {
        match parse_value(raw, spec, location) {
            Ok(v) => out.push(v),
            Err(mut e) => {
                e.loc.push(i.into());
                errors.push(e);
            }
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

/// Every value of a repeated key (`?tag=a&tag=b`); none is an empty list
/// (FastAPI's `list[T] = Query([])`).
impl<T: ParamValue> FromValues for Vec<T> {
    fn from_values<'a, I>(
        values: I,
        spec: &ParamSpec,
        location: Location,
    ) -> Result<Self, Vec<ErrorItem>>
    where
        I: IntoIterator<Item = &'a str>,
    {
        parse_all(values, spec, location)
    }
    fn required() -> bool {
        false
    }
    fn values_schema(generator: &mut schemars::SchemaGenerator) -> Value {
        serde_json::json!({ "type": "array", "items": T::param_schema(generator) })
    }
}

/// Every value of a repeated key, or `None` when there is none (FastAPI's
/// `list[T] | None = Query(None)`).
impl<T: ParamValue> FromValues for Option<Vec<T>> {
    fn from_values<'a, I>(
        values: I,
        spec: &ParamSpec,
        location: Location,
    ) -> Result<Self, Vec<ErrorItem>>
    where
        I: IntoIterator<Item = &'a str>,
    {
        let mut values = values.into_iter().peekable();
        if values.peek().is_none() {
            return Ok(None);
        }
        parse_all(values, spec, location).map(Some)
    }
    fn required() -> bool {
        false
    }
    fn values_schema(generator: &mut schemars::SchemaGenerator) -> Value {
        let items = T::param_schema(generator);
        serde_json::json!({ "anyOf": [{ "type": "array", "items": items }, { "type": "null" }] })
    }
}

/// Reads a bare scalar from the path (name in the template) or the query.
fn path_or_query<T: FromValues>(
    cx: &mut RequestContext,
    spec: &'static ParamSpec,
) -> Result<T, Rejection> {
    if spec.in_path {
        let raw = cx.path_param(spec.name);
        T::from_values(raw, spec, Location::Path).map_err(Rejection::Invalid)
    } else {
        let name = spec.wire_name(Location::Query);
        T::from_values(cx.query_values(name), spec, Location::Query).map_err(Rejection::Invalid)
    }
}

/// The OpenAPI description of a value parameter.
fn value_doc<T: FromValues>(spec: &'static ParamSpec, location: Location) -> ParamDoc {
    ParamDoc::Value {
        location,
        required: T::required() && !spec.has_default,
        schema: T::values_schema,
    }
}

macro_rules! bare_scalar_from_request {
    ($($t:ty),*) => {$(
        impl<T: ParamValue> FromRequest for $t {
            async fn from_request(cx: &mut RequestContext, spec: &'static ParamSpec) -> Result<Self, Rejection> {
                path_or_query(cx, spec)
            }

            fn describe(spec: &'static ParamSpec) -> ParamDoc {
                let location = if spec.in_path { Location::Path } else { Location::Query };
                value_doc::<Self>(spec, location)
            }
        }
    )*};
}

bare_scalar_from_request!(T, Option<T>, Vec<T>, Option<Vec<T>>);

/// A query parameter, named explicitly (a bare scalar is one already).
///
/// ```
/// use brisk::prelude::*;
///
/// #[get("/search")]
/// async fn search(q: Query<Option<String>>) -> String {
///     q.0.unwrap_or_default()
/// }
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Query<T>(pub T);

impl<T: FromValues> FromRequest for Query<T> {
    async fn from_request(
        cx: &mut RequestContext,
        spec: &'static ParamSpec,
    ) -> Result<Self, Rejection> {
        let name = spec.wire_name(Location::Query);
        T::from_values(cx.query_values(name), spec, Location::Query)
            .map(Query)
            .map_err(Rejection::Invalid)
    }

    fn describe(spec: &'static ParamSpec) -> ParamDoc {
        value_doc::<T>(spec, Location::Query)
    }
}

/// A request header. The parameter name becomes the header name with `_`
/// turned into `-`, as in FastAPI (`x_token` reads `X-Token`).
///
/// ```
/// use brisk::prelude::*;
///
/// #[get("/me")]
/// async fn me(x_token: Header<String>, user_agent: Header<Option<String>>) -> String {
///     format!("{} via {:?}", x_token.0, user_agent.0)
/// }
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Header<T>(pub T);

impl<T: FromValues> FromRequest for Header<T> {
    async fn from_request(
        cx: &mut RequestContext,
        spec: &'static ParamSpec,
    ) -> Result<Self, Rejection> {
        let name = spec.wire_name(Location::Header);
        let values = cx
            .parts
            .headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok());
        T::from_values(values, spec, Location::Header)
            .map(Header)
            .map_err(Rejection::Invalid)
    }

    fn describe(spec: &'static ParamSpec) -> ParamDoc {
        value_doc::<T>(spec, Location::Header)
    }
}

/// A cookie, by the parameter's name.
///
/// ```
/// use brisk::prelude::*;
///
/// #[get("/session")]
/// async fn session(session: Cookie<String>) -> String {
///     session.0
/// }
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Cookie<T>(pub T);

impl<T: FromValues> FromRequest for Cookie<T> {
    async fn from_request(
        cx: &mut RequestContext,
        spec: &'static ParamSpec,
    ) -> Result<Self, Rejection> {
        let name = spec.wire_name(Location::Cookie);
        // The Cookie header is `a=1; b=2`, possibly split over several header
        // lines; a three-line scan is all a lookup by name needs.
        let values = cx
            .parts
            .headers
            .get_all(http::header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|line| line.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .filter(|(k, _)| *k == name)
            .map(|(_, v)| v.trim_matches('"'));
        T::from_values(values, spec, Location::Cookie)
            .map(Cookie)
            .map_err(Rejection::Invalid)
    }

    fn describe(spec: &'static ParamSpec) -> ParamDoc {
        value_doc::<T>(spec, Location::Cookie)
    }
}

macro_rules! deref_wrapper {
    ($($w:ident),*) => {$(
        impl<T> std::ops::Deref for $w<T> {
            type Target = T;
            fn deref(&self) -> &T {
                &self.0
            }
        }
    )*};
}

deref_wrapper!(Query, Header, Cookie);

macro_rules! transparent_serialize {
    ($($w:ident),*) => {$(
        /// Serialises as the value it wraps (for defaults in the OpenAPI document).
        impl<T: serde::Serialize> serde::Serialize for $w<T> {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                self.0.serialize(s)
            }
        }
    )*};
}

transparent_serialize!(Query, Header, Cookie);

/// The raw request: method, URI, headers and the whole body.
///
/// ```
/// use brisk::prelude::*;
///
/// #[post("/echo")]
/// async fn echo(req: Request) -> String {
///     format!("{} {} ({} bytes)", req.method(), req.uri(), req.body().len())
/// }
/// ```
#[derive(Debug)]
pub struct Request {
    parts: http::request::Parts,
    body: Bytes,
    connection: crate::connection::ConnectionInfo,
}

impl Request {
    /// The method.
    pub fn method(&self) -> &http::Method {
        &self.parts.method
    }
    /// The URI.
    pub fn uri(&self) -> &http::Uri {
        &self.parts.uri
    }
    /// The headers.
    pub fn headers(&self) -> &http::HeaderMap {
        &self.parts.headers
    }
    /// The body.
    pub fn body(&self) -> &Bytes {
        &self.body
    }
    /// The client's address and the scheme (FastAPI's `request.client`,
    /// `request.url.scheme`).
    pub fn connection(&self) -> &crate::connection::ConnectionInfo {
        &self.connection
    }
}

impl FromRequest for Request {
    async fn from_request(
        cx: &mut RequestContext,
        _spec: &'static ParamSpec,
    ) -> Result<Self, Rejection> {
        let body = cx.body_bytes().await?;
        let mut parts = http::Request::new(()).into_parts().0;
        parts.method = cx.parts.method.clone();
        parts.uri = cx.parts.uri.clone();
        parts.version = cx.parts.version;
        parts.headers = cx.parts.headers.clone();
        let connection = cx.connection_info();
        Ok(Request {
            parts,
            body,
            connection,
        })
    }
}

/// The client's address and the scheme (see [`ConnectionInfo`]): what the
/// server saw, corrected by a trusted proxy's headers.
impl FromRequest for crate::connection::ConnectionInfo {
    async fn from_request(
        cx: &mut RequestContext,
        _spec: &'static ParamSpec,
    ) -> Result<Self, Rejection> {
        Ok(cx.connection_info())
    }
}
