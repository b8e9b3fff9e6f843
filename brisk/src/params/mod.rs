//! Extracting and validating what a path operation asks for.
//!
//! Each parameter of a handler names a type that implements [`FromRequest`].
//! The macro decides nothing about where a value comes from: it only passes a
//! [`ParamSpec`] (the parameter's name, whether the name appears in the path
//! template, and its constraints) and the type does the rest, following
//! FastAPI's rules:
//!
//! | declared as | read from | module |
//! |---|---|---|
//! | scalar (`u32`, `f64`, `bool`, `String`, ...), `Option<_>`, `Vec<_>` named in the path template | the path | [`scalar`], [`sources`] |
//! | the same, not in the template | the query string | [`scalar`], [`sources`] |
//! | [`Header<T>`] (`x_token` → `x-token`), [`Cookie<T>`] | headers, cookies | [`sources`] |
//! | [`Json<T>`](crate::Json) | the body, validated like pydantic | [`body`] |
//! | [`Request`] | the raw request | [`sources`] |
//!
//! Extraction never stops at the first problem: every parameter is tried and
//! all errors are answered together in one 422, in declaration order, as
//! FastAPI does.

pub mod body;
mod context;
mod form;
mod json_decode;
pub mod scalar;
mod security;
pub mod sources;
mod state;
mod validate;

use std::any::Any;
use std::future::Future;
use std::sync::OnceLock;

use crate::error::{ErrorItem, LocPart, ValidationErrors};
use crate::exec::scope::BoxFuture;
use crate::response::{IntoResponse, Response};

pub use body::Embed;
pub(crate) use body::parse_message;
pub use context::{AppContext, RequestContext, RouteInfo, WebSocketSettings};
pub use form::{FileBytes, Form, FormField, UploadFile, UploadLimits};
pub use scalar::{ParamValue, ParseError, parse_enum};
pub use security::{
    ApiKeyHeader, HttpBasic, HttpBearer, OAuth2PasswordBearer, OAuth2PasswordRequestForm, TokenUrl,
};
pub use sources::{Cookie, FromValues, Header, Query, Request};
pub use state::{Metrics, State, StateMap};

/// Where a parameter's value comes from; the first element of an error's `loc`.
///
/// ```
/// assert_eq!(brisk::params::Location::Query.as_str(), "query");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Location {
    /// A `{name}` segment of the path template.
    Path,
    /// The query string.
    Query,
    /// A request header.
    Header,
    /// A cookie.
    Cookie,
    /// The request body.
    Body,
}

impl Location {
    /// The name FastAPI uses in `loc` and OpenAPI's `in`.
    pub fn as_str(self) -> &'static str {
        match self {
            Location::Path => "path",
            Location::Query => "query",
            Location::Header => "header",
            Location::Cookie => "cookie",
            Location::Body => "body",
        }
    }
}

/// A numeric bound (`ge`, `gt`, `le`, `lt`) as written next to the parameter.
///
/// `text` is the literal as the developer wrote it: it appears in the error
/// message ("greater than or equal to 1"), as pydantic prints the declared value.
///
/// ```
/// let b = brisk::params::Bound { text: "1", value: 1.0 };
/// assert_eq!(b.value, 1.0);
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Bound {
    /// The literal as written.
    pub text: &'static str,
    /// Its numeric value.
    pub value: f64,
}

/// A compiled-once regular expression constraint.
///
/// ```
/// let p = brisk::params::Pattern::new("^[a-z]+$");
/// assert!(p.is_match("abc"));
/// assert!(!p.is_match("ABC"));
/// ```
#[derive(Debug)]
pub struct Pattern {
    /// The pattern as written.
    pub source: &'static str,
    compiled: OnceLock<regex::Regex>,
}

impl Pattern {
    /// A pattern, compiled on first use.
    pub const fn new(source: &'static str) -> Self {
        Pattern {
            source,
            compiled: OnceLock::new(),
        }
    }

    /// Whether `s` matches (pydantic uses `re.search` semantics: anchors are explicit).
    ///
    /// Panics if the pattern is not a valid regular expression; the app checks
    /// every pattern at startup, so this cannot happen while serving.
    pub fn is_match(&self, s: &str) -> bool {
        self.regex().is_match(s)
    }

    pub(crate) fn regex(&self) -> &regex::Regex {
        self.compiled.get_or_init(|| {
            regex::Regex::new(self.source)
                .unwrap_or_else(|e| panic!("invalid pattern {:?}: {e}", self.source))
        })
    }
}

