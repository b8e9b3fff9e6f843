//! Middleware and exception handlers: tower-http layers plug in unchanged,
//! app-wide layers see everything (404, 405, the docs), router layers only
//! their operations, the order is the documented one, function middleware
//! is watched, panics in middleware answer 500, the limits still hold with
//! layers present; CORS answers as Starlette's `CORSMiddleware` does and the
//! `errors` example as its FastAPI twin does (fixtures recorded by
//! `fastapi/record_middleware.py`); the `middleware` example, end to end.

mod common;

use std::io::Read;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use brisk::middleware::{Cors, GZip, HttpsRedirect, Next, Request, TrustedHost, from_fn};
use brisk::prelude::*;
use brisk::response::Response;
use brisk::{ServerConfig, TestClient};
use http::Method;

#[get("/")]
async fn root() -> Json<Value> {
    Json(json!({"message": "Hello World"}))
}

#[get("/big")]
async fn big() -> String {
    "brisk ".repeat(1000)
}

#[get("/slow")]
async fn slow() -> &'static str {
    tokio::time::sleep(Duration::from_millis(500)).await;
    "late"
}

#[post("/echo")]
async fn echo(req: brisk::params::Request) -> String {
    String::from_utf8_lossy(req.body()).into_owned()
}

#[get("/panic")]
async fn panics() -> &'static str {
    panic!("handler exploded")
}

fn routes() -> Vec<brisk::routing::Operation> {
    routes![root, big, slow, echo, panics]
}

/// Appends `name` to the `x-trail` request header, then to the response's.
fn trail(
    name: &'static str,
) -> impl Fn(Request, Next) -> std::pin::Pin<Box<dyn std::future::Future<Output = Response> + Send>>
+ Clone
+ Send
+ Sync
+ 'static {
    move |mut req: Request, next: Next| {
        Box::pin(async move {
            let before = req
                .headers()
                .get("x-trail")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_owned();
            req.headers_mut()
                .insert("x-trail", format!("{before}>{name}").parse().unwrap());
            let mut resp = next.run(req).await;
            let after = resp
                .headers()
                .get("x-trail")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_owned();
            resp.headers_mut()
                .insert("x-trail", format!("{after}<{name}").parse().unwrap());
            resp
        })
    }
}

#[get("/trail")]
async fn show_trail(x_trail: Header<Option<String>>) -> String {
    x_trail.0.unwrap_or_default()
}

#[test]
fn the_layer_added_last_runs_first_app_layers_before_router_layers() {
    let router = ApiRouter::new()
        .prefix("/r")
        .routes(routes![show_trail])
        .layer(from_fn(trail("router-inner")))
        .layer(from_fn(trail("router-outer")));
    let app = App::new()
        .include(router)
        .middleware(trail("app-inner"))
        .layer(from_fn(trail("app-outer")));
    let client = TestClient::new(app);
    let resp = client.get("/r/trail").send();
    // The request passes outermost first; the response comes back the other way.
    assert_eq!(
        resp.text(),
        ">app-outer>app-inner>router-outer>router-inner"
    );
    assert_eq!(
        resp.header("x-trail"),
        Some("<router-inner<router-outer<app-inner<app-outer")
    );
}

#[test]
fn app_layers_see_404_405_and_the_docs_router_layers_only_their_operations() {
    let admin = ApiRouter::new()
        .prefix("/admin")
        .routes(routes![show_trail])
        .layer(from_fn(trail("admin")));
    let app = App::new()
        .routes(routes![root])
        .include(admin)
        .layer(from_fn(trail("app")));
    let client = TestClient::new(app);
    for path in ["/", "/nope", "/docs", "/openapi.json"] {
        assert_eq!(
            client.get(path).send().header("x-trail"),
            Some("<app"),
            "{path}"
        );
    }
    let not_allowed = client.delete("/").send();
    assert_eq!(not_allowed.status(), 405);
    assert_eq!(not_allowed.header("x-trail"), Some("<app"));
    assert_eq!(
        client.get("/admin/trail").send().header("x-trail"),
        Some("<admin<app")
    );
}

