//! The built-in echo upstream: describes the request it received, in JSON.
//!
//! It runs in-process (no network hop) behind the same request rewriting as a real upstream, so
//! what it shows is what an upstream would see: hop-by-hop headers gone, `X-Forwarded-*` added.
//! (`Host` stays as the client sent it: there is no upstream authority to put there.)

use bytes::Buf;
use http::{Request, Response, StatusCode};
use http_body::Body as HttpBody;
use http_body_util::BodyExt;
use serde_json::{Value, json};

use crate::body::{self, Body};

/// The most request-body bytes the echo upstream reads; a longer body is answered with 413.
pub const MAX_ECHO_BODY: u64 = 1024 * 1024;

/// Answers `request` with 200 and `{"method", "path", "query", "headers", "body_bytes"}`.
///
/// The body is counted frame by frame, never held; past [`MAX_ECHO_BODY`] reading stops and the
/// answer is 413.
pub(crate) async fn respond<B>(request: Request<B>) -> Response<Body>
where
    B: HttpBody,
    B::Error: std::fmt::Display,
{
    let (parts, incoming) = request.into_parts();
    let mut incoming = std::pin::pin!(incoming);
    let too_large = || {
        body::error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload too large",
            &format!("the echo upstream reads at most {MAX_ECHO_BODY} bytes of a request body"),
        )
    };
    if incoming.size_hint().lower() > MAX_ECHO_BODY {
        return too_large();
    }
    let mut body_bytes: u64 = 0;
    while let Some(frame) = incoming.as_mut().frame().await {
        match frame {
            Ok(frame) => {
                if let Some(data) = frame.data_ref() {
                    body_bytes += data.remaining() as u64;
                    if body_bytes > MAX_ECHO_BODY {
                        return too_large();
                    }
                }
            }
            Err(e) => {
                return body::error(
                    StatusCode::BAD_REQUEST,
                    "request body failed",
                    &e.to_string(),
                );
            }
        }
    }
    let headers: Vec<Value> = parts
        .headers
        .iter()
        .map(|(name, value)| json!([name.as_str(), String::from_utf8_lossy(value.as_bytes())]))
        .collect();
    body::json(
        StatusCode::OK,
        &json!({
            "method": parts.method.as_str(),
            "path": parts.uri.path(),
            "query": parts.uri.query(),
            "headers": headers,
            "body_bytes": body_bytes,
        }),
    )
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;
    use std::pin::Pin;
    use std::task::{Context, Poll};

    use bytes::Bytes;
    use http_body::Frame;
    use http_body_util::Full;

    use super::*;

    async fn answer<B>(request: Request<B>) -> (u16, Value)
    where
        B: HttpBody,
        B::Error: std::fmt::Display,
    {
        let response = respond(request).await;
        let status = response.status().as_u16();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        (status, serde_json::from_slice(&bytes).unwrap())
    }

    /// A body that never ends and does not announce its length.
    struct Endless(Bytes);

    impl HttpBody for Endless {
        type Data = Bytes;
        type Error = Infallible;

        fn poll_frame(
            self: Pin<&mut Self>,
            _cx: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
            Poll::Ready(Some(Ok(Frame::data(self.0.clone()))))
        }
    }

    #[tokio::test]
    async fn describes_the_request() {
        let request = Request::post("/items/1?x=1&y")
            .header("content-type", "text/plain")
            .header("x-multi", "a")
            .header("x-multi", "b")
            .body(Full::new(Bytes::from_static(b"hello")))
            .unwrap();
        let (status, value) = answer(request).await;
        assert_eq!(status, 200);
        assert_eq!(
            value,
            json!({
                "method": "POST",
                "path": "/items/1",
                "query": "x=1&y",
                "headers": [["content-type", "text/plain"], ["x-multi", "a"], ["x-multi", "b"]],
                "body_bytes": 5,
            })
        );
        let empty = Request::get("/").body(Full::<Bytes>::default()).unwrap();
        let (_, value) = answer(empty).await;
        assert_eq!(value["query"], Value::Null);
        assert_eq!(value["body_bytes"], 0);
    }

    #[tokio::test]
    async fn stops_reading_at_the_cap() {
        let endless = Endless(Bytes::from(vec![0u8; 64 * 1024]));
        let (status, value) = answer(Request::post("/").body(endless).unwrap()).await;
        assert_eq!(status, 413);
        assert_eq!(value["error"], "payload too large");

        let exact = Full::new(Bytes::from(vec![1u8; MAX_ECHO_BODY as usize]));
        let (status, value) = answer(Request::post("/").body(exact).unwrap()).await;
        assert_eq!(status, 200);
        assert_eq!(value["body_bytes"], MAX_ECHO_BODY);

        let announced = Full::new(Bytes::from(vec![1u8; MAX_ECHO_BODY as usize + 1]));
        let (status, _) = answer(Request::post("/").body(announced).unwrap()).await;
        assert_eq!(status, 413);
    }
}
