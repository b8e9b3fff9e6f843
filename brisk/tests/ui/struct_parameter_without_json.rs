use brisk::prelude::*;

#[derive(Deserialize, JsonSchema)]
struct Item {
    name: String,
}

#[post("/items")]
async fn create_item(item: Item) -> String {
    item.name
}

fn main() {}