/// Everything the macro knows about one handler parameter.
///
/// Built as a `static` by `#[get]` & co. from the signature and the
/// `#[param(...)]` attribute; read by [`FromRequest`] implementations.
///
/// ```
/// use brisk::params::ParamSpec;
/// static LIMIT: ParamSpec = ParamSpec::named("limit").ge("1", 1.0).le("100", 100.0);
/// assert_eq!(LIMIT.wire_name(brisk::params::Location::Query), "limit");
/// ```
#[derive(Debug)]
pub struct ParamSpec {
    /// The parameter's name in the Rust signature.
    pub name: &'static str,
    /// The name on the wire, when it differs (`#[param(alias = "item-query")]`).
    pub alias: Option<&'static str>,
    /// The header name: `alias`, or `name` with `_` turned into `-`.
    pub header_name: &'static str,
    /// The name is a `{segment}` of the operation's path template.
    pub in_path: bool,
    /// A default value exists, so the parameter is not required.
    pub has_default: bool,
    /// The default as JSON, for the OpenAPI document (`None` inside when the
    /// type cannot be serialised).
    pub default_json: Option<fn() -> Option<serde_json::Value>>,
    /// `ge = ...`
    pub ge: Option<Bound>,
    /// `gt = ...`
    pub gt: Option<Bound>,
    /// `le = ...`
    pub le: Option<Bound>,
    /// `lt = ...`
    pub lt: Option<Bound>,
    /// `min_length = ...` (characters)
    pub min_length: Option<usize>,
    /// `max_length = ...` (characters)
    pub max_length: Option<usize>,
    /// `pattern = "..."`
    pub pattern: Option<Pattern>,
    /// `description = "..."`, shown in the OpenAPI document.
    pub description: Option<&'static str>,
    /// `title = "..."`: the schema's title in the OpenAPI document (default:
    /// the name, title-cased).
    pub title: Option<&'static str>,
    /// `deprecated = true`: marked deprecated in the OpenAPI document.
    pub deprecated: bool,
    /// A body parameter read from the field of its name in a JSON object
    /// body (`Body<T>`, or every body parameter when there are several),
    /// FastAPI's `Body(embed=True)`.
    pub embed: bool,
    /// The body schema of a `Json<T>` parameter, computed on first use.
    pub body_schema: OnceLock<body::BodySchema>,
}

impl ParamSpec {
    /// A spec with no constraints; the macro writes every field out instead.
    pub const fn named(name: &'static str) -> Self {
        Self::plain(name, None)
    }

    /// A spec whose value must match `pattern`.
    pub const fn with_pattern(name: &'static str, pattern: Pattern) -> Self {
        Self::plain(name, Some(pattern))
    }

    /// Every field written out: a const fn cannot replace a field that has
    /// a destructor (`pattern`), so the pattern is given here.
    const fn plain(name: &'static str, pattern: Option<Pattern>) -> Self {
        ParamSpec {
            name,
            alias: None,
            header_name: name,
            in_path: false,
            has_default: false,
            default_json: None,
            ge: None,
            gt: None,
            le: None,
            lt: None,
            min_length: None,
            max_length: None,
            pattern,
            description: None,
            title: None,
            deprecated: false,
            embed: false,
            body_schema: OnceLock::new(),
        }
    }

    /// Adds `ge = value` (`text` is the literal shown in messages).
    pub const fn ge(mut self, text: &'static str, value: f64) -> Self {
        self.ge = Some(Bound { text, value });
        self
    }

    /// Adds `le = value` (`text` is the literal shown in messages).
    pub const fn le(mut self, text: &'static str, value: f64) -> Self {
        self.le = Some(Bound { text, value });
        self
    }

    /// Adds `gt = value` (`text` is the literal shown in messages).
    pub const fn gt(mut self, text: &'static str, value: f64) -> Self {
        self.gt = Some(Bound { text, value });
        self
    }

    /// Adds `lt = value` (`text` is the literal shown in messages).
    pub const fn lt(mut self, text: &'static str, value: f64) -> Self {
        self.lt = Some(Bound { text, value });
        self
    }

    /// The name the client uses for this parameter at `location`.
    pub fn wire_name(&self, location: Location) -> &'static str {
        match (location, self.alias) {
            (Location::Header, _) if !self.header_name.is_empty() => self.header_name,
            (_, Some(alias)) => alias,
            _ => self.name,
        }
    }

    /// The error location `[location, wire name]`.
    pub fn loc(&self, location: Location) -> Vec<LocPart> {
        vec![
            LocPart::from(location.as_str()),
            LocPart::from(self.wire_name(location)),
        ]
    }
}

/// Finds a `#[param(default = ...)]` value's JSON form for the OpenAPI
/// document when its type is `Serialize`, and gives `None` otherwise
/// (autoref specialisation, as in `openapi::probe`). Used by the macros.
#[doc(hidden)]
pub struct DefaultProbe<'a, T>(pub &'a T);

