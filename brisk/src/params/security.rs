//! Security schemes as parameters: credentials read from the request that
//! also declare themselves in the OpenAPI document (FastAPI's `HTTPBearer`
//! and `APIKeyHeader`). Missing credentials answer FastAPI's
//! `401 {"detail": "Not authenticated"}` with a `WWW-Authenticate` header.

use serde_json::{Value, json};

use super::{FromRequest, Location, ParamDoc, ParamSpec, Rejection, RequestContext};
use crate::HttpError;
use crate::response::IntoResponse;

fn not_authenticated(challenge: &str) -> Rejection {
    Rejection::Respond(
        HttpError::unauthorized("Not authenticated")
            .with_header("www-authenticate", challenge)
            .into_response(),
    )
}

/// A bearer token from `Authorization: Bearer <token>` (FastAPI's
/// `HTTPBearer`); documented as the `HTTPBearer` security scheme.
///
/// ```
/// use brisk::prelude::*;
/// use brisk::params::HttpBearer;
///
/// #[get("/secure")]
/// async fn secure(credentials: HttpBearer) -> Json<Value> {
///     Json(json!({"token": credentials.token}))
/// }
///
/// let client = brisk::TestClient::new(App::new().routes(routes![secure]));
/// assert_eq!(client.get("/secure").send().status(), 401);
/// let resp = client.get("/secure").header("authorization", "Bearer abc").send();
/// assert_eq!(resp.json::<Value>()["token"], "abc");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpBearer {
    /// The token.
    pub token: String,
}

impl FromRequest for HttpBearer {
    async fn from_request(
        cx: &mut RequestContext,
        _spec: &'static ParamSpec,
    ) -> Result<Self, Rejection> {
        let header = cx
            .headers()
            .get(http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        match header.and_then(|h| h.split_once(' ')) {
            Some((scheme, token))
                if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() =>
            {
                Ok(HttpBearer {
                    token: token.trim().to_owned(),
                })
            }
            _ => Err(not_authenticated("Bearer")),
        }
    }

    fn describe(_spec: &'static ParamSpec) -> ParamDoc {
        ParamDoc::Security {
            name: "HTTPBearer",
            scheme: |_| json!({"type": "http", "scheme": "bearer"}),
        }
    }
}

/// An API key from a header (FastAPI's `APIKeyHeader`); the header is named
/// after the parameter as for [`Header`](super::Header) (`x_api_key` reads
/// `X-Api-Key`), or by `#[param(alias = "X-API-Key")]`. Documented as the
/// `APIKeyHeader` security scheme.
///
/// ```
/// use brisk::prelude::*;
/// use brisk::params::ApiKeyHeader;
///
/// #[get("/keyed")]
/// async fn keyed(#[param(alias = "X-API-Key")] key: ApiKeyHeader) -> Json<Value> {
///     Json(json!({"key": key.0}))
/// }
///
/// let client = brisk::TestClient::new(App::new().routes(routes![keyed]));
/// assert_eq!(client.get("/keyed").send().status(), 401);
/// assert_eq!(client.get("/keyed").header("x-api-key", "k").send().json::<Value>()["key"], "k");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyHeader(pub String);

impl FromRequest for ApiKeyHeader {
    async fn from_request(
        cx: &mut RequestContext,
        spec: &'static ParamSpec,
    ) -> Result<Self, Rejection> {
        let name = spec.wire_name(Location::Header);
        match cx.headers().get(name).and_then(|v| v.to_str().ok()) {
            Some(key) if !key.is_empty() => Ok(ApiKeyHeader(key.to_owned())),
            _ => Err(not_authenticated("APIKey")),
        }
    }

    fn describe(_spec: &'static ParamSpec) -> ParamDoc {
        ParamDoc::Security {
            name: "APIKeyHeader",
            scheme: |spec| json!({"type": "apiKey", "in": "header", "name": spec.wire_name(Location::Header)}),
        }
    }
}

/// The schema of a security scheme, given the parameter's spec.
pub type SecuritySchemeFn = fn(&'static ParamSpec) -> Value;
