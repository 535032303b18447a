//! The response body type shared by the proxy, the echo upstream and the gateway's own answers.

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode, header};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full};

/// Any error a body can fail with while streaming.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A streamed response body: an upstream's `Incoming` passed through frame by frame, or a small
/// body the gateway wrote itself. Not `Sync`, which nothing here needs.
pub type Body = UnsyncBoxBody<Bytes, BoxError>;

/// A complete in-memory body.
pub fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed_unsync()
}

/// A JSON response written by the gateway itself (errors, the echo upstream).
pub fn json(status: StatusCode, value: &serde_json::Value) -> Response<Body> {
    let mut response = Response::new(full(value.to_string()));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// `{"error": ..., "detail": ...}`: how the gateway reports its own failures.
pub fn error(status: StatusCode, error: &str, detail: &str) -> Response<Body> {
    json(
        status,
        &serde_json::json!({ "error": error, "detail": detail }),
    )
}