/// Picked when the default's type is `Serialize`.
#[doc(hidden)]
pub trait DefaultViaSerialize {
    fn default_json(&self) -> Option<serde_json::Value>;
}

impl<T: serde::Serialize> DefaultViaSerialize for DefaultProbe<'_, T> {
    fn default_json(&self) -> Option<serde_json::Value> {
        serde_json::to_value(self.0).ok()
    }
}

/// Picked otherwise.
#[doc(hidden)]
pub trait DefaultViaNothing {
    fn default_json(&self) -> Option<serde_json::Value>;
}

impl<T> DefaultViaNothing for &DefaultProbe<'_, T> {
    fn default_json(&self) -> Option<serde_json::Value> {
        None
    }
}

/// One declared parameter: its spec and how its type documents itself.
#[derive(Debug, Clone, Copy)]
pub struct Param {
    /// Name, location hints and constraints.
    pub spec: &'static ParamSpec,
    /// `<T as FromRequest>::describe`.
    pub describe: fn(&'static ParamSpec) -> ParamDoc,
}

/// What brisk knows about a dependency (`#[dependency]`): for cycle checks
/// and the OpenAPI document, which lists its parameters as the operation's.
#[derive(Debug)]
pub struct DependencyInfo {
    /// The function's name.
    pub name: &'static str,
    /// `async fn` (event loop) or plain `fn` (thread pool).
    pub is_async: bool,
    /// Whether the output is cached per request.
    pub cached: bool,
    /// The dependency's own parameters.
    pub params: &'static [Param],
}

/// A dependency run with its output type erased: route-level dependencies
/// run for their side effects, and overrides.
#[doc(hidden)]
pub type ErasedRun =
    for<'a> fn(&'a mut RequestContext) -> BoxFuture<'a, Result<Box<dyn Any + Send>, Rejection>>;

/// Why a parameter could not be produced.
#[derive(Debug)]
pub enum Rejection {
    /// The input is invalid: these errors join the request's 422 body.
    Invalid(Vec<ErrorItem>),
    /// Answer the request with this response right away (e.g. a dependency's
    /// 401, a body over the size limit).
    Respond(Response),
}

impl From<ErrorItem> for Rejection {
    fn from(e: ErrorItem) -> Self {
        Rejection::Invalid(vec![e])
    }
}

/// A type that can be produced from a request, as a handler parameter.
///
/// Implement it for your own extractors; `spec` tells the parameter's name
/// and declared constraints.
///
/// ```
/// use brisk::params::{FromRequest, ParamSpec, Rejection, RequestContext};
///
/// /// The client's User-Agent, or "unknown".
/// struct Agent(String);
///
/// impl FromRequest for Agent {
///     async fn from_request(cx: &mut RequestContext, _spec: &'static ParamSpec) -> Result<Self, Rejection> {
///         let ua = cx.headers().get("user-agent").and_then(|v| v.to_str().ok()).unwrap_or("unknown");
///         Ok(Agent(ua.to_owned()))
///     }
/// }
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a parameter of a path operation or dependency",
    note = "a JSON request body? declare the parameter as `Json<{Self}>`",
    note = "a header or cookie? `Header<{Self}>`, `Cookie<{Self}>`; a dependency's output: `Depends<the_dependency>`"
)]
pub trait FromRequest: Sized + Send {
    /// Produces the value, or says why it cannot.
    fn from_request(
        cx: &mut RequestContext,
        spec: &'static ParamSpec,
    ) -> impl Future<Output = Result<Self, Rejection>> + Send;

    /// How the parameter appears in the OpenAPI document (default: it does not).
    fn describe(_spec: &'static ParamSpec) -> ParamDoc {
        ParamDoc::Hidden
    }
}

