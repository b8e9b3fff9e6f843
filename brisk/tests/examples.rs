//! The seeds' example programs, run as real processes on 127.0.0.1.

mod common;

use std::thread;
use std::time::{Duration, Instant};

use common::{request, start_example};

/// Ten concurrent POST /delay (3 s each) against `example`; returns the wall
/// time and checks every answer carries the seed's fields.
fn ten_concurrent_delays(example: &str) -> Duration {
    let server = start_example(example, &["--no-access-log"]);
    let addr = server.addr;
    let started = Instant::now();
    let handles: Vec<_> = (0..10)
        .map(|_| thread::spawn(move || request(addr, "POST", "/delay", None)))
        .collect();
    for h in handles {
        let resp = h.join().unwrap();
        assert_eq!(resp.status, 200, "{}", resp.text());
        let body = resp.json();
        assert_eq!(body["message"], "Response after 3 seconds delay");
        assert!(
            body["start_time"].is_string() && body["end_time"].is_string(),
            "{body}"
        );
    }
    let elapsed = started.elapsed();
    let log = server.log.lock().unwrap().clone();
    assert!(
        log.contains("Starting delay at"),
        "the example logs its start times:\n{log}"
    );
    elapsed
}

#[test]
fn main_sync_serves_ten_delays_in_about_one_delay() {
    let t = ten_concurrent_delays("main_sync");
    assert!(
        t >= Duration::from_secs(3) && t < Duration::from_millis(4500),
        "{t:?}"
    );
}

#[test]
fn main_threadpool_serves_ten_delays_in_about_one_delay() {
    let t = ten_concurrent_delays("main_threadpool");
    assert!(
        t >= Duration::from_secs(3) && t < Duration::from_millis(4500),
        "{t:?}"
    );
}

#[test]
fn def_vs_async_serves_ten_delays_in_about_one_delay() {
    let t = ten_concurrent_delays("def_vs_async");
    assert!(
        t >= Duration::from_secs(3) && t < Duration::from_millis(4500),
        "{t:?}"
    );
}

#[test]
fn change_me_sends_a_fresh_correlation_id_and_server_header() {
    let server = start_example("change_me", &[]);
    let a = request(server.addr, "GET", "/", None);
    let b = request(server.addr, "GET", "/", None);
    assert_eq!(a.status, 200);
    assert_eq!(a.json(), serde_json::json!({"msg": "change me"}));
    assert_eq!(
        a.header("x-azure-management-service-server"),
        Some("azure-management-service-prototype")
    );
    let id_a = a
        .header("x-azure-management-service-correlation-id")
        .expect("correlation id");
    let id_b = b
        .header("x-azure-management-service-correlation-id")
        .expect("correlation id");
    assert_eq!(id_a.len(), 36, "a UUID: {id_a}");
    assert_ne!(id_a, id_b, "a fresh id per request");
}

#[test]
fn hello_says_hello_and_logs_each_request() {
    let server = start_example("hello", &[]);
    let resp = request(server.addr, "GET", "/", None);
    assert_eq!(resp.json(), serde_json::json!({"message": "Hello World"}));
    thread::sleep(Duration::from_millis(100));
    let log = server.log.lock().unwrap().clone();
    assert!(
        log.contains("brisk::access") && log.contains("status=200"),
        "access log line missing:\n{log}"
    );
}

#[test]
fn port_and_host_come_from_brisk_variables_too() {
    // A free port, then BRISK_HOST / BRISK_PORT with no flags at all.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = std::process::Command::new(common::example_path("hello"))
        .env("BRISK_HOST", "127.0.0.1")
        .env("BRISK_PORT", port.to_string())
        .env("BRISK_NO_ACCESS_LOG", "true")
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let answered = loop {
        if std::net::TcpStream::connect(addr).is_ok() {
            break Some(request(addr, "GET", "/", None));
        }
        if Instant::now() > deadline {
            break None;
        }
        thread::sleep(Duration::from_millis(50));
    };
    let _ = child.kill();
    let _ = child.wait();
    let resp = answered.expect("hello did not listen on BRISK_HOST:BRISK_PORT");
    assert_eq!(resp.json()["message"], "Hello World");
}

