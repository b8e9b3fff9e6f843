//! Deadlines on reading a request body: an idle timeout between chunks and
//! a minimum average rate (after a grace period), so that a client trickling
//! its body a byte at a time cannot hold a connection and its buffer forever
//! (Kestrel's `MinRequestBodyDataRate`, nginx's `client_body_timeout`).
//!
//! The clock starts when the application first reads the body. On expiry
//! the body yields [`BodyTimeout`], which brisk answers with 408 and
//! `Connection: close`.
//!
//! Also here: [`Lingering`], which reads the rest of a refused HTTP/2 body
//! (within limits) so that clients see the answer.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Buf, Bytes};
use http_body::{Body as HttpBody, Frame, SizeHint};
use tokio::time::{Instant, Sleep};

use crate::body::{BodyTimeout, BoxError};

/// How long a body may pause, and how slowly it may arrive on average.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BodyDeadlines {
    /// The longest pause between two chunks.
    pub(crate) idle: Duration,
    /// Bytes per second the body must average once `grace` has passed
    /// (0: no minimum).
    pub(crate) min_rate: u64,
    /// How long before the minimum rate applies.
    pub(crate) grace: Duration,
}

pin_project_lite::pin_project! {
    /// `inner` with [`BodyDeadlines`] enforced.
    pub(crate) struct DeadlineBody<B> {
        #[pin]
        inner: B,
        deadlines: BodyDeadlines,
        started: Option<Instant>,
        last_chunk: Option<Instant>,
        received: u64,
        timer: Option<Pin<Box<Sleep>>>,
    }
}

impl<B> DeadlineBody<B> {
    pub(crate) fn new(inner: B, deadlines: BodyDeadlines) -> Self {
        DeadlineBody {
            inner,
            deadlines,
            started: None,
            last_chunk: None,
            received: 0,
            timer: None,
        }
    }
}

impl BodyDeadlines {
    /// The instant the body, with `received` bytes since `started`, first
    /// falls below the minimum rate (`None`: no minimum).
    fn rate_deadline(&self, started: Instant, received: u64) -> Option<Instant> {
        if self.min_rate == 0 {
            return None;
        }
        let allowed = Duration::from_secs_f64((received + 1) as f64 / self.min_rate as f64);
        Some(started + allowed.max(self.grace))
    }
}