/// How a parameter appears in the API description.
#[derive(Debug, Clone, Copy)]
pub enum ParamDoc {
    /// Not part of the API (the raw request, background tasks, state, ...).
    Hidden,
    /// A path, query, header or cookie parameter.
    Value {
        /// Where it is read from.
        location: Location,
        /// Whether a request without it is invalid.
        required: bool,
        /// Its JSON Schema (named types add themselves to the generator).
        schema: fn(&mut schemars::SchemaGenerator) -> serde_json::Value,
    },
    /// The JSON request body.
    Body {
        /// Adds the body type's schema to the generator and returns a reference to it.
        schema: fn(&mut schemars::SchemaGenerator) -> schemars::Schema,
    },
    /// A dependency, whose own parameters belong to the operation too.
    Dependency(&'static DependencyInfo),
    /// One field of a form body (`FormField`, `UploadFile`, `FileBytes`):
    /// a property of the operation's `Body_<operationId>` form model.
    FormField {
        /// The field's JSON Schema.
        schema: fn(&mut schemars::SchemaGenerator) -> serde_json::Value,
        /// Whether a request without it is invalid.
        required: bool,
        /// Whether it is a file (the body is then `multipart/form-data`).
        file: bool,
    },
    /// Several form fields at once (`OAuth2PasswordRequestForm`): name,
    /// schema, required.
    FormFields {
        /// The fields.
        fields: fn() -> Vec<(&'static str, serde_json::Value, bool)>,
    },
    /// A whole form body as one model (`Form<T>`).
    FormModel {
        /// Adds the model's schema to the generator and returns it (a `$ref`).
        schema: fn(&mut schemars::SchemaGenerator) -> serde_json::Value,
    },
    /// A security scheme (the operation requires it).
    Security {
        /// The scheme's name in `components/securitySchemes`.
        name: &'static str,
        /// The scheme object.
        scheme: security::SecuritySchemeFn,
    },
}

/// Collects the outcome of every parameter of one request.
///
/// Errors are answered in FastAPI's order whatever order the signature
/// lists the parameters in: dependencies' first, then path, query, header,
/// cookie and body parameters' (each group in declaration order).
///
/// Used by the code `#[get]` & co. generate; public for custom macros.
#[doc(hidden)]
#[derive(Default)]
pub struct Extraction {
    errors: Vec<(u8, ErrorItem)>,
}

/// Where a parameter's errors go in FastAPI's order.
fn error_rank(doc: ParamDoc) -> u8 {
    match doc {
        ParamDoc::Dependency(_) => 0,
        ParamDoc::Value { location, .. } => match location {
            Location::Path => 1,
            Location::Query => 2,
            Location::Header => 3,
            Location::Cookie => 4,
            Location::Body => 5,
        },
        ParamDoc::Body { .. }
        | ParamDoc::FormField { .. }
        | ParamDoc::FormFields { .. }
        | ParamDoc::FormModel { .. } => 5,
        ParamDoc::Security { .. } | ParamDoc::Hidden => 6,
    }
}

impl Extraction {
    /// Extracts one parameter; validation errors are kept for the final 422,
    /// an immediate response is returned as `Err`.
    pub async fn param<T: FromRequest>(
        &mut self,
        cx: &mut RequestContext,
        spec: &'static ParamSpec,
    ) -> Result<Option<T>, Response> {
        match T::from_request(cx, spec).await {
            Ok(v) => Ok(Some(v)),
            Err(Rejection::Invalid(errors)) => {
                let rank = error_rank(T::describe(spec));
                self.errors.extend(errors.into_iter().map(|e| (rank, e)));
                Ok(None)
            }
            Err(Rejection::Respond(resp)) => Err(resp),
        }
    }

    /// Runs the operation's side-effect dependencies (app-, router- and
    /// route-level `dependencies`), in that order.
    pub async fn dependencies(&mut self, cx: &mut RequestContext) -> Result<(), Response> {
        if cx.route().dependencies.is_empty() {
            return Ok(());
        }
        let route = std::sync::Arc::clone(cx.route_arc());
        for run in &route.dependencies {
            match run(cx).await {
                Ok(_) => {}
                Err(Rejection::Invalid(errors)) => {
                    self.errors.extend(errors.into_iter().map(|e| (0, e)));
                }
                Err(Rejection::Respond(resp)) => return Err(resp),
            }
        }
        Ok(())
    }

    /// Whether any parameter or dependency failed validation.
    pub fn failed(&self) -> bool {
        !self.errors.is_empty()
    }

    /// The errors in FastAPI's order (a stable sort keeps declaration
    /// order within each group).
    fn ordered(mut self) -> Vec<ErrorItem> {
        self.errors.sort_by_key(|(rank, _)| *rank);
        self.errors.into_iter().map(|(_, e)| e).collect()
    }

    /// The 422 answer for everything that failed.
    pub fn into_response(self) -> Response {
        ValidationErrors::from(self.ordered()).into_response()
    }

    /// The 422 answer for everything that failed, with the body the
    /// request carried for exception handlers (`ValidationErrors::body`).
    pub fn into_response_for(self, cx: &mut RequestContext) -> Response {
        let mut errors = ValidationErrors::from(self.ordered());
        errors.body = cx.received_body();
        errors.into_response()
    }

    /// The failures as a rejection (for a dependency's own parameters).
    pub fn into_rejection(self) -> Rejection {
        Rejection::Invalid(self.ordered())
    }
}