#[test]
fn main_simple_pitfall_is_contained_and_the_log_says_what_to_change() {
    // Three fresh servers: containment has to work on the first burst every
    // time (a connection handed over before its bytes arrived once made one
    // run in three take 6 s).
    for round in 0..3 {
        let server = start_example("main_simple", &["--no-access-log"]);
        let addr = server.addr;
        let started = Instant::now();
        let handles: Vec<_> = (0..10)
            .map(|_| thread::spawn(move || request(addr, "POST", "/delay", None)))
            .collect();
        thread::sleep(Duration::from_millis(100));
        let t = Instant::now();
        let root = request(addr, "GET", "/", None);
        let root_latency = t.elapsed();
        for h in handles {
            assert_eq!(h.join().unwrap().status, 200);
        }
        let total = started.elapsed();
        assert_eq!(root.json()["message"], "Hello World");
        assert!(
            root_latency < Duration::from_millis(50),
            "round {round}: GET / took {root_latency:?}"
        );
        assert!(
            total <= Duration::from_millis(3500),
            "round {round}: 10 × 3 s blocking took {total:?}"
        );
        let log = server.log.lock().unwrap().clone();
        assert!(log.contains("POST /delay blocked the event loop"), "{log}");
        assert!(
            log.contains("run_in_threadpool"),
            "the warning gives advice:\n{log}"
        );
    }
}

#[test]
fn dependencies_example_authenticates_paginates_and_closes_every_session() {
    let server = start_example("dependencies", &["--no-access-log"]);
    let unauth = request(server.addr, "GET", "/users/me/items", None);
    assert_eq!(unauth.status, 401);
    assert_eq!(unauth.header("www-authenticate"), Some("Bearer"));
    let mut stream = std::net::TcpStream::connect(server.addr).unwrap();
    use std::io::Write;
    stream
        .write_all(b"GET /users/me/items?limit=1 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer alice\r\nConnection: close\r\n\r\n")
        .unwrap();
    let resp = common::read_response(&mut std::io::BufReader::new(stream));
    assert_eq!(resp.status, 200);
    let body = resp.json();
    assert_eq!(body["items"].as_array().unwrap().len(), 1);
    assert_eq!(body["items"][0]["owner"], "alice");
    // The handler, `my_items` and the teardown all shared one cached session.
    assert_eq!(body["items"][0]["session"], body["session"]);
    let bad = request(server.addr, "GET", "/users/me/items?limit=0", None);
    assert_eq!(
        bad.status, 401,
        "dependencies run in order: the user check fails first"
    );
    thread::sleep(Duration::from_millis(200));
    let stats = request(server.addr, "GET", "/stats", None).json();
    assert_eq!(
        stats["opened"], stats["closed"],
        "every session was closed: {stats}"
    );
    assert!(stats["opened"].as_u64().unwrap() >= 1);
}

#[test]
fn background_example_runs_the_job_after_the_response() {
    let server = start_example("background", &["--no-access-log"]);
    let started = Instant::now();
    let resp = request(
        server.addr,
        "POST",
        "/send-notification/ada@example.com",
        None,
    );
    assert_eq!(resp.status, 200);
    assert!(
        started.elapsed() < Duration::from_millis(150),
        "the response did not wait for the job"
    );
    assert_eq!(
        request(server.addr, "GET", "/log", None).json(),
        serde_json::json!([])
    );
    thread::sleep(Duration::from_millis(500));
    assert_eq!(
        request(server.addr, "GET", "/log", None).json(),
        serde_json::json!(["notification sent to ada@example.com"])
    );
}

