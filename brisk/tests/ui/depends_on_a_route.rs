use brisk::prelude::*;

/// A path operation, not a dependency.
#[get("/db")]
async fn get_db() -> String {
    "db".into()
}

#[get("/")]
async fn root(db: Depends<get_db>) -> String {
    db.clone()
}

fn main() {}
