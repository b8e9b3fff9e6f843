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

/// Where a client gets a token: the `tokenUrl` of an
/// [`OAuth2PasswordBearer`] (FastAPI's `OAuth2PasswordBearer(tokenUrl=...)`),
/// and the scopes it may grant.
///
/// ```
/// use brisk::params::TokenUrl;
/// struct Login;
/// impl TokenUrl for Login {
///     const TOKEN_URL: &'static str = "token";
/// }
/// ```
pub trait TokenUrl: Send + Sync + 'static {
    /// The path of the token endpoint, as FastAPI writes it (often relative: `"token"`).
    const TOKEN_URL: &'static str;
    /// The scopes, with their descriptions (OpenAPI).
    const SCOPES: &'static [(&'static str, &'static str)] = &[];
}

/// A bearer token for the OAuth2 password flow (FastAPI's
/// `OAuth2PasswordBearer`): `Authorization: Bearer <token>`, else FastAPI's
/// `401 {"detail": "Not authenticated"}` with `WWW-Authenticate: Bearer`.
/// Documented as the `OAuth2PasswordBearer` scheme with its password flow,
/// so Swagger UI's "Authorize" dialog logs in at `U::TOKEN_URL`.
///
/// ```
/// use brisk::prelude::*;
/// use brisk::params::{OAuth2PasswordBearer, TokenUrl};
///
/// struct Login;
/// impl TokenUrl for Login { const TOKEN_URL: &'static str = "token"; }
///
/// #[get("/me")]
/// async fn me(token: OAuth2PasswordBearer<Login>) -> String {
///     token.token.clone()
/// }
///
/// let client = brisk::TestClient::new(App::new().routes(routes![me]));
/// assert_eq!(client.get("/me").send().header("www-authenticate"), Some("Bearer"));
/// assert_eq!(client.get("/me").header("authorization", "bearer  abc ").send().text(), "abc");
/// ```
pub struct OAuth2PasswordBearer<U> {
    /// The token (trimmed; empty for a bare `Bearer`, as FastAPI gives it).
    pub token: String,
    _url: std::marker::PhantomData<fn() -> U>,
}

impl<U> std::fmt::Debug for OAuth2PasswordBearer<U> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OAuth2PasswordBearer")
            .finish_non_exhaustive()
    }
}

/// FastAPI's `get_authorization_scheme_param`: the scheme before the first
/// space, and the rest trimmed.
fn scheme_and_param(cx: &RequestContext) -> Option<(String, String)> {
    let header = cx
        .headers()
        .get(http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, param) = header.split_once(' ').unwrap_or((header, ""));
    Some((scheme.to_owned(), param.trim().to_owned()))
}

impl<U: TokenUrl> FromRequest for OAuth2PasswordBearer<U> {
    async fn from_request(
        cx: &mut RequestContext,
        _spec: &'static ParamSpec,
    ) -> Result<Self, Rejection> {
        match scheme_and_param(cx) {
            Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => {
                Ok(OAuth2PasswordBearer {
                    token,
                    _url: std::marker::PhantomData,
                })
            }
            _ => Err(not_authenticated("Bearer")),
        }
    }

    fn describe(_spec: &'static ParamSpec) -> ParamDoc {
        ParamDoc::Security {
            name: "OAuth2PasswordBearer",
            scheme: |_| {
                let scopes: serde_json::Map<String, Value> = U::SCOPES
                    .iter()
                    .map(|(name, description)| ((*name).to_owned(), Value::from(*description)))
                    .collect();
                json!({"type": "oauth2", "flows": {"password": {"scopes": scopes, "tokenUrl": U::TOKEN_URL}}})
            },
        }
    }
}

/// HTTP Basic credentials (FastAPI's `HTTPBasic`): `Authorization: Basic
/// base64(username:password)`; anything else (absent, not base64, not
/// ASCII, no colon) is FastAPI's `401 {"detail": "Not authenticated"}` with
/// `WWW-Authenticate: Basic`.
///
/// ```
/// use brisk::prelude::*;
/// use brisk::params::HttpBasic;
///
/// #[get("/basic")]
/// async fn basic(credentials: HttpBasic) -> String {
///     format!("{}:{}", credentials.username, credentials.password)
/// }
///
/// let client = brisk::TestClient::new(App::new().routes(routes![basic]));
/// assert_eq!(client.get("/basic").send().status(), 401);
/// let resp = client.get("/basic").header("authorization", "Basic YW5uOnBhOnNz").send();
/// assert_eq!(resp.text(), "ann:pa:ss");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpBasic {
    /// The user name.
    pub username: String,
    /// The password (everything after the first colon).
    pub password: String,
}

