//! The same requests sent to brisk and to FastAPI give the same answers.
//!
//! `fixtures/fastapi_validation.json` was recorded from real FastAPI by
//! `fastapi/record_fixtures.py` against `fastapi/validation_app.py`. This file
//! declares the equivalent brisk app, replays every recorded request through
//! the in-process TestClient, and compares status, body (field by field) and
//! the `Allow` header.

mod common;

use brisk::TestClient;
use brisk::params::{ApiKeyHeader, HttpBearer};
use brisk::prelude::*;

#[derive(Serialize, Deserialize, JsonSchema)]
struct Item {
    name: String,
    price: f64,
    #[serde(default = "one")]
    quantity: i64,
    #[serde(default = "yes")]
    in_stock: bool,
    #[serde(default)]
    tags: Vec<String>,
}

fn one() -> i64 {
    1
}

fn yes() -> bool {
    true
}

#[get("/items/{item_id}")]
async fn read_item(
    item_id: i64,
    #[param(min_length = 3, max_length = 10, pattern = "^[a-z]+$")] q: Option<String>,
    #[param(default = 10, ge = 1, le = 100)] limit: i64,
    #[param(gt = 0, lt = 1000)] price: Option<f64>,
    #[param(default = false)] flag: bool,
) -> Json<Value> {
    Json(json!({"item_id": item_id, "q": q, "limit": limit, "price": price, "flag": flag}))
}

#[get("/search")]
async fn search(name: String, tag: Vec<String>) -> Json<Value> {
    Json(json!({"name": name, "tag": tag}))
}

#[post("/items", status = 201)]
async fn create_item(item: Json<Item>) -> Json<Item> {
    item
}

#[get("/headers")]
async fn headers(x_token: Header<String>, user_agent: Header<Option<String>>) -> Json<Value> {
    let _ = user_agent;
    Json(json!({"x_token": x_token.0}))
}

#[get("/cookies")]
async fn cookies(session: Cookie<String>) -> Json<Value> {
    Json(json!({"session": session.0}))
}

#[get("/secure")]
async fn secure(credentials: HttpBearer) -> Json<Value> {
    Json(json!({"token": credentials.token}))
}

#[get("/keyed")]
async fn keyed(#[param(alias = "X-API-Key")] key: ApiKeyHeader) -> Json<Value> {
    Json(json!({"key": key.0}))
}

/// Compares two JSON values and describes the first difference, with its path.
fn diff(path: &str, expected: &Value, actual: &Value) -> Option<String> {
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => {
            for (k, ev) in e {
                match a.get(k) {
                    None => return Some(format!("{path}.{k}: missing in brisk's answer")),
                    Some(av) => {
                        if let Some(d) = diff(&format!("{path}.{k}"), ev, av) {
                            return Some(d);
                        }
                    }
                }
            }
            a.keys()
                .find(|k| !e.contains_key(*k))
                .map(|k| format!("{path}.{k}: brisk has a field FastAPI does not"))
        }
        (Value::Array(e), Value::Array(a)) => {
            if e.len() != a.len() {
                return Some(format!(
                    "{path}: {} items in FastAPI, {} in brisk",
                    e.len(),
                    a.len()
                ));
            }
            e.iter()
                .zip(a)
                .enumerate()
                .find_map(|(i, (ev, av))| diff(&format!("{path}[{i}]"), ev, av))
        }
        // 2.0 (Python float) and 2 are the same number to a JSON client.
        (Value::Number(e), Value::Number(a)) if e.as_f64() == a.as_f64() => None,
        (e, a) if e == a => None,
        (e, a) => Some(format!("{path}: FastAPI {e}, brisk {a}")),
    }
}

#[test]
fn every_recorded_fastapi_answer_is_reproduced() {
    let fixture: Fixture = serde_json::from_str(include_str!("fixtures/fastapi_validation.json"))
        .expect("fixture file");
    assert!(
        fixture.cases.len() >= 40,
        "the fixture should cover the whole list"
    );
    let client = TestClient::new(App::new().routes(routes![
        read_item,
        search,
        create_item,
        headers,
        cookies,
        secure,
        keyed
    ]));
    replay(&client, &fixture, &[]);
}

#[derive(Deserialize)]
struct Fixture {
    recorded_with: Value,
    cases: Vec<Case>,
}

#[derive(Deserialize)]
struct Case {
    name: String,
    method: String,
    path: String,
    #[serde(default)]
    headers: serde_json::Map<String, Value>,
    body: Option<BodySpec>,
    status: u16,
    response: Value,
    #[serde(default)]
    response_headers: serde_json::Map<String, Value>,
}

