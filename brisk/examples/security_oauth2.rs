//! FastAPI's "OAuth2 with Password (and hashing), Bearer with JWT tokens"
//! tutorial, in brisk: argon2 password hashes, signed JWTs that expire, a
//! current-user dependency, and Swagger UI's "Authorize" dialog logging in
//! at `/token`.
//!
//! ```text
//! cargo run --release --example security_oauth2 -- --port 8000
//! curl -d 'username=johndoe&password=secret' http://127.0.0.1:8000/token
//! curl -H "Authorization: Bearer <token>" http://127.0.0.1:8000/users/me/
//! open http://127.0.0.1:8000/docs                 # Authorize: johndoe / secret
//! ```
//!
//! The signing key comes from `SECRET_KEY` (the tutorial's `openssl rand
//! -hex 32`); without it, a fixed development key is used and logged.

use std::collections::HashMap;
use std::sync::LazyLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use brisk::params::{OAuth2PasswordBearer, OAuth2PasswordRequestForm, TokenUrl};
use brisk::prelude::*;
use jsonwebtoken::{DecodingKey, EncodingKey, Header as JwtHeader, Validation};

const ACCESS_TOKEN_EXPIRE: Duration = Duration::from_secs(30 * 60);

static SECRET_KEY: LazyLock<String> = LazyLock::new(|| {
    std::env::var("SECRET_KEY").unwrap_or_else(|_| {
        tracing::warn!("SECRET_KEY is not set: using a development key");
        "09d25e094faa6ca2556c818166b7a9563b93f7099f6f0f4caa6cf63b88e8d3e7".to_owned()
    })
});

/// A user as the API shows it.
#[derive(Clone, Serialize, JsonSchema)]
struct User {
    username: String,
    email: Option<String>,
    full_name: Option<String>,
    disabled: Option<bool>,
}

/// A user as stored: with the password's argon2 hash.
struct UserInDb {
    user: User,
    hashed_password: String,
}

/// 16 random bytes (a v4 UUID's) as a salt.
fn salt() -> SaltString {
    SaltString::encode_b64(uuid::Uuid::new_v4().as_bytes()).expect("a 16-byte salt")
}

fn hash_password(password: &str) -> String {
    Argon2::default()
        .hash_password(password.as_bytes(), &salt())
        .expect("hashing a password")
        .to_string()
}

/// The tutorial's fake database (hashed once, at first use).
static USERS: LazyLock<HashMap<&'static str, UserInDb>> = LazyLock::new(|| {
    let user = |username: &str, full_name: &str, email: &str, password: &str, disabled| UserInDb {
        user: User {
            username: username.to_owned(),
            email: Some(email.to_owned()),
            full_name: Some(full_name.to_owned()),
            disabled: Some(disabled),
        },
        hashed_password: hash_password(password),
    };
    HashMap::from([
        (
            "johndoe",
            user(
                "johndoe",
                "John Doe",
                "johndoe@example.com",
                "secret",
                false,
            ),
        ),
        (
            "alice",
            user(
                "alice",
                "Alice Wonderson",
                "alice@example.com",
                "secret2",
                true,
            ),
        ),
    ])
});

/// Where Swagger UI and clients get a token.
struct Login;
impl TokenUrl for Login {
    const TOKEN_URL: &'static str = "token";
}

/// The token's claims.
#[derive(Serialize, Deserialize)]
struct Claims {
    sub: String,
    exp: u64,
}

/// A token answer.
#[derive(Serialize, JsonSchema)]
struct Token {
    access_token: String,
    token_type: &'static str,
}

/// Logs in: a plain `fn`, because verifying an argon2 hash is deliberately
/// slow CPU work, which belongs on the thread pool, not the event loop.
#[post("/token")]
fn login_for_access_token(form_data: OAuth2PasswordRequestForm) -> Result<Json<Token>, HttpError> {
    let incorrect = || {
        HttpError::unauthorized("Incorrect username or password")
            .with_header("www-authenticate", "Bearer")
    };
    let stored = USERS
        .get(form_data.username.as_str())
        .ok_or_else(incorrect)?;
    let hash = PasswordHash::new(&stored.hashed_password).map_err(|_| HttpError::internal())?;
    Argon2::default()
        .verify_password(form_data.password.as_bytes(), &hash)
        .map_err(|_| incorrect())?;
    let exp = (SystemTime::now() + ACCESS_TOKEN_EXPIRE)
        .duration_since(UNIX_EPOCH)
        .map_err(|_| HttpError::internal())?
        .as_secs();
    let claims = Claims {
        sub: stored.user.username.clone(),
        exp,
    };
    let access_token = jsonwebtoken::encode(
        &JwtHeader::default(),
        &claims,
        &EncodingKey::from_secret(SECRET_KEY.as_bytes()),
    )
    .map_err(|_| HttpError::internal())?;
    Ok(Json(Token {
        access_token,
        token_type: "bearer",
    }))
}

/// The user a valid, unexpired token names.
#[dependency]
async fn get_current_user(token: OAuth2PasswordBearer<Login>) -> Result<User, HttpError> {
    let invalid = || {
        HttpError::unauthorized("Could not validate credentials")
            .with_header("www-authenticate", "Bearer")
    };
    let data = jsonwebtoken::decode::<Claims>(
        &token.token,
        &DecodingKey::from_secret(SECRET_KEY.as_bytes()),
        &Validation::default(),
    )
    .map_err(|_| invalid())?;
    USERS
        .get(data.claims.sub.as_str())
        .map(|stored| stored.user.clone())
        .ok_or_else(invalid)
}

/// The current user, unless disabled.
#[dependency]
async fn get_current_active_user(user: Depends<get_current_user>) -> Result<User, HttpError> {
    if user.disabled == Some(true) {
        return Err(HttpError::bad_request("Inactive user"));
    }
    Ok(user.clone())
}

/// Who the token belongs to.
#[get("/users/me/")]
async fn read_users_me(current_user: Depends<get_current_active_user>) -> Json<User> {
    Json(current_user.clone())
}

/// The current user's items.
#[get("/users/me/items/")]
async fn read_own_items(current_user: Depends<get_current_active_user>) -> Json<Value> {
    Json(json!([{"item_id": "Foo", "owner": current_user.username}]))
}

fn main() {
    App::new()
        .title("OAuth2 with JWT")
        .routes(routes![
            login_for_access_token,
            read_users_me,
            read_own_items
        ])
        .run();
}
