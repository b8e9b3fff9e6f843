//! Dependencies: where they run, caching, teardown order, errors, overrides,
//! background tasks, lifespan and state.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use brisk::depends::{Outcome, Teardown};
use brisk::prelude::*;
use brisk::serve::BackgroundServer;
use brisk::{ServerConfig, TestClient};

/// Thread names seen by each dependency / handler, and events in order.
static EVENTS: Mutex<Vec<String>> = Mutex::new(Vec::new());

fn event(e: impl Into<String>) {
    EVENTS.lock().unwrap().push(e.into());
}

fn take_events() -> Vec<String> {
    std::mem::take(&mut *EVENTS.lock().unwrap())
}

fn on_pool() -> bool {
    brisk::exec::threadpool::current().in_use() > 0
}

// --- where dependencies run -------------------------------------------------

#[dependency]
fn sync_dep() -> bool {
    on_pool()
}

#[dependency]
async fn async_dep() -> bool {
    on_pool()
}

#[get("/where")]
async fn where_deps(s: Depends<sync_dep>, a: Depends<async_dep>) -> Json<Value> {
    Json(json!({"sync_on_pool": *s, "async_on_pool": *a}))
}

#[test]
fn sync_dependencies_run_on_the_pool_and_async_ones_on_the_event_loop() {
    let client = TestClient::new(App::new().routes(routes![where_deps]));
    let body: Value = client.get("/where").send().json();
    assert_eq!(body, json!({"sync_on_pool": true, "async_on_pool": false}));
}

// --- caching and sub-dependencies ------------------------------------------

static CALLS: AtomicUsize = AtomicUsize::new(0);
static UNCACHED_CALLS: AtomicUsize = AtomicUsize::new(0);

#[dependency]
async fn counted() -> usize {
    CALLS.fetch_add(1, Ordering::SeqCst) + 1
}

#[dependency(cache = false)]
async fn counted_uncached() -> usize {
    UNCACHED_CALLS.fetch_add(1, Ordering::SeqCst) + 1
}

#[dependency]
async fn level1(c: Depends<counted>) -> usize {
    *c * 10
}

#[dependency]
fn level2(l1: Depends<level1>, c: Depends<counted>, q: Option<String>) -> String {
    format!("{}-{}-{}", *l1, *c, q.unwrap_or_default())
}

#[get("/cache")]
async fn cache(
    a: Depends<counted>,
    b: Depends<level2>,
    u1: Depends<counted_uncached>,
    u2: Depends<counted_uncached>,
) -> Json<Value> {
    Json(json!({"a": *a, "b": b.clone(), "uncached": [*u1, *u2]}))
}

#[test]
fn a_dependency_runs_once_per_request_unless_uncached() {
    let client = TestClient::new(App::new().routes(routes![cache]));
    CALLS.store(0, Ordering::SeqCst);
    UNCACHED_CALLS.store(0, Ordering::SeqCst);
    let body: Value = client.get("/cache?q=x").send().json();
    // `counted` is asked for three times (handler, level1, level2): runs once.
    assert_eq!(body["a"], 1);
    assert_eq!(
        body["b"], "10-1-x",
        "sub-dependencies see the same cached value and their own query params"
    );
    assert_eq!(CALLS.load(Ordering::SeqCst), 1);
    assert_eq!(body["uncached"], json!([1, 2]));
    // A new request gets a new value.
    let body: Value = client.get("/cache").send().json();
    assert_eq!(body["a"], 2);
}

// --- parameters and errors ---------------------------------------------------

#[derive(Clone, Debug)]
struct User {
    name: String,
}

#[dependency]
async fn current_user(authorization: Header<Option<String>>) -> Result<User, HttpError> {
    match authorization
        .0
        .as_deref()
        .and_then(|a| a.strip_prefix("Bearer "))
    {
        Some(token) => Ok(User {
            name: token.to_owned(),
        }),
        None => {
            Err(HttpError::unauthorized("Not authenticated")
                .with_header("www-authenticate", "Bearer"))
        }
    }
}

#[dependency]
fn pagination(
    #[param(default = 0, ge = 0)] skip: u32,
    #[param(default = 10, le = 100)] limit: u32,
) -> (u32, u32) {
    (skip, limit)
}

#[get("/me/items")]
async fn my_items(user: Depends<current_user>, page: Depends<pagination>) -> Json<Value> {
    let (skip, limit) = *page;
    Json(json!({"user": user.name, "skip": skip, "limit": limit}))
}

