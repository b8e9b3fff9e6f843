//! The socket as hyper sees it: bytes already read served first, a deadline
//! on writes, and JSON bodies on hyper's own error answers.
//!
//! * **Prefix.** A connection handed to an event loop is read once,
//!   synchronously, before it is registered with the loop's reactor (a
//!   freshly registered socket only becomes readable after the reactor next
//!   runs, which it cannot while every worker of the loop is blocked). Those
//!   bytes are served first. hyper-util has the same wrapper (`Rewind`) but
//!   keeps it private.
//! * **Write deadline.** A client that stops reading its response leaves
//!   writes pending forever, and the response in memory with them. A write
//!   that makes no progress for `--timeout-write-idle` fails the connection,
//!   which hyper then closes, releasing the response. (The kernel reports a
//!   socket writable only once a good part of its send buffer is free, so a
//!   client reading a few bytes at a time makes no progress here either.)
//! * **Writes before the reactor's first turn.** Like reads, a freshly
//!   registered socket is not known writable until the reactor runs, which
//!   it does not while handlers block the loop's only thread (watchdog off).
//!   When tokio says "not yet", the write is tried on the socket directly,
//!   so an answer goes out as soon as its handler returns.
//! * **Error bodies.** hyper answers requests it cannot parse (431, 400,
//!   414) by itself, with an empty body. brisk promises a JSON `detail` on
//!   every error, so such an answer, recognisable because no request of this
//!   connection is being served when it is written, is replaced by the same
//!   status with `{"detail": ...}`. No crate offers a hook for these answers,
//!   hence the rewrite here.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::{Buf, Bytes};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

use super::tracker::ConnState;

