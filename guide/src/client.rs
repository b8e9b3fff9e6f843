//! A blocking HTTP/1.1 client in a few lines of std: one request per
//! connection (`Connection: close`), the answer read until the server
//! closes it. Enough to time a lesson's server from the outside; not a
//! general-purpose client.
//!
//! ```no_run
//! use brisk_guide::client;
//! // ten POST /delay at once on 127.0.0.1:8000, in the order they finished
//! for reply in client::burst(8000, "POST", "/delay", 10, 10) {
//!     println!("{} after {:?}: {}", reply.status, reply.finished, reply.body);
//! }
//! ```

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long one request may take before the client gives up on it.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// One answer, with its timings.
#[derive(Debug, Clone)]
pub struct Reply {
    /// The HTTP status (0 if the request failed before one arrived).
    pub status: u16,
    /// The body as text (or the error, when `status` is 0).
    pub body: String,
    /// From sending the request to the end of the answer.
    pub latency: Duration,
    /// From the start of the [`burst`] to the end of the answer (equal to
    /// `latency` for a lone [`request`]).
    pub finished: Duration,
}

impl Reply {
    /// The body parsed as JSON (`Null` if it is not JSON).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_default()
    }
}

/// Sends `method path` to `127.0.0.1:port` and waits for the whole answer.
pub fn request(port: u16, method: &str, path: &str) -> io::Result<Reply> {
    let start = Instant::now();
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(REQUEST_TIMEOUT))?;
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
    )?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    let latency = start.elapsed();
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| io::Error::other(format!("no HTTP status line in {head:?}")))?;
    Ok(Reply {
        status,
        body: body.to_owned(),
        latency,
        finished: latency,
    })
}

/// Sends `total` requests, at most `concurrency` at a time (one thread
/// each), and returns the replies in the order they finished. A request that
/// fails gives a reply with status 0 and the error as its body.
pub fn burst(port: u16, method: &str, path: &str, total: usize, concurrency: usize) -> Vec<Reply> {
    let start = Instant::now();
    let next = Arc::new(AtomicUsize::new(0));
    let replies = Arc::new(Mutex::new(Vec::with_capacity(total)));
    let threads: Vec<_> = (0..concurrency.clamp(1, total.max(1)))
        .map(|_| {
            let (next, replies) = (Arc::clone(&next), Arc::clone(&replies));
            let (method, path) = (method.to_owned(), path.to_owned());
            std::thread::spawn(move || {
                while next.fetch_add(1, Ordering::SeqCst) < total {
                    let sent = Instant::now();
                    let mut reply = request(port, &method, &path).unwrap_or_else(|e| Reply {
                        status: 0,
                        body: e.to_string(),
                        latency: sent.elapsed(),
                        finished: Duration::ZERO,
                    });
                    reply.finished = start.elapsed();
                    replies.lock().unwrap().push(reply);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("client thread panicked");
    }
    let mut replies = std::mem::take(&mut *replies.lock().unwrap());
    replies.sort_by_key(|r| r.finished);
    replies
}
