//! Background tasks: the response goes out at once; the job runs after it,
//! and a later request can observe its effect.
//!
//! ```text
//! cargo run --release --example background -- --port 8007
//! curl -X POST http://127.0.0.1:8007/send-notification/ada@example.com
//! sleep 1; curl http://127.0.0.1:8007/log
//! ```

use std::sync::Mutex;
use std::time::Duration;

use brisk::prelude::*;

/// What the background jobs wrote.
#[derive(Default)]
struct Log {
    entries: Mutex<Vec<String>>,
}

/// Answers immediately; the notification is "sent" afterwards.
#[post("/send-notification/{email}")]
async fn send_notification(email: String, tasks: BackgroundTasks, log: State<Log>) -> Json<Value> {
    let log = log.clone();
    tasks.add_blocking(move || {
        // A blocking job (e.g. SMTP): runs on the thread pool after the response.
        std::thread::sleep(Duration::from_millis(200));
        log.entries
            .lock()
            .unwrap()
            .push(format!("notification sent to {email}"));
    });
    Json(json!({"message": "Notification sent in the background"}))
}

/// What the background jobs did so far.
#[get("/log")]
async fn read_log(log: State<Log>) -> Json<Vec<String>> {
    Json(log.entries.lock().unwrap().clone())
}

fn main() {
    App::new()
        .title("background")
        .state(Log::default())
        .routes(routes![send_notification, read_log])
        .run();
}
