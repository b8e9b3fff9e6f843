use brisk::prelude::*;

#[get("/users/{user_id}/items")]
async fn user_items(usr_id: u32) -> String {
    usr_id.to_string()
}

fn main() {}