impl FromRequest for HttpBasic {
    async fn from_request(
        cx: &mut RequestContext,
        _spec: &'static ParamSpec,
    ) -> Result<Self, Rejection> {
        let credentials = scheme_and_param(cx)
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("basic"))
            .and_then(|(_, param)| data_encoding::BASE64.decode(param.as_bytes()).ok())
            .filter(|decoded| decoded.is_ascii())
            .and_then(|decoded| String::from_utf8(decoded).ok())
            .and_then(|text| {
                let (username, password) = text.split_once(':')?;
                Some(HttpBasic {
                    username: username.to_owned(),
                    password: password.to_owned(),
                })
            });
        credentials.ok_or_else(|| not_authenticated("Basic"))
    }

    fn describe(_spec: &'static ParamSpec) -> ParamDoc {
        ParamDoc::Security {
            name: "HTTPBasic",
            scheme: |_| json!({"type": "http", "scheme": "basic"}),
        }
    }
}

/// The login form of the OAuth2 password flow (FastAPI's
/// `OAuth2PasswordRequestForm`): `username`, `password`, an optional
/// `grant_type` that must be `password`, `scope` split on spaces, and the
/// optional client credentials. Errors as FastAPI's, at `["body", field]`.
///
/// ```
/// use brisk::prelude::*;
/// use brisk::params::OAuth2PasswordRequestForm;
///
/// #[post("/token")]
/// async fn token(form: OAuth2PasswordRequestForm) -> Json<Value> {
///     Json(json!({"access_token": form.username, "token_type": "bearer", "scopes": form.scopes}))
/// }
///
/// let client = brisk::TestClient::new(App::new().routes(routes![token]));
/// let resp = client.post("/token").header("content-type", "application/x-www-form-urlencoded")
///     .body("username=ann&password=x&scope=read+write").send();
/// assert_eq!(resp.json::<Value>()["scopes"], json!(["read", "write"]));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuth2PasswordRequestForm {
    /// `password` when given (the only value the flow allows).
    pub grant_type: Option<String>,
    /// The user name.
    pub username: String,
    /// The password.
    pub password: String,
    /// The requested scopes (`scope`, split on spaces).
    pub scopes: Vec<String>,
    /// The client id, if sent.
    pub client_id: Option<String>,
    /// The client secret, if sent.
    pub client_secret: Option<String>,
}

impl FromRequest for OAuth2PasswordRequestForm {
    async fn from_request(
        cx: &mut RequestContext,
        _spec: &'static ParamSpec,
    ) -> Result<Self, Rejection> {
        use super::sources::FromValues;
        static GRANT_TYPE: ParamSpec =
            ParamSpec::with_pattern("grant_type", super::Pattern::new("^password$"));
        static USERNAME: ParamSpec = ParamSpec::named("username");
        static PASSWORD: ParamSpec = ParamSpec::named("password");
        static SCOPE: ParamSpec = ParamSpec::named("scope");
        static CLIENT_ID: ParamSpec = ParamSpec::named("client_id");
        static CLIENT_SECRET: ParamSpec = ParamSpec::named("client_secret");
        let form = super::form::parsed(cx).await?;
        // Field by field in FastAPI's order, every error collected.
        let mut errors = Vec::new();
        let mut field = |spec: &'static ParamSpec, required: bool| -> Option<String> {
            match Option::<String>::from_values(form.values(spec.name), spec, Location::Body) {
                Ok(Some(value)) => Some(value),
                Ok(None) if required => {
                    errors.push(crate::error::ErrorItem::missing(
                        spec.loc(Location::Body),
                        Value::Null,
                    ));
                    None
                }
                Ok(None) => None,
                Err(e) => {
                    errors.extend(e);
                    None
                }
            }
        };
        let grant_type = field(&GRANT_TYPE, false);
        let username = field(&USERNAME, true).unwrap_or_default();
        let password = field(&PASSWORD, true).unwrap_or_default();
        let scope = field(&SCOPE, false);
        let client_id = field(&CLIENT_ID, false);
        let client_secret = field(&CLIENT_SECRET, false);
        if !errors.is_empty() {
            return Err(Rejection::Invalid(errors));
        }
        Ok(OAuth2PasswordRequestForm {
            grant_type,
            username,
            password,
            scopes: scope
                .map(|s| s.split_whitespace().map(str::to_owned).collect())
                .unwrap_or_default(),
            client_id,
            client_secret,
        })
    }

    fn describe(_spec: &'static ParamSpec) -> ParamDoc {
        ParamDoc::FormFields {
            fields: || {
                let optional = |title: &str| json!({"anyOf": [{"type": "string"}, {"type": "null"}], "title": title});
                let mut secret = optional("Client Secret");
                secret["format"] = "password".into();
                vec![
                    (
                        "grant_type",
                        json!({"anyOf": [{"type": "string", "pattern": "^password$"}, {"type": "null"}], "title": "Grant Type"}),
                        false,
                    ),
                    (
                        "username",
                        json!({"type": "string", "title": "Username"}),
                        true,
                    ),
                    (
                        "password",
                        json!({"type": "string", "format": "password", "title": "Password"}),
                        true,
                    ),
                    (
                        "scope",
                        json!({"type": "string", "title": "Scope", "default": ""}),
                        false,
                    ),
                    ("client_id", optional("Client Id"), false),
                    ("client_secret", secret, false),
                ]
            },
        }
    }
}