/// A recorded request body: the text, raw bytes in hex, or a text
/// repeated (huge bodies).
#[derive(Deserialize)]
#[serde(untagged)]
enum BodySpec {
    Text(String),
    Hex {
        hex: String,
    },
    Repeat {
        repeat: String,
        times: usize,
    },
    /// A multipart body, encoded as `fastapi/record_forms.py` does.
    Multipart {
        boundary: String,
        multipart: Vec<Part>,
    },
}

/// One part of a recorded multipart body.
#[derive(Deserialize)]
struct Part {
    name: String,
    filename: Option<String>,
    content_type: Option<String>,
    #[serde(default)]
    data: PartData,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum PartData {
    Text(String),
    Repeat { repeat: String, times: usize },
}

impl Default for PartData {
    fn default() -> Self {
        PartData::Text(String::new())
    }
}

impl BodySpec {
    fn expand(&self) -> Vec<u8> {
        match self {
            BodySpec::Text(t) => t.clone().into_bytes(),
            BodySpec::Hex { hex } => (0..hex.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex byte"))
                .collect(),
            BodySpec::Repeat { repeat, times } => repeat.repeat(*times).into_bytes(),
            // The encoding documented at the top of `record_forms.py`.
            BodySpec::Multipart {
                boundary,
                multipart,
            } => {
                let mut body = Vec::new();
                for part in multipart {
                    body.extend(format!("--{boundary}\r\n").bytes());
                    let mut disposition =
                        format!("Content-Disposition: form-data; name=\"{}\"", part.name);
                    if let Some(filename) = &part.filename {
                        disposition.push_str(&format!("; filename=\"{filename}\""));
                    }
                    body.extend(disposition.bytes());
                    body.extend(b"\r\n");
                    if let Some(ct) = &part.content_type {
                        body.extend(format!("Content-Type: {ct}\r\n").bytes());
                    }
                    body.extend(b"\r\n");
                    match &part.data {
                        PartData::Text(text) => body.extend(text.bytes()),
                        PartData::Repeat { repeat, times } => {
                            body.extend(repeat.repeat(*times).bytes())
                        }
                    }
                    body.extend(b"\r\n");
                }
                body.extend(format!("--{boundary}--\r\n").bytes());
                body
            }
        }
    }
}

/// Sends every recorded request to `client` and compares the answers with
/// FastAPI's: status, body (field by field, numbers as numbers), and the
/// recorded headers (a recorded `content-length` is compared with the length
/// of brisk's body: the bytes must be as many). `allowed` lists cases that
/// may differ, each with the reason; an entry that no longer differs fails.
fn replay(client: &TestClient, fixture: &Fixture, allowed: &[(&str, &str)]) {
    let mut failures = Vec::new();
    let mut differing = Vec::new();
    for case in &fixture.cases {
        let problems = compare(client, case);
        if problems.is_empty() {
            continue;
        }
        differing.push(case.name.as_str());
        if !allowed.iter().any(|(name, _)| *name == case.name) {
            failures.extend(problems.into_iter().map(|p| format!("{}: {p}", case.name)));
        }
    }
    for (name, reason) in allowed {
        assert!(
            differing.contains(name),
            "{name} is allowed to differ ({reason}) but no longer does: remove it"
        );
    }
    assert!(
        failures.is_empty(),
        "{} differences from FastAPI {}:\n{}",
        failures.len(),
        fixture.recorded_with,
        failures.join("\n")
    );
}

/// What differs between brisk's answer to `case` and FastAPI's.
fn compare(client: &TestClient, case: &Case) -> Vec<String> {
    let method = case.method.parse().expect("method");
    let mut req = client.request(method, &case.path);
    for (k, v) in &case.headers {
        if let Some(v) = v.as_str() {
            req = req.header(k, v);
        }
    }
    if let Some(body) = &case.body {
        req = req.body(body.expand());
    }
    let resp = req.send();
    let mut problems = Vec::new();
    if resp.status().as_u16() != case.status {
        problems.push(format!(
            "status FastAPI {}, brisk {} ({})",
            case.status,
            resp.status(),
            resp.text()
        ));
        return problems;
    }
    match &case.response {
        Value::Null if case.method == "HEAD" || resp.bytes().is_empty() => {
            if !resp.bytes().is_empty() && case.method != "HEAD" {
                problems.push(format!("brisk sent a body: {}", resp.text()));
            }
        }
        Value::String(text)
            if !resp
                .header("content-type")
                .is_some_and(|c| c.contains("json")) =>
        {
            if *text != resp.text() {
                problems.push(format!("body FastAPI {text:?}, brisk {:?}", resp.text()));
            }
        }
        expected => match serde_json::from_slice::<Value>(resp.bytes()) {
            Ok(actual) => {
                if let Some(d) = diff("", expected, &actual) {
                    problems.push(d);
                }
            }
            Err(_) => problems.push(format!("body FastAPI {expected}, brisk {:?}", resp.text())),
        },
    }
    for (k, v) in &case.response_headers {
        let expected = v.as_str();
        let actual = if k == "content-length" {
            (case.method != "HEAD").then(|| resp.bytes().len().to_string())
        } else {
            resp.header(k).map(str::to_owned)
        };
        if k == "content-length" && case.method == "HEAD" {
            continue;
        }
        if actual.as_deref() != expected {
            problems.push(format!("header {k}: FastAPI {v}, brisk {actual:?}"));
        }
    }
    problems
}

/// The brisk twin of `fastapi/parity_app.py`: FastAPI's tutorial topics
/// (numbers, enums, path converters, error order, content types, trailing
/// slashes, lists, maps, several bodies, 204s, errors with headers, titles,
/// routers), written as a brisk user would.
mod tutorial_twin {
    use std::collections::{BTreeSet, HashMap};

