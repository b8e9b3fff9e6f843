//! [`TestClient`]: send requests to an app in-process, without a socket,
//! through exactly the routing, extraction, execution and error path the
//! server uses (FastAPI's `TestClient`).

use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::App;
use crate::body::Body;
use crate::serve::ServerConfig;
use crate::service::AppService;

/// An in-process client for an [`App`].
///
/// It owns a runtime built like the server's (event-loop workers and the
/// app's bounded thread pool); requests run as tasks on it. It is `Sync`:
/// share it between threads to send concurrent requests.
///
/// ```
/// use brisk::prelude::*;
/// use brisk::TestClient;
///
/// #[get("/items/{item_id}")]
/// async fn read_item(item_id: u32, q: Option<String>) -> Json<Value> {
///     Json(json!({"item_id": item_id, "q": q}))
/// }
///
/// let client = TestClient::new(App::new().routes(routes![read_item]));
/// let resp = client.get("/items/5?q=x").send();
/// assert_eq!(resp.status(), 200);
/// assert_eq!(resp.json::<Value>(), json!({"item_id": 5, "q": "x"}));
///
/// let resp = client.get("/items/abc").send();
/// assert_eq!(resp.status(), 422);
/// assert_eq!(resp.json::<Value>()["detail"][0]["type"], "int_parsing");
/// ```
pub struct TestClient {
    app: Arc<AppService>,
    runtime: tokio::runtime::Runtime,
}

impl TestClient {
    /// A client for `app`, with default server settings.
    pub fn new(app: App) -> Self {
        Self::with_config(app, ServerConfig::for_tests())
    }

    /// A client for `app` with explicit settings (thread pool size, limits).
    pub fn with_config(app: App, config: ServerConfig) -> Self {
        let app = app.build_service(&config);
        let (runtime, _lane) =
            crate::serve::build_runtime(&app, config.event_loop_threads).expect("test runtime");
        let startup = app.take_hooks(true);
        runtime.block_on(crate::service::run_hooks(startup));
        TestClient { app, runtime }
    }

    /// Replaces dependency `D` by `O` for the following requests (FastAPI's
    /// `app.dependency_overrides[d] = o`).
    ///
    /// ```
    /// use brisk::prelude::*;
    ///
    /// #[dependency] fn real_db() -> String { "postgres".into() }
    /// #[dependency] fn fake_db() -> String { "in-memory".into() }
    ///
    /// #[get("/db")]
    /// async fn which(db: Depends<real_db>) -> String { db.clone() }
    ///
    /// let client = brisk::TestClient::new(App::new().routes(routes![which]));
    /// assert_eq!(client.get("/db").send().text(), "postgres");
    /// client.override_dependency::<real_db, fake_db>();
    /// assert_eq!(client.get("/db").send().text(), "in-memory");
    /// ```
    pub fn override_dependency<D, O>(&self)
    where
        D: crate::depends::Dependency,
        O: crate::depends::Dependency<Output = D::Output>,
    {
        self.app
            .context()
            .set_override(std::any::TypeId::of::<D>(), crate::depends::erased::<O>);
    }