#[test]
fn a_failing_dependency_short_circuits_with_its_response() {
    let client = TestClient::new(App::new().routes(routes![my_items]));
    let resp = client.get("/me/items").send();
    assert_eq!(resp.status(), 401);
    assert_eq!(resp.header("www-authenticate"), Some("Bearer"));
    assert_eq!(resp.json::<Value>(), json!({"detail": "Not authenticated"}));
    let resp = client
        .get("/me/items?limit=5")
        .header("authorization", "Bearer ada")
        .send();
    assert_eq!(
        resp.json::<Value>(),
        json!({"user": "ada", "skip": 0, "limit": 5})
    );
}

#[test]
fn dependency_parameters_are_validated_like_the_handlers() {
    let client = TestClient::new(App::new().routes(routes![my_items]));
    let resp = client
        .get("/me/items?skip=-1&limit=500")
        .header("authorization", "Bearer ada")
        .send();
    assert_eq!(resp.status(), 422);
    let body: Value = resp.json();
    let types: Vec<&str> = body["detail"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    // `skip: usize` cannot be negative: reported as the bound it is.
    assert_eq!(types, ["greater_than_equal", "less_than_equal"], "{body}");
    assert_eq!(body["detail"][0]["loc"], json!(["query", "skip"]));
}

// --- teardown ----------------------------------------------------------------

#[dependency]
async fn outer_resource() -> Teardown<&'static str> {
    event("outer setup");
    Teardown::new("outer", |outcome: Outcome| async move {
        event(format!("outer teardown {outcome:?}"));
    })
}

#[dependency]
fn inner_resource(_outer: Depends<outer_resource>) -> Teardown<&'static str> {
    event("inner setup");
    Teardown::blocking("inner", |outcome| {
        event(format!("inner teardown {outcome:?}"))
    })
}

#[dependency(scope = "function")]
async fn function_scoped() -> Teardown<()> {
    event("function setup");
    Teardown::new((), |_| async { event("function teardown") })
}

#[get("/teardown")]
async fn teardown_ok(_i: Depends<inner_resource>, _f: Depends<function_scoped>) -> Json<Value> {
    event("handler");
    Json(json!({"ok": true}))
}

#[get("/teardown-error")]
async fn teardown_error(_i: Depends<inner_resource>) -> Result<Json<Value>, HttpError> {
    event("handler");
    Err(HttpError::bad_request("nope"))
}

#[get("/teardown-panic")]
async fn teardown_panic(_i: Depends<inner_resource>, _f: Depends<function_scoped>) -> Json<Value> {
    event("handler");
    panic!("handler exploded")
}

/// Waits until `n` events were recorded (teardown runs after the response).
fn wait_events(n: usize) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(5);
    while EVENTS.lock().unwrap().len() < n && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(5));
    }
    take_events()
}

/// The teardown tests share EVENTS, so they run in one test, in sequence.
#[test]
fn teardown_runs_in_reverse_order_after_the_response_and_sees_errors_and_panics() {
    let client =
        TestClient::new(App::new().routes(routes![teardown_ok, teardown_error, teardown_panic]));
    take_events();

    let resp = client.get("/teardown").send();
    assert_eq!(resp.status(), 200);
    let events = wait_events(7);
    assert_eq!(
        events,
        [
            "outer setup",
            "inner setup",
            "function setup",
            "handler",
            "function teardown", // scope = "function": before the response
            "inner teardown Response(200)",
            "outer teardown Response(200)",
        ]
    );

    let resp = client.get("/teardown-error").send();
    assert_eq!(resp.status(), 400);
    let events = wait_events(5);
    assert_eq!(
        events[3..],
        [
            "inner teardown Response(400)",
            "outer teardown Response(400)"
        ]
    );

    let resp = client.get("/teardown-panic").send();
    assert_eq!(resp.status(), 500);
    let events = wait_events(7);
    assert_eq!(events[4], "function teardown");
    assert!(
        events[5].starts_with("inner teardown Panicked(\"handler exploded\")"),
        "{events:?}"
    );
    assert!(
        events[6].starts_with("outer teardown Panicked"),
        "{events:?}"
    );
}

static OPEN: AtomicUsize = AtomicUsize::new(0);

#[dependency]
async fn session() -> Teardown<u32> {
    OPEN.fetch_add(1, Ordering::SeqCst);
    Teardown::new(7, |_| async {
        OPEN.fetch_sub(1, Ordering::SeqCst);
    })
}