/// Sends `head` (request line and headers, without the blank line) and
/// `body` on a fresh connection.
fn raw(addr: std::net::SocketAddr, head: &str, body: &str) -> common::RawResponse {
    use std::io::Write;
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    write!(
        stream,
        "{head}\r\nHost: x\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    common::read_response(&mut std::io::BufReader::new(stream))
}

#[test]
fn security_oauth2_logs_in_with_a_jwt_and_guards_the_user_routes() {
    let server = start_example("security_oauth2", &["--no-access-log"]);
    let form = "POST /token HTTP/1.1\r\nContent-Type: application/x-www-form-urlencoded";
    let wrong = raw(server.addr, form, "username=johndoe&password=nope");
    assert_eq!(wrong.status, 401);
    assert_eq!(wrong.json()["detail"], "Incorrect username or password");
    assert_eq!(wrong.header("www-authenticate"), Some("Bearer"));
    let missing = raw(server.addr, form, "username=johndoe");
    assert_eq!(missing.status, 422);
    assert_eq!(
        missing.json()["detail"][0]["loc"],
        serde_json::json!(["body", "password"])
    );

    let login = raw(server.addr, form, "username=johndoe&password=secret");
    assert_eq!(login.status, 200, "{}", login.text());
    let token = login.json()["access_token"].as_str().unwrap().to_owned();
    assert_eq!(token.split('.').count(), 3, "a JWT: {token}");
    let me = raw(
        server.addr,
        &format!("GET /users/me/ HTTP/1.1\r\nAuthorization: Bearer {token}"),
        "",
    );
    assert_eq!(me.status, 200);
    assert_eq!(me.json()["username"], "johndoe");
    assert!(me.json().get("hashed_password").is_none());
    let items = raw(
        server.addr,
        &format!("GET /users/me/items/ HTTP/1.1\r\nAuthorization: Bearer {token}"),
        "",
    );
    assert_eq!(items.json()[0]["owner"], "johndoe");

    let forged = raw(
        server.addr,
        &format!("GET /users/me/ HTTP/1.1\r\nAuthorization: Bearer {token}x"),
        "",
    );
    assert_eq!(forged.status, 401);
    assert_eq!(forged.json()["detail"], "Could not validate credentials");
    let anonymous = request(server.addr, "GET", "/users/me/", None);
    assert_eq!(anonymous.status, 401);
    assert_eq!(anonymous.json()["detail"], "Not authenticated");

    // A disabled user gets a token but not the routes.
    let alice = raw(server.addr, form, "username=alice&password=secret2");
    let alice_token = alice.json()["access_token"].as_str().unwrap().to_owned();
    let inactive = raw(
        server.addr,
        &format!("GET /users/me/ HTTP/1.1\r\nAuthorization: Bearer {alice_token}"),
        "",
    );
    assert_eq!(inactive.status, 400);

    // Swagger UI's Authorize dialog finds the password flow.
    let doc = request(server.addr, "GET", "/openapi.json", None).json();
    assert_eq!(
        doc["components"]["securitySchemes"]["OAuth2PasswordBearer"]["flows"]["password"]["tokenUrl"],
        "token"
    );
    assert_eq!(
        doc["paths"]["/token"]["post"]["requestBody"]["content"]["application/x-www-form-urlencoded"]
            ["schema"]["$ref"],
        "#/components/schemas/Body_login_for_access_token_token_post"
    );
}

#[test]
fn forms_and_files_takes_a_form_with_an_upload_and_checksums_on_the_pool() {
    let server = start_example("forms_and_files", &["--no-access-log"]);
    let page = request(server.addr, "GET", "/", None);
    assert!(page.text().contains("enctype=\"multipart/form-data\""));
    let login = raw(
        server.addr,
        "POST /login HTTP/1.1\r\nContent-Type: application/x-www-form-urlencoded",
        "username=ann&password=secret&remember=on",
    );
    assert_eq!(
        login.json(),
        serde_json::json!({"username": "ann", "remember": true})
    );
    let body = "--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.txt\"\r\n\r\nhello\r\n--b--\r\n";
    let sum = raw(
        server.addr,
        "POST /checksum HTTP/1.1\r\nContent-Type: multipart/form-data; boundary=b",
        body,
    );
    assert_eq!(sum.status, 200, "{}", sum.text());
    // FNV-1a 64 of "hello".
    assert_eq!(sum.json()["fnv1a64"], "a430d84680aabd0b");
    assert_eq!(sum.json()["size"], 5);
    let no_file = raw(
        server.addr,
        "POST /checksum HTTP/1.1\r\nContent-Type: multipart/form-data; boundary=b",
        "--b--\r\n",
    );
    assert_eq!(no_file.status, 422);
    assert_eq!(
        no_file.json()["detail"][0]["loc"],
        serde_json::json!(["body", "file"])
    );
}

/// Headless Chromium logs in through Swagger UI's "Authorize" dialog on
/// the security_oauth2 example and calls a protected route with "Try it
/// out" (`browser/authorize_test.mjs`). `.ci/run` installs what it needs
/// and sets BRISK_REQUIRE_BROWSER=1; elsewhere the test says it skipped.
#[test]
fn swagger_uis_authorize_dialog_logs_in_to_security_oauth2() {
    let server = start_example("security_oauth2", &["--no-access-log"]);
    common::run_browser_script("authorize_test.mjs", server.addr);
}
