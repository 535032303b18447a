//! The page and its assets, compiled into the binary: the playground needs no files at run
//! time, and the page is the one this build's API answers for.

use bytes::Bytes;
use http::{HeaderValue, Response, header};
use http_body_util::Full;

const INDEX: &str = include_str!("assets/index.html");
/// The starting points: the page's buttons, and the cases the tests run.
pub const STARTS: &str = include_str!("assets/starts.json");
const ASSETS: [(&str, &str, &str); 3] = [
    (
        "/playground.js",
        "text/javascript; charset=utf-8",
        include_str!("assets/playground.js"),
    ),
    (
        "/playground.css",
        "text/css; charset=utf-8",
        include_str!("assets/playground.css"),
    ),
    ("/starts.json", "application/json", STARTS),
];

/// The content type and text of the asset at `path`.
pub(crate) fn get(path: &str) -> Option<(&'static str, &'static str)> {
    ASSETS
        .iter()
        .find(|(p, _, _)| *p == path)
        .map(|(_, kind, text)| (*kind, *text))
}

fn answer(kind: &'static str, text: &'static str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from_static(text.as_bytes())));
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    // A newer playground on the same port must not be given an older page.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    response
}

/// The page (`/`).
pub(crate) fn page() -> Response<Full<Bytes>> {
    answer("text/html; charset=utf-8", INDEX)
}

/// An asset that [`get`] knows.
pub(crate) fn asset(path: &str) -> Response<Full<Bytes>> {
    let (kind, text) = get(path).expect("asked only for a known asset");
    answer(kind, text)
}