    /// Starts a request with any method.
    pub fn request(&self, method: Method, uri: &str) -> TestRequest<'_> {
        TestRequest {
            client: self,
            method,
            uri: uri.to_owned(),
            headers: HeaderMap::new(),
            body: Bytes::new(),
        }
    }

    /// Starts a GET request.
    pub fn get(&self, uri: &str) -> TestRequest<'_> {
        self.request(Method::GET, uri)
    }

    /// Starts a POST request.
    pub fn post(&self, uri: &str) -> TestRequest<'_> {
        self.request(Method::POST, uri)
    }

    /// Starts a PUT request.
    pub fn put(&self, uri: &str) -> TestRequest<'_> {
        self.request(Method::PUT, uri)
    }

    /// Starts a PATCH request.
    pub fn patch(&self, uri: &str) -> TestRequest<'_> {
        self.request(Method::PATCH, uri)
    }

    /// Starts a DELETE request.
    pub fn delete(&self, uri: &str) -> TestRequest<'_> {
        self.request(Method::DELETE, uri)
    }

    /// Opens a WebSocket to `uri` (see [`TestWebSocketRequest::connect`]).
    pub fn websocket(&self, uri: &str) -> TestWebSocketRequest<'_> {
        TestWebSocketRequest {
            client: self,
            uri: uri.to_owned(),
            headers: HeaderMap::new(),
        }
    }

    /// The app's OpenAPI document (what `GET /openapi.json` serves).
    pub fn openapi(&self) -> serde_json::Value {
        self.app.openapi_value()
    }

    /// The watchdog's and thread pool's counters.
    pub fn metrics(&self) -> crate::exec::MetricsSnapshot {
        self.app.context().watchdog.snapshot()
    }

    /// The app's thread pool (to observe `in_use()` / `waiting()`).
    pub fn threadpool(&self) -> &crate::exec::ThreadPool {
        &self.app.context().pool
    }
}

impl Drop for TestClient {
    /// Runs the app's shutdown hooks, as a server does when it stops.
    fn drop(&mut self) {
        let hooks = self.app.take_hooks(false);
        if !hooks.is_empty() {
            self.runtime.block_on(crate::service::run_hooks(hooks));
        }
    }
}

/// A request being built by a [`TestClient`].
pub struct TestRequest<'a> {
    client: &'a TestClient,
    method: Method,
    uri: String,
    headers: HeaderMap,
    body: Bytes,
}

impl TestRequest<'_> {
    /// Adds a header (panics on an invalid name or value).
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.append(
            HeaderName::try_from(name).expect("header name"),
            HeaderValue::try_from(value).expect("header value"),
        );
        self
    }

    /// Sets a JSON body and `content-type: application/json`.
    pub fn json<T: Serialize + ?Sized>(self, value: &T) -> Self {
        let body = serde_json::to_vec(value).expect("serialisable JSON body");
        self.header("content-type", "application/json").body(body)
    }

    /// Sets the raw body.
    pub fn body(mut self, body: impl Into<Bytes>) -> Self {
        self.body = body.into();
        self
    }

    /// Sends the request and waits for the response.
    pub fn send(self) -> TestResponse {
        let runtime = &self.client.runtime;
        runtime.block_on(self.send_async())
    }

    /// Sends the request from async code running on any tokio runtime.
    pub async fn send_async(self) -> TestResponse {
        let mut req = http::Request::new(Body::from(self.body));
        *req.method_mut() = self.method;
        *req.uri_mut() = self.uri.parse().expect("request URI");
        *req.headers_mut() = self.headers;
        if !req.headers().contains_key(http::header::HOST) {
            // What Starlette's TestClient sends; HTTP/1.1 requires a Host.
            req.headers_mut()
                .insert(http::header::HOST, HeaderValue::from_static("testserver"));
        }
        let app = Arc::clone(&self.client.app);
        // Run on the client's runtime, like a connection task on the server;
        // the body is read there too (a streamed body may need the runtime).
        let task = self.client.runtime.spawn(async move {
            let resp = app.handle(req).await;
            let (parts, body) = resp.into_parts();
            let body = body.collect_bytes().await;
            (parts, body)
        });
        let (parts, body) = task
            .await
            .expect("the request task never panics: panics become 500s");
        TestResponse {
            status: parts.status,
            headers: parts.headers,
            body: body.unwrap_or_else(|e| panic!("the response body failed: {e}")),
        }
    }
}

/// A response received by a [`TestClient`].
#[derive(Debug, Clone)]
pub struct TestResponse {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

impl TestResponse {
    /// The status code.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The headers.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// One header as text (`None` if absent or not text).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The body bytes.
    pub fn bytes(&self) -> &Bytes {
        &self.body
    }

    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body parsed as JSON (panics with the body text if it is not).
    pub fn json<T: DeserializeOwned>(&self) -> T {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "response body is not the expected JSON ({e}): {}",
                self.text()
            )
        })
    }
}

