//! Chat rooms over WebSockets, with the page that uses them.
//!
//! ```text
//! cargo run --release --example websocket_chat -- --port 8000
//! open http://127.0.0.1:8000/            # join a room from two tabs
//! python3 -m websockets 'ws://127.0.0.1:8000/ws/lobby?name=ann'
//! python3 -m websockets ws://127.0.0.1:8000/echo
//! ```
//!
//! * `/ws/{room}?name=...`: every text message is broadcast as JSON
//!   (`{"type": "message", "name", "text"}`) to everyone in the room, with
//!   `join` / `leave` notices. A missing or too long `name` closes the
//!   connection with 1008 and the validation errors as the reason.
//! * `/echo`: answers each message with itself (text or binary);
//!   `close <code>` makes the server close with that code.
//! * `/sum`: expects `{"a": int, "b": int}` and answers `{"sum": a + b}`;
//!   anything else gets pydantic's errors back, and the connection stays.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use brisk::prelude::*;
use brisk::response::Html;
use brisk::ws::WebSocketSender;

/// Who is in which room.
#[derive(Default)]
struct Rooms {
    members: Mutex<HashMap<String, Vec<(u64, WebSocketSender)>>>,
    next_id: AtomicU64,
}

impl Rooms {
    /// Adds a member; its id and how many are in the room now.
    fn join(&self, room: &str, sender: WebSocketSender) -> (u64, usize) {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let mut members = self.members.lock().expect("rooms");
        let list = members.entry(room.to_owned()).or_default();
        list.push((id, sender));
        (id, list.len())
    }

    /// Removes a member; how many remain.
    fn leave(&self, room: &str, id: u64) -> usize {
        let mut members = self.members.lock().expect("rooms");
        let Some(list) = members.get_mut(room) else {
            return 0;
        };
        list.retain(|(member, _)| *member != id);
        let left = list.len();
        if left == 0 {
            members.remove(room);
        }
        left
    }

    /// Sends `message` to everyone in `room`, concurrently (a slow member
    /// delays no one; one gone away is skipped).
    async fn broadcast(&self, room: &str, message: &Value) {
        let senders: Vec<WebSocketSender> = {
            let members = self.members.lock().expect("rooms");
            let list = members.get(room).map(Vec::as_slice).unwrap_or_default();
            list.iter().map(|(_, sender)| sender.clone()).collect()
        };
        let text = message.to_string();
        futures_util::future::join_all(senders.iter().map(|s| s.send_text(text.clone()))).await;
    }
}

/// The chat page.
#[get("/")]
async fn page() -> Html<&'static str> {
    Html(include_str!("static_chat/chat.html"))
}

/// One member of a chat room.
#[websocket("/ws/{room}")]
async fn chat(
    mut ws: WebSocket,
    #[param(max_length = 32)] room: String,
    #[param(min_length = 1, max_length = 32)] name: String,
    rooms: State<Rooms>,
) -> Result<(), WebSocketError> {
    ws.accept().await?;
    let (sender, mut receiver) = ws.split()?;
    let (id, members) = rooms.join(&room, sender);
    rooms
        .broadcast(
            &room,
            &json!({"type": "join", "name": name, "members": members}),
        )
        .await;
    // Until the client leaves (or the server shuts down: 1001).
    while let Ok(message) = receiver.receive().await {
        if let Message::Text(text) = message {
            rooms
                .broadcast(
                    &room,
                    &json!({"type": "message", "name": name, "text": text}),
                )
                .await;
        }
    }
    let members = rooms.leave(&room, id);
    rooms
        .broadcast(
            &room,
            &json!({"type": "leave", "name": name, "members": members}),
        )
        .await;
    Ok(())
}

/// Echoes every message; `close <code>` closes with that code.
#[websocket("/echo")]
async fn echo(mut ws: WebSocket) -> Result<(), WebSocketError> {
    ws.accept().await?;
    loop {
        match ws.receive().await? {
            Message::Text(text) => {
                if let Some(code) = text.strip_prefix("close ").and_then(|c| c.parse().ok()) {
                    ws.close(code, "asked to close").await;
                    return Ok(());
                }
                ws.send_text(text).await?;
            }
            Message::Binary(bytes) => ws.send_bytes(bytes).await?,
        }
    }
}

/// Two numbers to add.
#[derive(Deserialize, JsonSchema)]
struct Operands {
    a: i64,
    b: i64,
}

/// Adds the numbers of each JSON message; invalid ones get their errors.
#[websocket("/sum")]
async fn sum(mut ws: WebSocket) -> Result<(), WebSocketError> {
    ws.accept().await?;
    loop {
        match ws.receive_json::<Operands>().await {
            Ok(Operands { a, b }) => ws.send_json(&json!({"sum": a.saturating_add(b)})).await?,
            Err(WebSocketError::Invalid(errors)) => ws.send_json(&errors).await?,
            Err(other) => return Err(other),
        }
    }
}

fn main() {
    App::new()
        .title("WebSocket chat")
        .state(Rooms::default())
        .routes(routes![page, chat, echo, sum])
        .run();
}