#[test]
fn tower_http_layers_plug_in_unchanged() {
    use tower_http::catch_panic::CatchPanicLayer;
    use tower_http::compression::CompressionLayer;
    use tower_http::cors::CorsLayer;
    use tower_http::limit::RequestBodyLimitLayer;
    use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
    use tower_http::timeout::TimeoutLayer;
    use tower_http::trace::TraceLayer;
    use tower_http::validate_request::ValidateRequestHeaderLayer;

    let app = App::new()
        .routes(routes())
        .layer(CompressionLayer::new())
        .layer(RequestBodyLimitLayer::new(64))
        .layer(TimeoutLayer::with_status_code(
            http::StatusCode::REQUEST_TIMEOUT,
            Duration::from_millis(200),
        ))
        .layer(CatchPanicLayer::new())
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
        .layer(TraceLayer::new_for_http())
        .layer(CorsLayer::permissive());
    let client = TestClient::new(app);
    let resp = client.get("/").header("origin", "http://a.test").send();
    assert_eq!(resp.json::<Value>()["message"], "Hello World");
    assert_eq!(resp.header("access-control-allow-origin"), Some("*"));
    assert!(resp.header("x-request-id").is_some_and(|id| id.len() == 36));
    let resp = client.get("/").header("x-request-id", "abc-123").send();
    assert_eq!(resp.header("x-request-id"), Some("abc-123"));
    let preflight = client
        .request(Method::OPTIONS, "/")
        .header("origin", "http://a.test")
        .header("access-control-request-method", "GET")
        .send();
    assert_eq!(preflight.status(), 200);
    let resp = client.get("/big").header("accept-encoding", "gzip").send();
    assert_eq!(resp.header("content-encoding"), Some("gzip"));
    assert_eq!(gunzip(resp.bytes()), "brisk ".repeat(1000));
    assert_eq!(client.get("/slow").send().status(), 408);
    let resp = client.post("/echo").body("x".repeat(100)).send();
    assert_eq!(resp.status(), 413);
    assert_eq!(client.post("/echo").body("small").send().text(), "small");

    let guarded = TestClient::new(
        App::new()
            .routes(routes())
            .layer(ValidateRequestHeaderLayer::accept("application/json")),
    );
    assert_eq!(
        guarded
            .get("/")
            .header("accept", "text/html")
            .send()
            .status(),
        406
    );
    assert_eq!(
        guarded
            .get("/")
            .header("accept", "application/json")
            .send()
            .status(),
        200
    );
}

fn gunzip(bytes: &[u8]) -> String {
    let mut out = String::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_string(&mut out)
        .expect("a gzip body");
    out
}

#[test]
fn gzip_compresses_from_the_minimum_size_like_starlette() {
    #[get("/sized")]
    async fn sized(n: usize) -> String {
        "a".repeat(n)
    }
    let client = TestClient::new(
        App::new()
            .routes(routes![sized])
            .layer(GZip::new().minimum_size(1000)),
    );
    let small = client
        .get("/sized?n=999")
        .header("accept-encoding", "gzip")
        .send();
    assert_eq!(small.header("content-encoding"), None);
    assert_eq!(small.text().len(), 999);
    let exact = client
        .get("/sized?n=1000")
        .header("accept-encoding", "gzip")
        .send();
    assert_eq!(exact.header("content-encoding"), Some("gzip"));
    assert_eq!(exact.header("vary"), Some("accept-encoding"));
    assert_eq!(gunzip(exact.bytes()), "a".repeat(1000));
    let identity = client.get("/sized?n=5000").send();
    assert_eq!(identity.header("content-encoding"), None);
}

#[test]
fn trusted_host_and_https_redirect_answer_like_starlette() {
    let client = TestClient::new(
        App::new()
            .routes(routes![root])
            .layer(TrustedHost::new(["example.com", "*.example.com"])),
    );
    assert_eq!(
        client
            .get("/")
            .header("host", "example.com:8000")
            .send()
            .status(),
        200
    );
    let refused = client.get("/").header("host", "evil.com").send();
    assert_eq!(refused.status(), 400);
    assert_eq!(refused.text(), "Invalid host header");
    let client = TestClient::new(App::new().routes(routes![root]).layer(HttpsRedirect));
    let resp = client.get("/?a=1").header("host", "example.com:80").send();
    assert_eq!(resp.status(), 307);
    assert_eq!(resp.header("location"), Some("https://example.com/?a=1"));
}