/// A WebSocket handshake being built by [`TestClient::websocket`].
pub struct TestWebSocketRequest<'a> {
    client: &'a TestClient,
    uri: String,
    headers: HeaderMap,
}

impl<'a> TestWebSocketRequest<'a> {
    /// Adds a header to the handshake request.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.append(
            HeaderName::try_from(name).expect("header name"),
            HeaderValue::try_from(value).expect("header value"),
        );
        self
    }

    /// Offers a subprotocol (`Sec-WebSocket-Protocol`).
    pub fn subprotocol(self, protocol: &str) -> Self {
        self.header("sec-websocket-protocol", protocol)
    }

    /// Performs the handshake: the open connection, or the HTTP answer
    /// that refused it (403, 404, 500, ...).
    pub fn connect(self) -> Result<TestWebSocket<'a>, TestResponse> {
        use tokio_tungstenite::tungstenite::handshake::client::generate_key;
        let client = self.client;
        let (client_io, server_io) = tokio::io::duplex(64 * 1024);
        let mut req = http::Request::new(Body::empty());
        *req.uri_mut() = self.uri.parse().expect("request URI");
        *req.headers_mut() = self.headers;
        let h = req.headers_mut();
        h.entry(http::header::HOST)
            .or_insert(HeaderValue::from_static("testserver"));
        h.insert(http::header::UPGRADE, HeaderValue::from_static("websocket"));
        h.insert(
            http::header::CONNECTION,
            HeaderValue::from_static("upgrade"),
        );
        h.insert(
            http::header::SEC_WEBSOCKET_VERSION,
            HeaderValue::from_static("13"),
        );
        h.insert(
            http::header::SEC_WEBSOCKET_KEY,
            HeaderValue::try_from(generate_key()).expect("a base64 key"),
        );
        req.extensions_mut()
            .insert(crate::ws::TestUpgrade(Arc::new(std::sync::Mutex::new(
                Some(server_io),
            ))));
        let app = Arc::clone(&client.app);
        let (parts, body) = client.runtime.block_on(async move {
            let task = tokio::spawn(async move {
                let (parts, body) = app.handle(req).await.into_parts();
                (parts, body.collect_bytes().await)
            });
            task.await.expect("the handshake task never panics")
        });
        let body = body.unwrap_or_else(|e| panic!("the response body failed: {e}"));
        if parts.status != StatusCode::SWITCHING_PROTOCOLS {
            return Err(TestResponse {
                status: parts.status,
                headers: parts.headers,
                body,
            });
        }
        let stream = client
            .runtime
            .block_on(tokio_tungstenite::WebSocketStream::from_raw_socket(
                client_io,
                tokio_tungstenite::tungstenite::protocol::Role::Client,
                None,
            ));
        Ok(TestWebSocket {
            client,
            stream,
            headers: parts.headers,
        })
    }
}

/// A WebSocket connection opened by a [`TestClient`] (Starlette's
/// `WebSocketTestSession`). Its calls block until done.
///
/// ```
/// use brisk::prelude::*;
///
/// #[websocket("/ws")]
/// async fn hello(mut ws: WebSocket) -> Result<(), WebSocketError> {
///     ws.accept().await?;
///     ws.send_json(&json!({"hello": "world"})).await?;
///     ws.close(1000, "bye").await;
///     Ok(())
/// }
///
/// let client = brisk::TestClient::new(App::new().routes(routes![hello]));
/// let mut ws = client.websocket("/ws").connect().unwrap();
/// assert_eq!(ws.receive_json::<Value>().unwrap(), json!({"hello": "world"}));
/// let closed = ws.receive().unwrap_err();
/// assert_eq!((closed.code, closed.reason.as_str()), (1000, "bye"));
/// ```
pub struct TestWebSocket<'a> {
    client: &'a TestClient,
    stream: tokio_tungstenite::WebSocketStream<tokio::io::DuplexStream>,
    headers: HeaderMap,
}

impl std::fmt::Debug for TestWebSocket<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestWebSocket")
            .field("headers", &self.headers)
            .finish_non_exhaustive()
    }
}

