//! HTML forms and file uploads (FastAPI's "Form Data", "Request Files" and
//! "Request Forms and Files" tutorials): a form with an upload, several
//! files at once, a download of what was uploaded, and a plain `fn` that
//! reads a (possibly huge) upload with blocking calls on the thread pool.
//!
//! ```text
//! cargo run --release --example forms_and_files -- --port 8000
//! open http://127.0.0.1:8000/                        # the HTML form
//! curl -F title=report -F file=@Cargo.toml http://127.0.0.1:8000/upload
//! curl http://127.0.0.1:8000/files/0                  # the file back
//! curl -F files=@a.txt -F files=@b.txt http://127.0.0.1:8000/upload-many
//! curl -F file=@big.iso http://127.0.0.1:8000/checksum   # streamed, spooled to disk
//! curl -d 'username=ann&password=secret' http://127.0.0.1:8000/login
//! ```
//!
//! Uploads over 1 MiB are spooled to a temporary file (`$TMPDIR`) that is
//! removed when the request is done. Limits: `--limit-upload-size`,
//! `--limit-upload-part-size`, `--limit-max-files`, `--limit-max-fields`.

use std::collections::HashMap;
use std::io::Read;
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use brisk::params::{FormField, UploadFile};
use brisk::prelude::*;
use brisk::response::FileResponse;

/// An uploaded file kept for download: its original name, where it is,
/// its type.
type Stored = (String, PathBuf, Option<String>);

/// Uploaded files kept for download, by id.
struct Store {
    dir: PathBuf,
    files: Mutex<HashMap<u64, Stored>>,
    next: AtomicU64,
}

impl Default for Store {
    fn default() -> Self {
        let dir = std::env::temp_dir().join(format!("brisk-forms-example-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a directory for uploads");
        Store {
            dir,
            files: Mutex::default(),
            next: AtomicU64::new(0),
        }
    }
}

/// The form.
#[get("/")]
async fn page() -> Html<&'static str> {
    Html(
        r#"<!doctype html><meta charset="utf-8"><title>Upload</title>
<h1>Upload a file</h1>
<form action="/upload" method="post" enctype="multipart/form-data">
  <input name="title" placeholder="title" required>
  <input name="file" type="file" required>
  <button>Upload</button>
</form>
<h1>Several files</h1>
<form action="/upload-many" method="post" enctype="multipart/form-data">
  <input name="files" type="file" multiple required>
  <button>Upload</button>
</form>"#,
    )
}

/// A title and a file: the file is kept, and can be downloaded back.
#[post("/upload", status = 201)]
async fn upload(
    #[param(min_length = 1, max_length = 100)] title: FormField<String>,
    file: UploadFile,
    store: State<Store>,
) -> Result<Json<Value>, HttpError> {
    let id = store.next.fetch_add(1, Ordering::Relaxed);
    let path = store.dir.join(id.to_string());
    file.save_to(&path)
        .await
        .map_err(|_| HttpError::internal())?;
    store
        .files
        .lock()
        .unwrap()
        .insert(id, (file.filename.clone(), path, file.content_type.clone()));
    Ok(Json(json!({
        "id": id,
        "title": title.0,
        "filename": file.filename,
        "content_type": file.content_type,
        "size": file.size(),
        "download": format!("/files/{id}"),
    })))
}

/// Several files under one name.
#[post("/upload-many")]
async fn upload_many(files: Vec<UploadFile>) -> Json<Value> {
    let files: Vec<Value> = files
        .iter()
        .map(|f| json!({"filename": f.filename, "size": f.size(), "in_memory": f.in_memory()}))
        .collect();
    Json(json!({ "files": files }))
}

/// A download of an uploaded file, under its original name.
#[get("/files/{id}")]
async fn download(id: u64, store: State<Store>) -> Result<FileResponse, HttpError> {
    let files = store.files.lock().unwrap();
    let (name, path, content_type) = files
        .get(&id)
        .cloned()
        .ok_or_else(|| HttpError::not_found("File not found"))?;
    let mut resp = FileResponse::new(path).filename(name);
    if let Some(ct) = content_type {
        resp = resp.media_type(ct);
    }
    Ok(resp)
}

/// A plain `fn`: runs on the thread pool, so it reads the upload with
/// blocking calls, 64 KiB at a time, never holding it whole in memory.
#[post("/checksum")]
fn checksum(file: UploadFile) -> Result<Json<Value>, HttpError> {
    let mut reader = file.reader().map_err(|_| HttpError::internal())?;
    // FNV-1a, 64-bit: enough to compare two copies of a file.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut read = 0u64;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = reader.read(&mut buf).map_err(|_| HttpError::internal())?;
        if n == 0 {
            break;
        }
        read += n as u64;
        for &byte in &buf[..n] {
            hash = (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
        }
    }
    Ok(Json(json!({
        "filename": file.filename,
        "size": read,
        "fnv1a64": format!("{hash:016x}"),
        "spooled_to_disk": !file.in_memory(),
    })))
}

/// Plain form fields (`application/x-www-form-urlencoded` or multipart).
#[post("/login")]
async fn login(
    username: FormField<String>,
    #[param(min_length = 3)] password: FormField<String>,
    #[param(default = FormField(false))] remember: FormField<bool>,
) -> Json<Value> {
    let _ = password;
    Json(json!({"username": username.0, "remember": remember.0}))
}

fn main() {
    App::new()
        .title("Forms and files")
        .state(Store::default())
        .routes(routes![
            page,
            upload,
            upload_many,
            download,
            checksum,
            login
        ])
        .run();
}