/// What a [`ConnIo`] wraps: the TCP socket, or the TLS stream over it.
pub(crate) trait Transport: AsyncRead + AsyncWrite + Unpin {
    /// After the reactor said "not yet": tries the write on the socket
    /// itself (see "Writes before the reactor's first turn" above).
    fn send_now(&self, bufs: &[io::IoSlice<'_>]) -> Poll<io::Result<usize>>;
}

impl Transport for tokio::net::TcpStream {
    fn send_now(&self, bufs: &[io::IoSlice<'_>]) -> Poll<io::Result<usize>> {
        match socket2::SockRef::from(self).send_vectored(bufs) {
            Ok(n) => Poll::Ready(Ok(n)),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Poll::Pending,
            Err(e) => Poll::Ready(Err(e)),
        }
    }
}

/// TLS: the socket underneath is a [`ConnIo`] of its own, which already
/// writes directly; rustls's buffered records go out through it.
impl<T: AsyncRead + AsyncWrite + Unpin> Transport for tokio_rustls::server::TlsStream<T> {
    fn send_now(&self, _bufs: &[io::IoSlice<'_>]) -> Poll<io::Result<usize>> {
        Poll::Pending
    }
}

/// `inner`, with `prefix` served first, a write deadline, and hyper's error
/// answers given JSON bodies.
pub(crate) struct ConnIo<T> {
    prefix: Bytes,
    inner: T,
    write_idle: Duration,
    /// Armed while a write is pending: when it fires, the write fails.
    stall: Option<Pin<Box<Sleep>>>,
    state: Arc<ConnState>,
    /// A replacement answer being written instead of hyper's bare one, and
    /// how many bytes of hyper's to report written once it is out.
    replacement: Option<(Bytes, usize)>,
}

impl<T> ConnIo<T> {
    pub(crate) fn new(
        prefix: Bytes,
        inner: T,
        write_idle: Duration,
        state: Arc<ConnState>,
    ) -> Self {
        ConnIo {
            prefix,
            inner,
            write_idle,
            stall: None,
            state,
            replacement: None,
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for ConnIo<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if !self.prefix.is_empty() {
            let n = self.prefix.len().min(buf.remaining());
            buf.put_slice(&self.prefix[..n]);
            self.prefix.advance(n);
            if self.prefix.is_empty() {
                self.prefix = Bytes::new(); // release the buffer for idle connections
            }
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<T: Transport> ConnIo<T> {
    /// Tracks a write's progress: clears the stall timer on progress, arms
    /// it when the write has to wait, fails once it fires.
    fn watch<R>(&mut self, cx: &mut Context<'_>, poll: Poll<io::Result<R>>) -> Poll<io::Result<R>> {
        match poll {
            Poll::Pending => {
                if self.stall.is_none() {
                    self.state.write_blocked();
                }
                let deadline = Instant::now() + self.write_idle;
                let stall = self
                    .stall
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
                if stall.as_mut().poll(cx).is_ready() {
                    self.stall = None;
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "the client stopped reading the response (--timeout-write-idle)",
                    )));
                }
                Poll::Pending
            }
            ready => {
                if self.stall.take().is_some() {
                    self.state.write_unblocked();
                }
                ready
            }
        }
    }

    /// Writes out the replacement of a hyper error answer.
    fn poll_replacement(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        while let Some((bytes, _)) = &mut self.replacement {
            if bytes.is_empty() {
                let (_, consumed) = self.replacement.take().expect("just seen");
                return Poll::Ready(Ok(consumed));
            }
            let poll = Pin::new(&mut self.inner).poll_write(cx, bytes);
            let n = ready!(self.watch(cx, poll))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            if let Some((bytes, _)) = &mut self.replacement {
                bytes.advance(n);
            }
        }
        Poll::Ready(Ok(0))
    }
}

impl<T: Transport> AsyncWrite for ConnIo<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        if this.replacement.is_none()
            && !this.state.is_busy()
            && let Some(answer) = json_error_answer(buf)
        {
            this.replacement = Some((answer, buf.len()));
        }
        if this.replacement.is_some() {
            return this.poll_replacement(cx);
        }
        let poll = match Pin::new(&mut this.inner).poll_write(cx, buf) {
            // Registered for wake-up above; try the socket itself meanwhile.
            Poll::Pending => this.inner.send_now(&[io::IoSlice::new(buf)]),
            ready => ready,
        };
        this.watch(cx, poll)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        // hyper writes its error answers as one head, possibly vectored;
        // every other answer is ruled out by its status line, without
        // copying (this runs for every response that is already complete
        // when it is written, which is most of them).
        if this.replacement.is_none()
            && !this.state.is_busy()
            && bufs.first().is_some_and(|b| b.starts_with(b"HTTP/1.1 4"))
        {
            let total: usize = bufs.iter().map(|b| b.len()).sum();
            if total <= 512 {
                let flat: Vec<u8> = bufs.iter().flat_map(|b| b.iter().copied()).collect();
                if let Some(answer) = json_error_answer(&flat) {
                    this.replacement = Some((answer, total));
                }
            }
        }
        if this.replacement.is_some() {
            return this.poll_replacement(cx);
        }
        let poll = match Pin::new(&mut this.inner).poll_write_vectored(cx, bufs) {
            Poll::Pending => this.inner.send_now(bufs),
            ready => ready,
        };
        this.watch(cx, poll)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        let poll = Pin::new(&mut this.inner).poll_flush(cx);
        this.watch(cx, poll)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        let poll = Pin::new(&mut this.inner).poll_shutdown(cx);
        this.watch(cx, poll)
    }
}

/// If `head` is one of hyper's automatic answers to an unparsable request
/// (`HTTP/1.1 4xx ...`, `content-length: 0`, no body), the same answer with
/// a JSON `detail` body and `Connection: close`.
pub(crate) fn json_error_answer(head: &[u8]) -> Option<Bytes> {
    if head.len() > 512 || !head.starts_with(b"HTTP/1.1 4") || !head.ends_with(b"\r\n\r\n") {
        return None;
    }
    let text = std::str::from_utf8(head).ok()?;
    let (status_line, headers) = text.split_once("\r\n")?;
    if !headers
        .split("\r\n")
        .any(|h| h.eq_ignore_ascii_case("content-length: 0"))
    {
        return None;
    }
    let reason = match status_line.get(9..12)? {
        "400" => "Bad Request",
        "414" => "URI Too Long",
        "431" => "Request Header Fields Too Large",
        _ => return None,
    };
    let body = format!(r#"{{"detail":"{reason}"}}"#);
    let date = headers
        .split("\r\n")
        .find(|h| h.len() > 5 && h[..5].eq_ignore_ascii_case("date:"));
    let mut out = format!(
        "{status_line}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n",
        body.len()
    );
    if let Some(date) = date {
        out.push_str(date);
        out.push_str("\r\n");
    }
    out.push_str("\r\n");
    out.push_str(&body);
    Some(Bytes::from(out))
}

#[cfg(test)]
mod tests {
    use super::json_error_answer;

    #[test]
    fn gives_hyper_error_answers_a_json_body() {
        let bare = b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\ndate: Mon, 23 Nov 2026 10:00:00 GMT\r\n\r\n";
        let out = json_error_answer(bare).unwrap();
        let text = std::str::from_utf8(&out).unwrap();
        assert!(text.starts_with("HTTP/1.1 431 Request Header Fields Too Large\r\n"));
        assert!(text.contains("content-type: application/json\r\n"));
        assert!(text.contains("date: Mon, 23 Nov 2026 10:00:00 GMT\r\n"));
        assert!(text.ends_with("\r\n\r\n{\"detail\":\"Request Header Fields Too Large\"}"));
        let len: usize = text
            .split("content-length: ")
            .nth(1)
            .unwrap()
            .split("\r\n")
            .next()
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(len, r#"{"detail":"Request Header Fields Too Large"}"#.len());
    }

    #[test]
    fn leaves_every_other_write_alone() {
        assert!(json_error_answer(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n").is_none());
        assert!(
            json_error_answer(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n").is_none()
        );
        assert!(
            json_error_answer(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 9\r\n\r\n").is_none()
        );
        assert!(json_error_answer(b"{\"detail\":1}").is_none());
    }
}
