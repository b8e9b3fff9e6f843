// ❌ Forgot `.await` (2): the seed's `data = get_data(); data["key"]`. In
// Python that fails at run time (TypeError); in Rust the future has no such
// field, so it does not compile. Checked by `guide/tests/pitfalls.rs`.

pub struct Data {
    pub key: String,
}

async fn get_data() -> Data {
    Data { key: "value".into() }
}

pub async fn bad_handler() -> String {
    let data = get_data(); // should be: get_data().await
    data.key
}
