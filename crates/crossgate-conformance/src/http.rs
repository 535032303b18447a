//! A raw HTTP/1.1 server and client on loopback, byte for byte: the scripted targets must send
//! exactly the header lines a scenario lists (repeated names, odd case, surrounding spaces), which
//! a framework would normalise. Every read and write has a bounded time.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio::time::timeout;

/// The longest request or response head accepted.
const MAX_HEAD: usize = 64 * 1024;
/// The longest body accepted.
const MAX_BODY: usize = 1024 * 1024;
/// How long a connection may stay idle, or take to send a request.
const IO_TIMEOUT: Duration = Duration::from_secs(30);

/// A request as received.
#[derive(Clone, Debug)]
pub struct RawRequest {
    pub method: String,
    /// The request target (path and query).
    pub target: String,
    /// Header lines in order, names as sent.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl RawRequest {
    /// The first value of `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The path without the query.
    pub fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or("")
    }
}

/// A response to write exactly: the status line, these header lines in order, the body. The
/// handler writes `Content-Length` itself where the status allows a body (see [`with_length`]).
#[derive(Clone, Debug, Default)]
pub struct RawResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// Whether a response with this status has no body (and so no `Content-Length`).
pub fn bodiless(status: u16) -> bool {
    (100..200).contains(&status) || status == 204 || status == 304
}

/// `headers` plus `Content-Length: len` where the status allows a body.
pub fn with_length(
    status: u16,
    mut headers: Vec<(String, String)>,
    len: usize,
) -> Vec<(String, String)> {
    if !bodiless(status) {
        headers.push(("Content-Length".to_owned(), len.to_string()));
    }
    headers
}

impl RawResponse {
    /// A response with `body` and its `Content-Type`, with a `Content-Length`.
    pub fn with_body(status: u16, content_type: &str, body: Vec<u8>) -> RawResponse {
        let headers = with_length(
            status,
            vec![("Content-Type".to_owned(), content_type.to_owned())],
            body.len(),
        );
        RawResponse {
            status,
            headers,
            body,
        }
    }

    fn write_to(&self, out: &mut Vec<u8>, head_only: bool) {
        out.extend_from_slice(
            format!("HTTP/1.1 {} {}\r\n", self.status, reason(self.status)).as_bytes(),
        );
        for (name, value) in &self.headers {
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(value.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"\r\n");
        if !head_only && !bodiless(self.status) {
            out.extend_from_slice(&self.body);
        }
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        404 => "Not Found",
        _ => "Status",
    }
}

/// What answers the requests of a [`serve`]d listener.
pub type Handler = Arc<dyn Fn(&RawRequest) -> RawResponse + Send + Sync>;

/// Binds `127.0.0.1:0`.
pub async fn bind() -> std::io::Result<(TcpListener, u16)> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    Ok((listener, port))
}

/// Serves `listener` with `handler` until the task is aborted: HTTP/1.1, keep-alive.
pub fn serve(listener: TcpListener, handler: Handler) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            };
            let handler = Arc::clone(&handler);
            tokio::spawn(async move {
                let _ = connection(stream, handler).await;
            });
        }
    })
}

async fn connection(mut stream: TcpStream, handler: Handler) -> std::io::Result<()> {
    stream.set_nodelay(true)?;
    let mut buffer: Vec<u8> = Vec::new();
    loop {
        let Some((head, rest)) = read_head(&mut stream, &mut buffer).await? else {
            return Ok(());
        };
        buffer = rest;
        let Some((start, headers)) = parse_head(&head) else {
            let mut out = Vec::new();
            RawResponse::with_body(400, "text/plain", b"bad request".to_vec())
                .write_to(&mut out, false);
            stream.write_all(&out).await?;
            return Ok(());
        };
        let mut parts = start.splitn(3, ' ');
        let method = parts.next().unwrap_or("").to_owned();
        let target = parts.next().unwrap_or("").to_owned();
        let length: usize = headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
            .and_then(|(_, v)| v.trim().parse().ok())
            .unwrap_or(0);
        if length > MAX_BODY {
            return Ok(());
        }
        while buffer.len() < length {
            let mut chunk = [0u8; 8192];
            let n = timeout(IO_TIMEOUT, stream.read(&mut chunk)).await??;
            if n == 0 {
                return Ok(());
            }
            buffer.extend_from_slice(&chunk[..n]);
        }
        let body: Vec<u8> = buffer.drain(..length).collect();
        let request = RawRequest {
            method,
            target,
            headers,
            body,
        };
        let response = handler(&request);
        let mut out = Vec::new();
        response.write_to(&mut out, request.method == "HEAD");
        timeout(IO_TIMEOUT, stream.write_all(&out)).await??;
    }
}