    use brisk::params::Embed;
    use brisk::prelude::*;

    #[derive(Serialize, Deserialize, JsonSchema, ParamEnum)]
    #[serde(rename_all = "lowercase")]
    pub enum ModelName {
        Alexnet,
        Resnet,
        Lenet,
    }

    #[derive(Serialize, Deserialize, JsonSchema)]
    pub struct Image {
        url: String,
        name: String,
    }

    #[derive(Serialize, Deserialize, JsonSchema)]
    pub struct Item {
        name: String,
        description: Option<String>,
        price: f64,
        tax: Option<f64>,
        #[serde(default)]
        tags: BTreeSet<String>,
        images: Option<Vec<Image>>,
    }

    #[derive(Serialize, Deserialize, JsonSchema)]
    pub struct User {
        username: String,
        full_name: Option<String>,
    }

    #[get("/numbers/{item_id}")]
    async fn numbers(
        item_id: i64,
        #[param(default = 1.0, gt = 0, lt = 10.5)] size: f64,
        #[param(default = 0)] count: i64,
        big: Option<i64>,
    ) -> Json<Value> {
        Json(json!({"item_id": item_id, "size": size, "count": count, "big": big}))
    }

    #[get("/models/{model_name}")]
    async fn get_model(model_name: ModelName) -> Json<Value> {
        Json(json!({ "model_name": model_name }))
    }

    #[get("/files/{file_path:path}")]
    async fn read_file(file_path: String) -> Json<Value> {
        Json(json!({ "file_path": file_path }))
    }

    #[dependency]
    async fn dep_limit(dep_limit: i64) -> i64 {
        dep_limit
    }

    #[put("/order/{item_id}")]
    async fn order(
        item: Json<Item>,
        session: Cookie<i64>,
        x_count: Header<i64>,
        q: i64,
        item_id: i64,
        limit: Depends<dep_limit>,
    ) -> Json<Value> {
        let _ = (item, session, x_count, q, limit);
        Json(json!({ "item_id": item_id }))
    }

    #[post("/items/", status = 201)]
    async fn create_item(item: Json<Item>) -> Json<Item> {
        item
    }

    #[get("/items/")]
    async fn list_items() -> Json<Value> {
        Json(json!([]))
    }

    #[get("/users/me")]
    async fn read_user_me() -> Json<User> {
        Json(User {
            username: "me".into(),
            full_name: None,
        })
    }

    #[get("/lists")]
    async fn lists(
        q: Option<Vec<String>>,
        x_tag: Header<Option<Vec<String>>>,
        #[param(default = vec![1, 2])] ids: Vec<i64>,
    ) -> Json<Value> {
        Json(json!({"q": q, "x_tag": x_tag.0, "ids": ids}))
    }

    #[post("/index-weights/")]
    async fn create_index_weights(weights: Json<HashMap<i64, f64>>) -> Json<HashMap<i64, f64>> {
        weights
    }

    #[put("/multi/{item_id}")]
    async fn update_multi(
        item_id: i64,
        item: Json<Item>,
        user: Json<User>,
        importance: Embed<i64>,
    ) -> Json<Value> {
        Json(
            json!({"item_id": item_id, "item": item.0, "user": user.0, "importance": importance.0}),
        )
    }