#[test]
fn limits_the_watchdog_and_panics_still_work_with_layers_present() {
    #[get("/block")]
    async fn block() -> &'static str {
        std::thread::sleep(Duration::from_millis(100));
        "blocked"
    }
    #[get("/capped", timeout = "100ms")]
    async fn capped() -> &'static str {
        tokio::time::sleep(Duration::from_secs(2)).await;
        "never"
    }
    let mut config = ServerConfig::for_tests();
    config.limit_concurrency = Some(1);
    let app = App::new()
        .routes(routes![block, capped, slow, panics, root])
        .layer(from_fn(trail("layer")))
        .layer(Cors::new().allow_origins(["*"]));
    let client = Arc::new(TestClient::with_config(app, config));
    // A panicking handler: 500, the app goes on.
    assert_eq!(client.get("/panic").send().status(), 500);
    assert_eq!(client.get("/").send().status(), 200);
    // The operation's timeout: 504.
    assert_eq!(client.get("/capped").send().status(), 504);
    // The watchdog contains a blocking handler behind layers too.
    assert_eq!(client.get("/block").send().text(), "blocked");
    let report = client.metrics();
    let blocked = report.routes.iter().find(|r| r.path == "/block").unwrap();
    assert!(blocked.contained, "{blocked:?}");
    // --limit-concurrency 1: a second request while one is in flight gets 503.
    let busy = Arc::clone(&client);
    let first = std::thread::spawn(move || busy.get("/slow").send().status());
    std::thread::sleep(Duration::from_millis(150));
    let second = client.get("/").send();
    assert_eq!(second.status(), 503);
    assert_eq!(
        second.header("x-trail"),
        Some("<layer"),
        "layers see the 503"
    );
    assert_eq!(first.join().unwrap(), 200);
}

#[test]
fn a_function_middleware_that_blocks_is_reported_and_contained() {
    #[brisk::middleware]
    async fn blocking_middleware(req: Request, next: Next) -> Response {
        std::thread::sleep(Duration::from_millis(60));
        next.run(req).await
    }
    let client = TestClient::new(
        App::new()
            .routes(routes![root])
            .middleware(blocking_middleware),
    );
    assert_eq!(client.get("/").send().status(), 200);
    let report = client.metrics();
    let watched = report
        .routes
        .iter()
        .find(|r| r.method == "MIDDLEWARE")
        .expect("the middleware is watched");
    assert_eq!(watched.path, "blocking_middleware");
    assert!(watched.slow_polls >= 1, "{watched:?}");
    assert!(watched.contained, "{watched:?}");
    // Contained, it runs on the pool; the app still answers.
    assert_eq!(client.get("/").send().status(), 200);
}

#[test]
fn a_panicking_middleware_answers_500_and_the_server_serves_on() {
    static CALLS: AtomicUsize = AtomicUsize::new(0);
    async fn explode_every_other(req: Request, next: Next) -> Response {
        if CALLS.fetch_add(1, Ordering::SeqCst).is_multiple_of(2) {
            panic!("middleware exploded");
        }
        next.run(req).await
    }
    let server = brisk::serve::BackgroundServer::start(
        App::new()
            .routes(routes![root])
            .middleware(explode_every_other),
        ServerConfig::for_tests(),
    );
    let first = common::request(server.addr(), "GET", "/", None);
    assert_eq!(first.status, 500);
    assert_eq!(first.json(), json!({"detail": "Internal Server Error"}));
    let second = common::request(server.addr(), "GET", "/", None);
    assert_eq!(second.status, 200);
}

