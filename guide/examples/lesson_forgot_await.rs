//! Lesson 12 — pitfall: forgetting `.await`. The mistakes themselves live
//! in `guide/snippets/` (they do not belong in a crate that must build
//! without warnings); this is the corrected program: every future is
//! awaited, so the order is saved and the data's field is there.
//!
//! ```text
//! rustc --edition 2024 --crate-type lib --emit metadata -o /tmp/out guide/snippets/forgot_await.rs
//! cargo run --release --example lesson_forgot_await
//! ```

use std::time::Duration;

use brisk_guide::{say, start_clock};

struct Data {
    key: String,
}

async fn get_data() -> Data {
    tokio::time::sleep(Duration::from_millis(100)).await;
    Data {
        key: "value".into(),
    }
}

async fn save(order: u32) {
    tokio::time::sleep(Duration::from_millis(100)).await;
    say!("saved order {order}");
}

/// ✅ Both futures awaited: each call's body actually runs.
async fn good_handler(order: u32) -> String {
    save(order).await;
    let data = get_data().await;
    data.key
}

#[tokio::main]
async fn main() {
    start_clock();
    let key = good_handler(7).await;
    say!("got data.key = {key:?}");
}