/// Reads up to the end of a head (`\r\n\r\n`); `None` when the peer closed between requests.
async fn read_head(
    stream: &mut TcpStream,
    buffer: &mut Vec<u8>,
) -> std::io::Result<Option<(Vec<u8>, Vec<u8>)>> {
    loop {
        if let Some(end) = find(buffer, b"\r\n\r\n") {
            let rest = buffer.split_off(end + 4);
            let head = std::mem::take(buffer);
            return Ok(Some((head, rest)));
        }
        if buffer.len() > MAX_HEAD {
            return Err(std::io::Error::other("head too large"));
        }
        let mut chunk = [0u8; 8192];
        let n = match timeout(IO_TIMEOUT, stream.read(&mut chunk)).await {
            Ok(r) => r?,
            Err(_) => return Ok(None),
        };
        if n == 0 {
            return Ok(None);
        }
        buffer.extend_from_slice(&chunk[..n]);
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The start line and the header lines of a head.
fn parse_head(head: &[u8]) -> Option<(String, Vec<(String, String)>)> {
    let text = String::from_utf8_lossy(head);
    let mut lines = text.split("\r\n");
    let start = lines.next()?.to_owned();
    let mut headers = Vec::new();
    for line in lines {
        if line.is_empty() {
            continue;
        }
        let (name, value) = line.split_once(':')?;
        headers.push((name.to_owned(), value.trim_matches([' ', '\t']).to_owned()));
    }
    Some((start, headers))
}

/// A response as a client received it.
#[derive(Clone, Debug)]
pub struct Received {
    pub status: u16,
    pub headers: Vec<(String, String)>,
}

/// Sends one request over a fresh connection and reads the response head (a persistent
/// connection, as a browser's, so that the server adds no `Connection: close`), then closes it.
/// Bounded by `limit`.
pub async fn request(
    addr: SocketAddr,
    method: &str,
    target: &str,
    headers: &[(String, String)],
    limit: Duration,
) -> std::io::Result<Received> {
    let exchange = async {
        let mut stream = TcpStream::connect(addr).await?;
        let mut out = format!("{method} {target} HTTP/1.1\r\nHost: {addr}\r\n");
        for (n, v) in headers {
            out.push_str(&format!("{n}: {v}\r\n"));
        }
        if matches!(method, "POST" | "PUT" | "PATCH") {
            out.push_str("Content-Length: 0\r\n");
        }
        out.push_str("\r\n");
        stream.write_all(out.as_bytes()).await?;
        let mut buffer = Vec::new();
        let (head, _) = read_head(&mut stream, &mut buffer)
            .await?
            .ok_or_else(|| std::io::Error::other("connection closed before a response"))?;
        let (start, headers) =
            parse_head(&head).ok_or_else(|| std::io::Error::other("malformed response head"))?;
        let status = start
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| std::io::Error::other(format!("bad status line {start:?}")))?;
        Ok(Received { status, headers })
    };
    timeout(limit, exchange)
        .await
        .map_err(|_| std::io::Error::other(format!("no response within {limit:?}")))?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn exact_header_lines_round_trip() {
        let (listener, port) = bind().await.unwrap();
        let handler: Handler = Arc::new(|r: &RawRequest| RawResponse {
            status: 200,
            headers: with_length(
                200,
                vec![
                    ("access-control-allow-origin".to_owned(), "a".to_owned()),
                    ("Access-Control-Allow-Origin".to_owned(), "b".to_owned()),
                    ("X-Method".to_owned(), r.method.clone()),
                ],
                0,
            ),
            body: Vec::new(),
        });
        let task = serve(listener, handler);
        let addr: SocketAddr = ([127, 0, 0, 1], port).into();
        let got = request(addr, "PUT", "/x", &[], Duration::from_secs(5))
            .await
            .unwrap();
        task.abort();
        assert_eq!(got.status, 200);
        assert_eq!(
            got.headers,
            [
                ("access-control-allow-origin".to_owned(), "a".to_owned()),
                ("Access-Control-Allow-Origin".to_owned(), "b".to_owned()),
                ("X-Method".to_owned(), "PUT".to_owned()),
                ("Content-Length".to_owned(), "0".to_owned()),
            ]
        );
    }

    #[test]
    fn heads_parse_with_their_whitespace_trimmed() {
        let (start, headers) = parse_head(b"GET / HTTP/1.1\r\nA:  x \r\nB:\ty\r\n\r\n").unwrap();
        assert_eq!(start, "GET / HTTP/1.1");
        assert_eq!(
            headers,
            [
                ("A".to_owned(), "x".to_owned()),
                ("B".to_owned(), "y".to_owned())
            ]
        );
        assert!(parse_head(b"GET / HTTP/1.1\r\nno colon\r\n\r\n").is_none());
    }
}