#[test]
fn middleware_can_short_circuit_and_rewrite_requests() {
    async fn gate(mut req: Request, next: Next) -> Response {
        if req.uri().path() == "/secret" {
            return HttpError::forbidden("Nope").into_response();
        }
        // Rewrite /old to /.
        if req.uri().path() == "/old" {
            *req.uri_mut() = "/".parse().unwrap();
        }
        next.run(req).await
    }
    let client = TestClient::new(App::new().routes(routes![root]).layer(from_fn(gate)));
    let resp = client.get("/secret").send();
    assert_eq!(resp.status(), 403);
    assert_eq!(resp.json::<Value>(), json!({"detail": "Nope"}));
    assert_eq!(
        client.get("/old").send().json::<Value>()["message"],
        "Hello World"
    );
}

// --- parity: Starlette's CORSMiddleware ----------------------------------------

/// brisk's `Cors` configured as each recorded Starlette configuration.
fn cors_for(config: &str) -> Cors {
    match config {
        "one_origin" => Cors::new().allow_origins(["http://localhost:3000"]),
        "everything" => Cors::new()
            .allow_origins(["*"])
            .allow_methods(["*"])
            .allow_headers(["*"]),
        "credentials" => Cors::new()
            .allow_origins(["http://localhost:3000"])
            .allow_credentials(true)
            .allow_methods(["*"])
            .allow_headers(["*"])
            .expose_headers(["x-request-id"])
            .max_age(1200),
        "regex" => Cors::new()
            .allow_origin_regex(r"https://.*\.example\.org")
            .allow_methods(["GET", "POST"])
            .allow_headers(["X-Token"]),
        other => panic!("unknown configuration {other}"),
    }
}

#[get("/items")]
async fn items() -> Json<Value> {
    Json(json!([{"name": "Foo"}]))
}

/// Compares one recorded answer (status, text, recorded headers) with brisk's.
fn compare(client: &TestClient, case: &Value, also_absent: &[&str]) -> Vec<String> {
    let method: Method = case["method"].as_str().unwrap().parse().unwrap();
    let mut req = client.request(method, case["path"].as_str().unwrap());
    for (k, v) in case["headers"].as_object().unwrap() {
        req = req.header(k, v.as_str().unwrap());
    }
    if let Some(body) = case["body"].as_str() {
        req = req.body(body.to_owned());
    }
    let resp = req.send();
    let name = case["name"].as_str().unwrap();
    let mut problems = Vec::new();
    if resp.status().as_u16() as u64 != case["status"].as_u64().unwrap() {
        problems.push(format!(
            "{name}: status {} vs Starlette {}",
            resp.status(),
            case["status"]
        ));
    }
    if resp.text() != case["text"].as_str().unwrap() {
        problems.push(format!(
            "{name}: body {:?} vs Starlette {}",
            resp.text(),
            case["text"]
        ));
    }
    let recorded = case["response_headers"].as_object().unwrap();
    for (k, v) in recorded {
        let ours = if k == "content-length" {
            Some(resp.bytes().len().to_string())
        } else {
            resp.header(k).map(str::to_owned)
        };
        if ours.as_deref() != v.as_str() {
            problems.push(format!("{name}: {k} {ours:?} vs Starlette {v}"));
        }
    }
    // Headers Starlette did not send must not be sent either.
    for k in also_absent {
        if !recorded.contains_key(*k) && resp.header(k).is_some() {
            problems.push(format!(
                "{name}: {k} {:?} which Starlette does not send",
                resp.header(k)
            ));
        }
    }
    problems
}

#[test]
fn cors_answers_exactly_as_starlettes_cors_middleware() {
    let fixture: Value =
        serde_json::from_str(include_str!("fixtures/starlette_cors.json")).unwrap();
    let cors_headers = [
        "access-control-allow-origin",
        "access-control-allow-methods",
        "access-control-allow-headers",
        "access-control-allow-credentials",
        "access-control-expose-headers",
        "access-control-max-age",
        "vary",
    ];
    let mut problems = Vec::new();
    let configs = fixture["configs"].as_object().unwrap();
    for (name, data) in configs {
        let client = TestClient::new(App::new().routes(routes![items]).layer(cors_for(name)));
        for case in data["cases"].as_array().unwrap() {
            problems.extend(
                compare(&client, case, &cors_headers)
                    .into_iter()
                    .map(|p| format!("[{name}] {p}")),
            );
        }
    }
    assert!(configs.len() == 4, "four recorded configurations");
    assert!(
        problems.is_empty(),
        "{} differences from Starlette {}:\n{}",
        problems.len(),
        fixture["recorded_with"],
        problems.join("\n")
    );
}