impl TestWebSocket<'_> {
    /// The headers of the `101 Switching Protocols` answer.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// The subprotocol the server chose, if any.
    pub fn subprotocol(&self) -> Option<&str> {
        self.headers
            .get(http::header::SEC_WEBSOCKET_PROTOCOL)
            .and_then(|v| v.to_str().ok())
    }

    fn send(&mut self, message: tokio_tungstenite::tungstenite::Message) {
        use futures_util::SinkExt;
        let stream = &mut self.stream;
        // A failed send shows up as the close on the next receive.
        let _ = self.client.runtime.block_on(stream.send(message));
    }

    /// Sends a text message.
    pub fn send_text(&mut self, text: &str) {
        self.send(tokio_tungstenite::tungstenite::Message::text(text));
    }

    /// Sends a binary message.
    pub fn send_bytes(&mut self, bytes: impl Into<Bytes>) {
        self.send(tokio_tungstenite::tungstenite::Message::binary(
            bytes.into(),
        ));
    }

    /// Sends `value` as JSON in a text message.
    pub fn send_json<T: Serialize + ?Sized>(&mut self, value: &T) {
        let text = serde_json::to_string(value).expect("serialisable JSON");
        self.send_text(&text);
    }

    /// Closes the connection with `code` and `reason`.
    pub fn close(&mut self, code: u16, reason: &str) {
        use tokio_tungstenite::tungstenite::protocol::CloseFrame;
        let frame = CloseFrame {
            code: code.into(),
            reason: reason.to_owned().into(),
        };
        self.send(tokio_tungstenite::tungstenite::Message::Close(Some(frame)));
    }

    /// The next message, or how the connection ended (the server's close
    /// code and reason; 1006 if it went away without one). Panics after
    /// 30 s without either, so that a test never hangs.
    pub fn receive(&mut self) -> Result<crate::ws::Message, crate::ws::WebSocketDisconnect> {
        use crate::ws::{Message, WebSocketDisconnect};
        use futures_util::StreamExt;
        use tokio_tungstenite::tungstenite::Message as Frame;
        let stream = &mut self.stream;
        self.client.runtime.block_on(async {
            loop {
                let next = tokio::time::timeout(std::time::Duration::from_secs(30), stream.next())
                    .await
                    .expect("no WebSocket message or close within 30 s");
                return match next {
                    Some(Ok(Frame::Text(text))) => Ok(Message::Text(text.as_str().to_owned())),
                    Some(Ok(Frame::Binary(bytes))) => Ok(Message::Binary(bytes)),
                    Some(Ok(Frame::Close(Some(frame)))) => Err(WebSocketDisconnect::new(
                        u16::from(frame.code),
                        frame.reason.as_str(),
                    )),
                    Some(Ok(Frame::Close(None))) => Err(WebSocketDisconnect::new(1005, "")),
                    Some(Ok(_)) => continue,
                    Some(Err(_)) | None => Err(WebSocketDisconnect::new(1006, "")),
                };
            }
        })
    }

    /// The next message as text (panics on a binary one).
    pub fn receive_text(&mut self) -> Result<String, crate::ws::WebSocketDisconnect> {
        match self.receive()? {
            crate::ws::Message::Text(text) => Ok(text),
            other => panic!("expected a text message, got {other:?}"),
        }
    }

    /// The next message as bytes (panics on a text one).
    pub fn receive_bytes(&mut self) -> Result<Bytes, crate::ws::WebSocketDisconnect> {
        match self.receive()? {
            crate::ws::Message::Binary(bytes) => Ok(bytes),
            other => panic!("expected a binary message, got {other:?}"),
        }
    }

    /// The next message parsed as JSON (panics if it is not JSON of `T`).
    pub fn receive_json<T: DeserializeOwned>(
        &mut self,
    ) -> Result<T, crate::ws::WebSocketDisconnect> {
        let text = self.receive_text()?;
        Ok(serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("not the expected JSON ({e}): {text}")))
    }
}
