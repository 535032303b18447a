//! The response body type shared by the proxy, the echo upstream and the gateway's own answers.

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode, header};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full};

/// Any error a body can fail with while streaming.
pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A streamed response body: an upstream's `Incoming` passed through frame by frame, or a small
/// body the gateway wrote itself. Not `Sync`, which nothing here needs.
pub(crate) type Body = UnsyncBoxBody<Bytes, BoxError>;

/// A complete in-memory body.
pub(crate) fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed_unsync()
}

/// A JSON response written by the gateway itself (errors, the echo upstream).
pub(crate) fn json(status: StatusCode, value: &serde_json::Value) -> Response<Body> {
    let mut response = Response::new(full(value.to_string()));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// `{"error": ..., "detail": ...}`: how the gateway reports its own failures.
pub(crate) fn error(status: StatusCode, error: &str, detail: &str) -> Response<Body> {
    json(
        status,
        &serde_json::json!({ "error": error, "detail": detail }),
    )
}

/// Why a request body stopped being forwarded, so that the failed upstream exchange can be
/// answered with the client's fault (413, 408) rather than a 502.
#[derive(Debug, Default)]
pub(crate) struct BodyFlags {
    pub(crate) too_large: std::sync::atomic::AtomicBool,
    pub(crate) idle: std::sync::atomic::AtomicBool,
}

/// The client's request body on its way upstream: its bytes counted against the limit, and
/// the silence between chunks bounded.
pub(crate) enum RequestBody {
    /// A request without a body (no allocation, no timer).
    Empty,
    Streaming(Box<Limited>),
}

pub(crate) struct Limited {
    inner: hyper::body::Incoming,
    seen: u64,
    max: u64,
    idle: std::time::Duration,
    timer: Option<std::pin::Pin<Box<tokio::time::Sleep>>>,
    armed: bool,
    flags: std::sync::Arc<BodyFlags>,
}

/// The error a body ends with when a limit stops it.
#[derive(Debug)]
pub(crate) struct Stopped(pub &'static str);

impl std::fmt::Display for Stopped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for Stopped {}

impl RequestBody {
    pub(crate) fn new(
        incoming: hyper::body::Incoming,
        max: u64,
        idle: std::time::Duration,
    ) -> (RequestBody, Option<std::sync::Arc<BodyFlags>>) {
        use http_body::Body as _;
        if incoming.is_end_stream() {
            return (RequestBody::Empty, None);
        }
        let flags = std::sync::Arc::new(BodyFlags::default());
        let limited = Limited {
            inner: incoming,
            seen: 0,
            max,
            idle,
            timer: None,
            armed: false,
            flags: std::sync::Arc::clone(&flags),
        };
        (RequestBody::Streaming(Box::new(limited)), Some(flags))
    }
}

impl http_body::Body for RequestBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, BoxError>>> {
        use std::sync::atomic::Ordering;
        use std::task::Poll;
        let this = match self.get_mut() {
            RequestBody::Empty => return Poll::Ready(None),
            RequestBody::Streaming(limited) => &mut **limited,
        };
        match std::pin::Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                this.armed = false;
                if let Some(data) = frame.data_ref() {
                    this.seen += data.len() as u64;
                    if this.seen > this.max {
                        this.flags.too_large.store(true, Ordering::Release);
                        return Poll::Ready(Some(Err(Box::new(Stopped(
                            "the request body is larger than max_body_bytes",
                        )))));
                    }
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(Box::new(e)))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => {
                let deadline = tokio::time::Instant::now() + this.idle;
                let timer = this
                    .timer
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
                if !this.armed {
                    timer.as_mut().reset(deadline);
                    this.armed = true;
                }
                if timer.as_mut().poll(cx).is_ready() {
                    this.flags.idle.store(true, Ordering::Release);
                    return Poll::Ready(Some(Err(Box::new(Stopped(
                        "the client stopped sending its request body (timeouts.body_idle)",
                    )))));
                }
                Poll::Pending
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            RequestBody::Empty => true,
            RequestBody::Streaming(l) => l.inner.is_end_stream(),
        }
    }

    fn size_hint(&self) -> http_body::SizeHint {
        match self {
            RequestBody::Empty => http_body::SizeHint::with_exact(0),
            RequestBody::Streaming(l) => l.inner.size_hint(),
        }
    }
}

/// An upstream's response body on its way to the client, cut off when the upstream falls
/// silent for longer than `idle` or the exchange passes its total deadline. Read to its end, it
/// returns its connection to the pool; dropped or failed before, it closes it.
pub(crate) struct UpstreamBody {
    inner: hyper::body::Incoming,
    lease: Option<crate::pool::Lease>,
    idle: std::time::Duration,
    deadline: tokio::time::Instant,
    timer: Option<std::pin::Pin<Box<tokio::time::Sleep>>>,
    armed: bool,
}

impl UpstreamBody {
    pub(crate) fn new(
        inner: hyper::body::Incoming,
        lease: crate::pool::Lease,
        idle: std::time::Duration,
        deadline: tokio::time::Instant,
    ) -> UpstreamBody {
        UpstreamBody {
            inner,
            lease: Some(lease),
            idle,
            deadline,
            timer: None,
            armed: false,
        }
    }
}

impl http_body::Body for UpstreamBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, BoxError>>> {
        use std::task::Poll;
        let this = self.get_mut();
        match std::pin::Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(frame) => {
                this.armed = false;
                match &frame {
                    // hyper's server stops polling once `is_end_stream` says so, so the end is
                    // noticed after the last frame as well as at `None`.
                    Some(Ok(_)) if !this.inner.is_end_stream() => {}
                    Some(Ok(_)) | None => {
                        if let Some(lease) = this.lease.take() {
                            lease.release();
                        }
                    }
                    Some(Err(_)) => this.lease = None,
                }
                Poll::Ready(frame.map(|f| f.map_err(BoxError::from)))
            }
            Poll::Pending => {
                let deadline = (tokio::time::Instant::now() + this.idle).min(this.deadline);
                let timer = this
                    .timer
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
                if !this.armed {
                    timer.as_mut().reset(deadline);
                    this.armed = true;
                }
                if timer.as_mut().poll(cx).is_ready() {
                    let why = if tokio::time::Instant::now() >= this.deadline {
                        "the exchange passed timeouts.total: response cut off"
                    } else {
                        "the upstream stopped sending its response body (timeouts.body_idle): response cut off"
                    };
                    tracing::warn!(target: "crossgate::gateway", "{why}");
                    return Poll::Ready(Some(Err(Box::new(Stopped(why)))));
                }
                Poll::Pending
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}