    #[put("/embed")]
    async fn embed(item: Embed<Item>) -> Json<Value> {
        Json(json!({ "item": item.0 }))
    }

    #[delete("/items/{item_id}", status = 204)]
    async fn delete_item(item_id: i64) {
        let _ = item_id;
    }

    #[get("/stock/{item_id}", responses = [(404, "Item not found"), (409, "Conflict")])]
    async fn read_stock(item_id: i64) -> Result<Json<Value>, HttpError> {
        if item_id == 0 {
            return Err(HttpError::not_found("Item not found")
                .with_header("X-Error", "There goes my error"));
        }
        Ok(Json(json!({ "item_id": item_id })))
    }

    #[get("/titled")]
    async fn titled(
        #[param(
            title = "Query string",
            description = "What to search for",
            min_length = 3
        )]
        q: Option<String>,
        #[param(alias = "item-query", deprecated = true)] item_query: Option<String>,
    ) -> Json<Value> {
        Json(json!({"q": q, "item_query": item_query}))
    }

    #[get("/")]
    async fn list_things() -> Json<Value> {
        Json(json!(["a", "b"]))
    }

    #[get("/{thing_id}")]
    async fn read_thing(thing_id: i64) -> Json<Value> {
        Json(json!({ "thing_id": thing_id }))
    }

    pub fn app() -> App {
        let things = ApiRouter::new()
            .prefix("/things")
            .tags(&["things"])
            .routes(routes![list_things, read_thing]);
        App::new()
            .title("Parity")
            .version("1.0.0")
            .routes(routes![
                numbers,
                get_model,
                read_file,
                order,
                create_item,
                list_items,
                read_user_me,
                lists,
                create_index_weights,
                update_multi,
                embed,
                delete_item,
                read_stock,
                titled
            ])
            .include(things)
    }
}

/// Requests of the tutorial twin where brisk answers differently on
/// purpose, and why.
const TWIN_DIFFERENCES: &[(&str, &str)] = &[
    (
        "int_path_beyond_i64",
        "an `i64` parameter holds -2^63..2^63-1 (a documented limit); beyond it brisk answers \
         422 `less_than_equal`, where Python's unbounded int accepts the value",
    ),
    (
        "int_query_beyond_i64",
        "the same limit for an `Option<i64>` query parameter",
    ),
];

#[test]
fn every_recorded_answer_of_fastapis_tutorial_twin_is_reproduced() {
    let fixture: Fixture =
        serde_json::from_str(include_str!("fixtures/fastapi_parity.json")).expect("fixture file");
    let client = TestClient::new(tutorial_twin::app());
    replay(&client, &fixture, TWIN_DIFFERENCES);
}

/// `app`'s OpenAPI document equals the one recorded from FastAPI in `fixture`.
fn assert_document_equals(fixture: &str, app: App) {
    let fixture: Value = serde_json::from_str(fixture).expect("fixture file");
    let ours = TestClient::new(app).openapi();
    let differences = common::json_differences(&fixture["openapi"], &ours);
    assert!(
        differences.is_empty(),
        "{} differences from FastAPI's document:\n{}",
        differences.len(),
        differences.join("\n")
    );
}

#[test]
fn the_tutorial_twins_openapi_document_equals_fastapis() {
    assert_document_equals(
        include_str!("fixtures/fastapi_parity_openapi.json"),
        tutorial_twin::app(),
    );
}

/// The brisk twin of `fastapi/forms_app.py`: forms, uploads, FastAPI's
/// "Simple OAuth2 with Password and Bearer" tutorial and HTTP Basic.
mod forms_twin {
    use brisk::params::{
        FileBytes, Form, FormField, HttpBasic, OAuth2PasswordBearer, OAuth2PasswordRequestForm,
        TokenUrl, UploadFile,
    };
    use brisk::prelude::*;

    #[post("/login/")]
    async fn login_form(
        username: FormField<String>,
        #[param(min_length = 3)] password: FormField<String>,
        #[param(default = FormField(false))] remember: FormField<bool>,
    ) -> Json<Value> {
        let _ = password;
        Json(json!({"username": username.0, "remember": remember.0}))
    }

    #[derive(Serialize, Deserialize, JsonSchema)]
    pub struct Profile {
        #[schemars(length(max = 20))]
        name: String,
        #[schemars(range(min = 0, max = 150))]
        age: i64,
        #[serde(default)]
        tags: Vec<String>,
    }

