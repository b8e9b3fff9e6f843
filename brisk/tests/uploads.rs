//! Uploads against the `forms_and_files` example over real sockets: a
//! 1 GiB multipart upload streams through with bounded memory and leaves
//! no temporary file behind; an upload and its download are the same
//! bytes; limits answer 413 and 400 with a `detail`.

mod common;

use std::io::{BufReader, Write};
use std::net::TcpStream;
use std::time::Duration;

const BOUNDARY: &str = "brisk-test-boundary";

/// Spooled uploads still in `dir` (the server's TMPDIR).
fn spooled(dir: &common::TempDir) -> Vec<String> {
    std::fs::read_dir(&dir.0)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("brisk-upload-"))
        .collect()
}

fn part_head(name: &str, filename: &str) -> String {
    format!(
        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{filename}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
    )
}

#[test]
fn a_one_gigabyte_upload_streams_to_disk_and_leaves_no_temporary_file() {
    const SIZE: u64 = 1 << 30;
    let tmp = common::TempDir::new("uploads-tmp");
    let dir = tmp.0.clone();
    let server = common::start_example_with("forms_and_files", &["--no-access-log"], |c| {
        c.env("TMPDIR", &dir);
    });
    let pid = server.child.id();
    let head = part_head("files", "big.bin");
    let tail = format!("\r\n--{BOUNDARY}--\r\n");
    let length = head.len() as u64 + SIZE + tail.len() as u64;
    let mut stream = TcpStream::connect(server.addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(120)))
        .unwrap();
    write!(
        stream,
        "POST /upload-many HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: multipart/form-data; boundary={BOUNDARY}\r\nContent-Length: {length}\r\n\r\n{head}"
    )
    .unwrap();
    let chunk = vec![b'x'; 1 << 20];
    let mut peak_rss = 0;
    let mut saw_spool = false;
    for i in 0..(SIZE >> 20) {
        stream.write_all(&chunk).unwrap();
        if i % 64 == 0 {
            peak_rss = peak_rss.max(common::rss_kib(pid));
            saw_spool |= !spooled(&tmp).is_empty();
        }
    }
    stream.write_all(tail.as_bytes()).unwrap();
    let resp = common::read_response(&mut BufReader::new(stream));
    assert_eq!(resp.status, 200, "{}", resp.text());
    let body = resp.json();
    assert_eq!(body["files"][0]["size"], SIZE);
    assert_eq!(body["files"][0]["in_memory"], false);
    assert!(
        saw_spool,
        "the upload went to a temporary file while it arrived"
    );
    let peak = common::peak_rss_kib(pid);
    eprintln!("1 GiB upload: RSS sampled up to {peak_rss} KiB, peak {peak} KiB");
    assert!(peak < 50 * 1024, "peak RSS {peak} KiB");
    // The temporary file is gone once the request is done.
    common::wait_until("no temporary file left", Duration::from_secs(5), || {
        spooled(&tmp).is_empty()
    });
}

#[test]
fn an_upload_comes_back_byte_for_byte_and_a_client_leaving_removes_its_spool() {
    let tmp = common::TempDir::new("uploads-roundtrip");
    let dir = tmp.0.clone();
    let server = common::start_example_with("forms_and_files", &["--no-access-log"], |c| {
        c.env("TMPDIR", &dir);
    });
    // 3 MiB of varied bytes: spooled, then saved and served back.
    let data: Vec<u8> = (0..3u32 << 20).map(|i| (i * 7 % 251) as u8).collect();
    let mut body = Vec::new();
    body.extend(
        format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\nreport\r\n")
            .bytes(),
    );
    body.extend(part_head("file", "data.bin").bytes());
    body.extend(&data);
    body.extend(format!("\r\n--{BOUNDARY}--\r\n").bytes());
    let mut stream = TcpStream::connect(server.addr).unwrap();
    write!(
        stream,
        "POST /upload HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: multipart/form-data; boundary={BOUNDARY}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .unwrap();
    stream.write_all(&body).unwrap();
    let resp = common::read_response(&mut BufReader::new(stream));
    assert_eq!(resp.status, 201, "{}", resp.text());
    let download = resp.json()["download"].as_str().unwrap().to_owned();
    let back = common::request(server.addr, "GET", &download, None);
    assert_eq!(back.status, 200);
    assert_eq!(
        back.header("content-disposition"),
        Some("attachment; filename=\"data.bin\"")
    );
    assert!(back.body == data, "the download differs from the upload");

    // A client that sends half of a large upload and goes away.
    let mut stream = TcpStream::connect(server.addr).unwrap();
    write!(
        stream,
        "POST /upload-many HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary={BOUNDARY}\r\nContent-Length: {}\r\n\r\n{}",
        100 << 20,
        part_head("files", "half.bin")
    )
    .unwrap();
    stream.write_all(&vec![b'y'; 8 << 20]).unwrap();
    common::wait_until("the upload spooled", Duration::from_secs(10), || {
        !spooled(&tmp).is_empty()
    });
    drop(stream);
    common::wait_until("no temporary file left", Duration::from_secs(10), || {
        spooled(&tmp).is_empty()
    });
}

#[test]
fn upload_limits_answer_413_and_400_with_a_detail() {
    let server = common::start_example(
        "forms_and_files",
        &[
            "--no-access-log",
            "--limit-upload-size",
            "100000",
            "--limit-max-files",
            "2",
        ],
    );
    let send = |body: &str| {
        let mut stream = TcpStream::connect(server.addr).unwrap();
        write!(
            stream,
            "POST /upload-many HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: multipart/form-data; boundary={BOUNDARY}\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        common::read_response(&mut BufReader::new(stream))
    };
    let big = format!(
        "{}{}\r\n--{BOUNDARY}--\r\n",
        part_head("files", "a"),
        "z".repeat(200_000)
    );
    let resp = send(&big);
    assert_eq!(resp.status, 413);
    assert!(resp.json()["detail"].as_str().is_some());
    let three: String = (0..3)
        .map(|i| format!("{}x\r\n", part_head("files", &i.to_string())))
        .collect::<String>()
        + &format!("--{BOUNDARY}--\r\n");
    let resp = send(&three);
    assert_eq!(resp.status, 400);
    assert_eq!(
        resp.json()["detail"],
        "Too many files. Maximum number of files is 2."
    );
}
