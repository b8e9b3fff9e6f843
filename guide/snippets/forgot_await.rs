// ❌ Forgot `.await` (1): the call builds a future and drops it unpolled, so
// the order is never saved. It compiles, with the warning in the guide.
// Not part of any cargo target; `guide/tests/pitfalls.rs` compiles it with
// rustc and checks the warning.

async fn save(order: u32) {
    println!("saved order {order}");
}

pub async fn handler(order: u32) {
    save(order); // should be: save(order).await;
}