// --- the examples, as real processes -------------------------------------------

#[test]
fn the_errors_example_answers_as_its_fastapi_twin() {
    let fixture: Value =
        serde_json::from_str(include_str!("fixtures/fastapi_errors.json")).unwrap();
    let server = common::start_example("errors", &["--no-access-log"]);
    let mut problems = Vec::new();
    for case in fixture["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let method = case["method"].as_str().unwrap();
        let path = case["path"].as_str().unwrap();
        let body = case["body"].as_str();
        let resp = common::request(server.addr, method, path, body);
        if u64::from(resp.status) != case["status"].as_u64().unwrap() {
            problems.push(format!(
                "{name}: status {} vs FastAPI {}",
                resp.status, case["status"]
            ));
        }
        // Bodies compared as JSON when they are JSON (same values), else as text.
        let expected = case["text"].as_str().unwrap();
        match (
            serde_json::from_str::<Value>(expected),
            serde_json::from_slice::<Value>(&resp.body),
        ) {
            (Ok(e), Ok(a)) => {
                let diff = common::json_differences(&e, &a);
                if !diff.is_empty() {
                    problems.push(format!("{name}: {}", diff.join("; ")));
                }
            }
            _ if resp.text() != expected => problems.push(format!(
                "{name}: body {:?} vs FastAPI {expected:?}",
                resp.text()
            )),
            _ => {}
        }
        for (k, v) in case["response_headers"].as_object().unwrap() {
            if k == "content-length" {
                if resp.body.len().to_string() != v.as_str().unwrap() {
                    problems.push(format!("{name}: {} bytes vs FastAPI {v}", resp.body.len()));
                }
                continue;
            }
            if resp.header(k) != v.as_str() {
                problems.push(format!("{name}: {k} {:?} vs FastAPI {v}", resp.header(k)));
            }
        }
    }
    assert!(problems.is_empty(), "differences:\n{}", problems.join("\n"));
}

#[test]
fn the_middleware_example_does_cors_gzip_request_ids_and_process_time() {
    let server = common::start_example("middleware", &[]);
    let (raw, _) = common::raw_exchange(
        server.addr,
        b"OPTIONS / HTTP/1.1\r\nHost: x\r\nOrigin: http://localhost:3000\r\nAccess-Control-Request-Method: GET\r\nConnection: close\r\n\r\n",
        Duration::from_secs(5),
    );
    let preflight = common::parse_response(&raw);
    assert_eq!(preflight.status, 200);
    assert_eq!(
        preflight.header("access-control-allow-origin"),
        Some("http://localhost:3000")
    );
    let started = Instant::now();
    let (raw, _) = common::raw_exchange(
        server.addr,
        b"GET /big HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\nX-Request-Id: req-42\r\nOrigin: http://localhost:3000\r\nConnection: close\r\n\r\n",
        Duration::from_secs(5),
    );
    let resp = common::parse_response(&raw);
    assert_eq!(resp.status, 200);
    assert_eq!(resp.header("content-encoding"), Some("gzip"));
    let json: Value = serde_json::from_str(&gunzip(&resp.body)).unwrap();
    assert_eq!(json["items"].as_array().unwrap().len(), 100);
    assert!(gunzip(&resp.body).len() >= 4096);
    assert_eq!(resp.header("x-request-id"), Some("req-42"));
    assert_eq!(
        resp.header("access-control-allow-origin"),
        Some("http://localhost:3000")
    );
    let took: f64 = resp.header("x-process-time").unwrap().parse().unwrap();
    assert!(took < started.elapsed().as_secs_f64());
    // Without the client's id, one is generated; a small answer is not compressed.
    let resp = common::request(server.addr, "GET", "/", None);
    assert!(resp.header("x-request-id").is_some_and(|id| id.len() == 36));
    assert_eq!(resp.header("content-encoding"), None);
    assert!(resp.header("x-process-time").is_some());
    // Every log line of the trace layer says which request it is about.
    assert!(server.log.lock().unwrap().contains("brisk::access"));
}