#[get("/session")]
async fn use_session(s: Depends<session>) -> Json<Value> {
    tokio::time::sleep(Duration::from_millis(20)).await;
    Json(json!({"session": *s}))
}

#[test]
fn teardown_runs_after_the_response_is_sent_and_leaves_nothing_open() {
    let server = BackgroundServer::start(
        App::new().routes(routes![use_session]),
        ServerConfig::for_tests(),
    );
    let addr = server.addr();
    let handles: Vec<_> = (0..100)
        .map(|_| thread::spawn(move || common::request(addr, "GET", "/session", None).status))
        .collect();
    for h in handles {
        assert_eq!(h.join().unwrap(), 200);
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    while OPEN.load(Ordering::SeqCst) != 0 && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(OPEN.load(Ordering::SeqCst), 0, "every session was closed");
}

// --- no deadlock with a tiny pool ------------------------------------------------

#[dependency]
fn s1() -> u32 {
    1
}
#[dependency]
fn s2(a: Depends<s1>) -> u32 {
    *a + 1
}
#[dependency]
fn s3(a: Depends<s2>) -> u32 {
    *a + 1
}
#[dependency]
fn s4() -> Teardown<u32> {
    Teardown::blocking(4, |_| thread::sleep(Duration::from_millis(10)))
}
#[dependency]
fn s5() -> Teardown<u32> {
    Teardown::blocking(5, |_| ())
}

#[get("/five")]
fn five(
    a: Depends<s1>,
    b: Depends<s2>,
    c: Depends<s3>,
    d: Depends<s4>,
    e: Depends<s5>,
) -> Json<Value> {
    Json(json!([*a, *b, *c, *d, *e]))
}

#[test]
fn five_sync_dependencies_on_a_pool_of_one_do_not_deadlock() {
    let mut config = ServerConfig::for_tests();
    config.threadpool_size = Some(1);
    let client = Arc::new(TestClient::with_config(
        App::new().routes(routes![five]),
        config,
    ));
    let handles: Vec<_> = (0..10)
        .map(|_| {
            let c = Arc::clone(&client);
            thread::spawn(move || c.get("/five").send().json::<Value>())
        })
        .collect();
    for h in handles {
        assert_eq!(h.join().unwrap(), json!([1, 2, 3, 4, 5]));
    }
}

// --- overrides ---------------------------------------------------------------

#[dependency]
async fn fake_user() -> User {
    User {
        name: "test-user".into(),
    }
}

#[test]
fn a_test_can_override_a_dependency() {
    let client = TestClient::new(App::new().routes(routes![my_items]));
    assert_eq!(client.get("/me/items").send().status(), 401);
    client.override_dependency::<current_user, fake_user>();
    let body: Value = client.get("/me/items").send().json();
    assert_eq!(body["user"], "test-user");
}

// --- route-, router- and app-level dependencies -----------------------------------

static AUDITS: AtomicUsize = AtomicUsize::new(0);

#[dependency]
fn verify_token(x_token: Header<String>) -> Result<(), HttpError> {
    if x_token.0 == "fake-super-secret-token" {
        Ok(())
    } else {
        Err(HttpError::bad_request("X-Token header invalid"))
    }
}

#[dependency]
async fn audit() {
    AUDITS.fetch_add(1, Ordering::SeqCst);
}

#[get("/{item_id}", dependencies = [audit])]
async fn read_item(item_id: String) -> Json<Value> {
    Json(json!({"item_id": item_id}))
}

#[get("/public")]
async fn public() -> &'static str {
    "public"
}

#[test]
fn router_and_app_dependencies_run_for_their_side_effects() {
    let items = ApiRouter::new()
        .prefix("/items")
        .tags(&["items"])
        .dependencies(deps![verify_token])
        .routes(routes![read_item]);
    let client = TestClient::new(
        App::new()
            .include(items)
            .routes(routes![public])
            .dependencies(deps![audit]),
    );
    AUDITS.store(0, Ordering::SeqCst);

    let resp = client.get("/items/foo").send();
    assert_eq!(
        resp.status(),
        422,
        "missing X-Token header: {}",
        resp.text()
    );
    assert_eq!(
        resp.json::<Value>()["detail"][0]["loc"],
        json!(["header", "x-token"])
    );
    let resp = client.get("/items/foo").header("x-token", "wrong").send();
    assert_eq!(resp.status(), 400);
    let resp = client
        .get("/items/foo")
        .header("x-token", "fake-super-secret-token")
        .send();
    assert_eq!(resp.json::<Value>(), json!({"item_id": "foo"}));
    // `audit` is both app-level and route-level: cached, so once per request.
    // App-level dependencies run first (as in FastAPI), so it ran for all three
    // requests, including the two that `verify_token` then rejected.
    assert_eq!(AUDITS.load(Ordering::SeqCst), 3);
    assert_eq!(client.get("/public").send().text(), "public");
    assert_eq!(AUDITS.load(Ordering::SeqCst), 4);
}