    #[post("/profile/")]
    async fn profile_form(profile: Form<Profile>) -> Json<Value> {
        Json(json!(profile.0))
    }

    #[post("/files/")]
    async fn create_file(file: FileBytes) -> Json<Value> {
        Json(json!({"file_size": file.0.len()}))
    }

    #[post("/uploadfile/")]
    async fn create_upload_file(
        file: UploadFile,
        #[param(default = FormField(String::new()))] note: FormField<String>,
    ) -> Json<Value> {
        let bytes = file.bytes().await.expect("readable upload");
        let head: String = bytes.iter().take(10).map(|&b| b as char).collect();
        Json(json!({
            "filename": file.filename,
            "content_type": file.content_type,
            "size": file.size(),
            "note": note.0,
            "head": head,
        }))
    }

    #[post("/uploadfiles/")]
    async fn create_upload_files(files: Vec<UploadFile>) -> Json<Value> {
        let filenames: Vec<&str> = files.iter().map(|f| f.filename.as_str()).collect();
        let sizes: Vec<u64> = files.iter().map(UploadFile::size).collect();
        Json(json!({"filenames": filenames, "sizes": sizes}))
    }

    #[post("/optional-file/")]
    async fn optional_file(file: Option<UploadFile>) -> Json<Value> {
        Json(json!({"filename": file.map(|f| f.filename)}))
    }

    #[derive(Clone, Serialize)]
    pub struct UserInDb {
        username: String,
        email: Option<String>,
        full_name: Option<String>,
        disabled: Option<bool>,
        hashed_password: String,
    }

    fn get_user(username: &str) -> Option<UserInDb> {
        let (full_name, email, hashed, disabled) = match username {
            "johndoe" => ("John Doe", "johndoe@example.com", "fakehashedsecret", false),
            "alice" => (
                "Alice Wonderson",
                "alice@example.com",
                "fakehashedsecret2",
                true,
            ),
            _ => return None,
        };
        Some(UserInDb {
            username: username.to_owned(),
            email: Some(email.to_owned()),
            full_name: Some(full_name.to_owned()),
            disabled: Some(disabled),
            hashed_password: hashed.to_owned(),
        })
    }

    pub struct Token;
    impl TokenUrl for Token {
        const TOKEN_URL: &'static str = "token";
    }

    #[dependency]
    async fn get_current_user(token: OAuth2PasswordBearer<Token>) -> Result<UserInDb, HttpError> {
        get_user(&token.token).ok_or_else(|| {
            HttpError::unauthorized("Invalid authentication credentials")
                .with_header("www-authenticate", "Bearer")
        })
    }

    #[dependency]
    async fn get_current_active_user(
        user: Depends<get_current_user>,
    ) -> Result<UserInDb, HttpError> {
        if user.disabled == Some(true) {
            return Err(HttpError::bad_request("Inactive user"));
        }
        Ok(user.clone())
    }

    #[post("/token")]
    async fn login(form_data: OAuth2PasswordRequestForm) -> Result<Json<Value>, HttpError> {
        let incorrect = || HttpError::bad_request("Incorrect username or password");
        let user = get_user(&form_data.username).ok_or_else(incorrect)?;
        if format!("fakehashed{}", form_data.password) != user.hashed_password {
            return Err(incorrect());
        }
        Ok(Json(
            json!({"access_token": user.username, "token_type": "bearer"}),
        ))
    }

    #[get("/users/me")]
    async fn read_users_me(current_user: Depends<get_current_active_user>) -> Json<Value> {
        Json(json!(*current_user))
    }

    #[get("/basic/")]
    async fn basic(credentials: HttpBasic) -> Json<Value> {
        Json(json!({"username": credentials.username, "password": credentials.password}))
    }

    pub fn app() -> App {
        App::new().title("Forms").version("1.0.0").routes(routes![
            login_form,
            profile_form,
            create_file,
            create_upload_file,
            create_upload_files,
            optional_file,
            login,
            read_users_me,
            basic
        ])
    }
}

#[test]
fn every_recorded_answer_of_fastapis_forms_twin_is_reproduced() {
    let fixture: Fixture =
        serde_json::from_str(include_str!("fixtures/fastapi_forms.json")).expect("fixture file");
    assert!(fixture.cases.len() >= 80, "the whole recorded list");
    let client = TestClient::new(forms_twin::app());
    replay(&client, &fixture, &[]);
}

#[test]
fn the_forms_twins_openapi_document_equals_fastapis() {
    assert_document_equals(
        include_str!("fixtures/fastapi_forms_openapi.json"),
        forms_twin::app(),
    );
}
