use brisk::prelude::*;

fn get_db() -> String {
    "db".into()
}

#[get("/")]
async fn root(db: Depends<get_db>) -> String {
    db.clone()
}

fn main() {}