// --- cycles --------------------------------------------------------------------

#[dependency]
async fn chicken(_e: Depends<egg>) -> u8 {
    1
}
#[dependency]
async fn egg(_c: Depends<chicken>) -> u8 {
    2
}
#[get("/cycle")]
async fn cycle(_c: Depends<chicken>) -> &'static str {
    "never"
}

#[test]
#[should_panic(expected = "dependency cycle in `cycle`: chicken -> egg -> chicken")]
fn a_dependency_cycle_is_a_startup_error() {
    let _ = TestClient::new(App::new().routes(routes![cycle]));
}

// --- background tasks ----------------------------------------------------------

static LOG: Mutex<Vec<String>> = Mutex::new(Vec::new());

#[post("/notify/{email}")]
async fn notify(email: String, tasks: BackgroundTasks) -> Json<Value> {
    let e = email.clone();
    tasks.add_blocking(move || {
        thread::sleep(Duration::from_millis(50));
        LOG.lock().unwrap().push(format!("sync {e}"));
    });
    tasks.add(async { panic!("this task fails") });
    tasks.add(async move { LOG.lock().unwrap().push(format!("async {email}")) });
    Json(json!({"message": "Notification sent in the background"}))
}

#[test]
fn background_tasks_run_after_the_response_and_survive_a_failing_one() {
    let client = TestClient::new(App::new().routes(routes![notify]));
    LOG.lock().unwrap().clear();
    let started = Instant::now();
    let resp = client.post("/notify/a@b.c").send();
    assert_eq!(resp.status(), 200);
    assert!(
        started.elapsed() < Duration::from_millis(45),
        "the response did not wait for the tasks"
    );
    assert!(LOG.lock().unwrap().is_empty());
    let deadline = Instant::now() + Duration::from_secs(5);
    while LOG.lock().unwrap().len() < 2 && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(*LOG.lock().unwrap(), ["sync a@b.c", "async a@b.c"]);
}

// --- lifespan and state -------------------------------------------------------------

struct Settings {
    greeting: &'static str,
}

#[dependency]
async fn greeting(settings: State<Settings>) -> String {
    settings.greeting.to_owned()
}

#[get("/greet")]
async fn greet(g: Depends<greeting>, settings: State<Settings>) -> String {
    format!("{} / {}", *g, settings.greeting)
}

#[test]
fn lifespan_hooks_run_once_each_and_state_reaches_handlers_and_dependencies() {
    let started = Arc::new(AtomicUsize::new(0));
    let stopped = Arc::new(AtomicUsize::new(0));
    let (s1, s2, t1, t2) = (
        started.clone(),
        started.clone(),
        stopped.clone(),
        stopped.clone(),
    );
    let app = App::new()
        .state(Settings { greeting: "hello" })
        .on_startup(move || async move {
            s1.fetch_add(1, Ordering::SeqCst);
        })
        .on_startup_blocking(move || {
            s2.fetch_add(10, Ordering::SeqCst);
        })
        .on_shutdown(move || async move {
            t1.fetch_add(1, Ordering::SeqCst);
        })
        .on_shutdown_blocking(move || {
            t2.fetch_add(10, Ordering::SeqCst);
        })
        .routes(routes![greet]);
    let server = BackgroundServer::start(app, ServerConfig::for_tests());
    let deadline = Instant::now() + Duration::from_secs(5);
    while started.load(Ordering::SeqCst) < 11 && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(started.load(Ordering::SeqCst), 11);
    assert_eq!(stopped.load(Ordering::SeqCst), 0);
    assert_eq!(
        common::request(server.addr(), "GET", "/greet", None).text(),
        "hello / hello"
    );
    server.stop();
    assert_eq!(started.load(Ordering::SeqCst), 11);
    assert_eq!(stopped.load(Ordering::SeqCst), 11);
}