impl<B> HttpBody for DeadlineBody<B>
where
    B: HttpBody<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.project();
        let now = Instant::now();
        let started = *this.started.get_or_insert(now);
        let last = *this.last_chunk.get_or_insert(now);
        match this.inner.poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    *this.received += data.len() as u64;
                }
                *this.last_chunk = Some(now);
                *this.timer = None;
                if this
                    .deadlines
                    .rate_deadline(started, *this.received)
                    .is_some_and(|d| now > d)
                {
                    return Poll::Ready(Some(Err(BodyTimeout::TooSlow.into())));
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e.into()))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => {
                let idle_deadline = last + this.deadlines.idle;
                let rate_deadline = this.deadlines.rate_deadline(started, *this.received);
                let deadline = rate_deadline.map_or(idle_deadline, |r| r.min(idle_deadline));
                match this.timer {
                    Some(timer) if timer.deadline() == deadline => {}
                    Some(timer) => timer.as_mut().reset(deadline),
                    None => *this.timer = Some(Box::pin(tokio::time::sleep_until(deadline))),
                }
                let timer = this.timer.as_mut().expect("just armed");
                if timer.as_mut().poll(cx).is_pending() {
                    return Poll::Pending;
                }
                *this.timer = None;
                let kind = if Instant::now() >= idle_deadline {
                    BodyTimeout::Idle
                } else {
                    BodyTimeout::TooSlow
                };
                Poll::Ready(Some(Err(kind.into())))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// How much of a refused HTTP/2 request body is still read (and thrown
/// away), and for how long, once the answer has been sent.
const LINGER_BYTES: u64 = 64 << 20;
const LINGER_TIME: Duration = Duration::from_secs(10);

/// An HTTP/2 request body that, when the application drops it unread (a
/// 413, an early error), is read to its end in the background and thrown
/// away, within [`LINGER_BYTES`] and [`LINGER_TIME`].
///
/// Answering before the request is complete and then resetting the stream
/// with `NO_ERROR` is what RFC 9113 §8.1 prescribes, but clients such as
/// curl 7.x then report no answer at all; letting the upload finish makes
/// them read the 413. This is HTTP/2's form of nginx's lingering close.
pub(crate) struct Lingering<B>
where
    B: HttpBody + Unpin + Send + 'static,
{
    inner: Option<B>,
}

impl<B> Lingering<B>
where
    B: HttpBody + Unpin + Send + 'static,
{
    pub(crate) fn new(inner: B) -> Self {
        Lingering { inner: Some(inner) }
    }
}

impl<B> HttpBody for Lingering<B>
where
    B: HttpBody + Unpin + Send + 'static,
{
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<B::Data>, B::Error>>> {
        match self.inner.as_mut() {
            Some(inner) => Pin::new(inner).poll_frame(cx),
            None => Poll::Ready(None),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.as_ref().is_none_or(HttpBody::is_end_stream)
    }

    fn size_hint(&self) -> SizeHint {
        self.inner
            .as_ref()
            .map_or_else(|| SizeHint::with_exact(0), HttpBody::size_hint)
    }
}

impl<B> Drop for Lingering<B>
where
    B: HttpBody + Unpin + Send + 'static,
{
    fn drop(&mut self) {
        let Some(mut body) = self.inner.take() else {
            return;
        };
        if body.is_end_stream() {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        runtime.spawn(async move {
            let drain = async {
                let mut read = 0u64;
                while read < LINGER_BYTES {
                    match std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await {
                        Some(Ok(frame)) => {
                            read += frame.data_ref().map_or(0, |d| d.remaining() as u64);
                        }
                        _ => return,
                    }
                }
            };
            let _ = tokio::time::timeout(LINGER_TIME, drain).await;
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    /// A body that yields one byte every `every`, `n` times.
    fn trickle(every: Duration, n: usize) -> impl HttpBody<Data = Bytes, Error = BoxError> {
        let stream = futures_util::stream::unfold(0, move |i| async move {
            if i == n {
                return None;
            }
            tokio::time::sleep(every).await;
            Some((
                Ok::<_, BoxError>(Frame::data(Bytes::from_static(b"x"))),
                i + 1,
            ))
        });
        http_body_util::StreamBody::new(stream)
    }

    #[tokio::test(start_paused = true)]
    async fn cuts_a_body_that_stops() {
        let deadlines = BodyDeadlines {
            idle: Duration::from_secs(5),
            min_rate: 0,
            grace: Duration::from_secs(1),
        };
        let body = DeadlineBody::new(trickle(Duration::from_secs(60), 1), deadlines);
        let err = body.collect().await.unwrap_err();
        assert_eq!(err.downcast_ref::<BodyTimeout>(), Some(&BodyTimeout::Idle));
    }

    #[tokio::test(start_paused = true)]
    async fn cuts_a_body_that_trickles() {
        let deadlines = BodyDeadlines {
            idle: Duration::from_secs(30),
            min_rate: 100,
            grace: Duration::from_secs(10),
        };
        let started = Instant::now();
        let body = DeadlineBody::new(trickle(Duration::from_secs(2), 1000), deadlines);
        let err = body.collect().await.unwrap_err();
        assert_eq!(
            err.downcast_ref::<BodyTimeout>(),
            Some(&BodyTimeout::TooSlow)
        );
        let took = started.elapsed();
        assert!(
            took >= Duration::from_secs(10) && took < Duration::from_secs(13),
            "{took:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn lets_a_steady_body_through() {
        let deadlines = BodyDeadlines {
            idle: Duration::from_secs(5),
            min_rate: 1,
            grace: Duration::from_secs(1),
        };
        let body = DeadlineBody::new(trickle(Duration::from_millis(500), 30), deadlines);
        assert_eq!(body.collect().await.unwrap().to_bytes().len(), 30);
    }
}
