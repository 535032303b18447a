//! Finding HTTP/1 requests that carry both `Content-Length` and `Transfer-Encoding`.
//!
//! RFC 9112 §6.1: such a message is a request-smuggling attempt as often as not, and a server
//! ought to refuse it and close the connection. hyper decodes it as chunked, closes the connection
//! after answering, and *removes `Content-Length` from the header map*, so the service cannot
//! tell it from an ordinary chunked request. The gateway must refuse it, never forward it, so it
//! watches the bytes itself: [`Scanned`] wraps the client's socket and a [`HeadScanner`] follows
//! the HTTP/1 framing of what the client sends (heads, fixed-length and chunked bodies), noting
//! the index of the first head that had both fields. The server then refuses the request with
//! that index when hyper hands it over (hyper processes heads in order).
//!
//! The scanner is only a detector. Where it meets something it does not follow (the HTTP/2
//! preface, a line past its buffer, a malformed length that hyper will refuse anyway) it stops,
//! and the connection falls back to hyper's own handling: the body re-framed, the connection
//! closed after the response.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// The longest line kept; longer lines keep their start (enough for a header name). A
/// `Content-Length` or chunk-size line longer than this stops the scanner.
const MAX_LINE: usize = 8 * 1024;

const NONE: u64 = u64::MAX;

/// The index (0-based, in order of arrival) of the first request head on a connection that had
/// both `Content-Length` and `Transfer-Encoding`; shared by the socket and the service.
#[derive(Clone, Debug, Default)]
pub(crate) struct Flagged(Arc<FlaggedInner>);

#[derive(Debug)]
struct FlaggedInner(AtomicU64);

impl Default for FlaggedInner {
    fn default() -> Self {
        FlaggedInner(AtomicU64::new(NONE))
    }
}

impl Flagged {
    fn set_once(&self, index: u64) {
        let _ = self
            .0
            .0
            .compare_exchange(NONE, index, Ordering::Release, Ordering::Relaxed);
    }

    /// Whether the request head with this index, or one before it, carried both fields.
    pub(crate) fn covers(&self, index: u64) -> bool {
        index >= self.0.0.load(Ordering::Acquire)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Before a request line: empty lines are skipped (RFC 9112 §2.2, as hyper's parser does).
    Start,
    RequestLine,
    HeaderLine,
    Body {
        remaining: u64,
    },
    ChunkSize,
    ChunkData {
        remaining: u64,
    },
    /// The line break after a chunk's data.
    ChunkDataEnd,
    Trailers,
    /// Not following any more (HTTP/2, or something hyper refuses).
    Off,
}

/// What a head said about its body.
#[derive(Debug, Default)]
struct Head {
    content_length: bool,
    length: Option<u64>,
    length_invalid: bool,
    transfer_encoding: bool,
}

/// Follows the framing of the bytes a client sends on an HTTP/1 connection.
#[derive(Debug)]
pub(crate) struct HeadScanner {
    state: State,
    line: Vec<u8>,
    line_truncated: bool,
    head: Head,
    heads: u64,
    flagged: Flagged,
}

impl HeadScanner {
    pub(crate) fn new(flagged: Flagged) -> HeadScanner {
        HeadScanner {
            state: State::Start,
            line: Vec::new(),
            line_truncated: false,
            head: Head::default(),
            heads: 0,
            flagged,
        }
    }

    /// Follows `bytes`, the next bytes the client sent.
    pub(crate) fn feed(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            match self.state {
                State::Off => return,
                State::Body { remaining } => {
                    let n = remaining.min(bytes.len() as u64);
                    bytes = &bytes[n as usize..];
                    self.state = match remaining - n {
                        0 => State::Start,
                        remaining => State::Body { remaining },
                    };
                }
                State::ChunkData { remaining } => {
                    let n = remaining.min(bytes.len() as u64);
                    bytes = &bytes[n as usize..];
                    self.state = match remaining - n {
                        0 => State::ChunkDataEnd,
                        remaining => State::ChunkData { remaining },
                    };
                }
                State::Start => {
                    if bytes[0] == b'\r' || bytes[0] == b'\n' {
                        bytes = &bytes[1..];
                    } else {
                        self.state = State::RequestLine;
                    }
                }
                _ => match memchr::memchr(b'\n', bytes) {
                    // The whole line arrived in this read (the usual case): read in place.
                    Some(end) if self.line.is_empty() && end <= MAX_LINE => {
                        self.line_done(&bytes[..end]);
                        bytes = &bytes[end + 1..];
                    }
                    Some(end) => {
                        self.keep(&bytes[..end]);
                        bytes = &bytes[end + 1..];
                        let kept = std::mem::take(&mut self.line);
                        self.line_done(&kept);
                        self.line = kept;
                        self.line.clear();
                    }
                    None => {
                        self.keep(bytes);
                        bytes = &[];
                    }
                },
            }
        }
    }

    fn keep(&mut self, part: &[u8]) {
        let room = MAX_LINE - self.line.len();
        if part.len() > room {
            self.line_truncated = true;
        }
        self.line.extend_from_slice(&part[..part.len().min(room)]);
    }

    /// Acts on a complete line (without its `\n`): the kept one, or one read in place.
    fn line_done(&mut self, line: &[u8]) {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        self.state = match self.state {
            State::RequestLine if line == b"PRI * HTTP/2.0" => State::Off,
            State::RequestLine => {
                self.head = Head::default();
                State::HeaderLine
            }
            State::HeaderLine if line.is_empty() => self.head_done(),
            State::HeaderLine => {
                self.header(line);
                State::HeaderLine
            }
            State::ChunkSize if self.line_truncated => State::Off,
            State::ChunkSize => match chunk_size(line) {
                Some(0) => State::Trailers,
                Some(remaining) => State::ChunkData { remaining },
                None => State::Off,
            },
            State::ChunkDataEnd if line.is_empty() => State::ChunkSize,
            State::Trailers if line.is_empty() => State::Start,
            State::Trailers => State::Trailers,
            _ => State::Off,
        };
        self.line_truncated = false;
    }

    fn header(&mut self, line: &[u8]) {
        let Some(colon) = memchr::memchr(b':', line) else {
            return;
        };
        let (name, value) = (&line[..colon], line[colon + 1..].trim_ascii());
        if name.eq_ignore_ascii_case(b"transfer-encoding") {
            self.head.transfer_encoding = true;
        } else if name.eq_ignore_ascii_case(b"content-length") {
            self.head.content_length = true;
            match (decimal(value), self.head.length) {
                _ if self.line_truncated => self.head.length_invalid = true,
                (Some(n), None) => self.head.length = Some(n),
                (Some(n), Some(m)) if n == m => {}
                _ => self.head.length_invalid = true,
            }
        }
    }

    fn head_done(&mut self) -> State {
        let index = self.heads;
        self.heads += 1;
        let head = std::mem::take(&mut self.head);
        if head.transfer_encoding && head.content_length {
            self.flagged.set_once(index);
        }
        // RFC 9112 §6.3: Transfer-Encoding wins over Content-Length; hyper decodes it as chunked.
        if head.transfer_encoding {
            State::ChunkSize
        } else if head.length_invalid {
            State::Off
        } else {
            match head.length {
                Some(remaining) if remaining > 0 => State::Body { remaining },
                _ => State::Start,
            }
        }
    }
}

fn decimal(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() {
        return None;
    }
    digits.iter().try_fold(0u64, |n, d| {
        if d.is_ascii_digit() {
            n.checked_mul(10)?.checked_add(u64::from(d - b'0'))
        } else {
            None
        }
    })
}

/// The size at the start of a chunk-size line (hex digits; extensions after `;` are ignored).
fn chunk_size(line: &[u8]) -> Option<u64> {
    let digits = line.iter().take_while(|b| b.is_ascii_hexdigit()).count();
    if digits == 0 {
        return None;
    }
    line[..digits].iter().try_fold(0u64, |n, d| {
        let v = (*d as char).to_digit(16)?;
        n.checked_mul(16)?.checked_add(u64::from(v))
    })
}

/// A client socket whose incoming bytes pass through a [`HeadScanner`] before hyper reads them.
#[derive(Debug)]
pub(crate) struct Scanned<S> {
    inner: S,
    scanner: HeadScanner,
}

impl<S> Scanned<S> {
    pub(crate) fn new(inner: S, flagged: Flagged) -> Scanned<S> {
        Scanned {
            inner,
            scanner: HeadScanner::new(flagged),
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Scanned<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let result = Pin::new(&mut this.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = result {
            this.scanner.feed(&buf.filled()[before..]);
        }
        result
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Scanned<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `input` in pieces of `split` bytes; returns the flagged index, if any.
    fn scan(input: &[u8], split: usize) -> (Option<u64>, u64, State) {
        let flagged = Flagged::default();
        let mut scanner = HeadScanner::new(flagged.clone());
        for piece in input.chunks(split) {
            scanner.feed(piece);
        }
        let first = (0..scanner.heads).find(|i| flagged.covers(*i));
        (first, scanner.heads, scanner.state)
    }

    fn every_split(input: &[u8]) -> (Option<u64>, u64, State) {
        let whole = scan(input, input.len().max(1));
        for split in 1..input.len().min(40) {
            assert_eq!(scan(input, split), whole, "split {split}");
        }
        whole
    }

    #[test]
    fn follows_heads_and_bodies() {
        let input = b"\r\nPOST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 26\r\n\r\n\
                      GET /b HTTP/1.1\r\n\r\n.......\
                      POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n\
                      5;ext=1\r\nConte\r\n0\r\nX-Trailer: 1\r\n\r\n\
                      GET /d HTTP/1.1\nhost: y\n\n";
        // The body of /a looks like a head with no length; it must not count as one.
        let (flagged, heads, state) = every_split(input);
        assert_eq!(flagged, None);
        assert_eq!(heads, 3);
        assert_eq!(state, State::Start);
    }

    #[test]
    fn flags_the_head_with_both_fields() {
        for head in [
            &b"POST /x HTTP/1.1\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n"[..],
            b"POST /x HTTP/1.1\r\ntransfer-encoding: chunked\r\ncontent-length: 4\r\n\r\n",
            b"POST /x HTTP/1.1\r\nCONTENT-LENGTH:4\r\nTRANSFER-ENCODING:chunked\r\n\r\n",
        ] {
            let mut input = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n".to_vec();
            input.extend_from_slice(head);
            input.extend_from_slice(b"0\r\n\r\nGET /smuggled HTTP/1.1\r\n\r\n");
            let (flagged, heads, _) = every_split(&input);
            assert_eq!(flagged, Some(1), "{}", String::from_utf8_lossy(head));
            assert_eq!(heads, 3);
        }
    }

    #[test]
    fn body_bytes_never_count_as_headers() {
        let body = b"GET / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n";
        let mut input =
            format!("POST /x HTTP/1.1\r\nContent-Length: {}\r\n\r\n", body.len()).into_bytes();
        input.extend_from_slice(body);
        let (flagged, heads, state) = every_split(&input);
        assert_eq!((flagged, heads, state), (None, 1, State::Start));
    }

    #[test]
    fn stops_where_it_cannot_follow() {
        let (_, heads, state) = scan(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 100);
        assert_eq!((heads, state), (0, State::Off));
        let (_, _, state) = scan(b"POST / HTTP/1.1\r\nContent-Length: 1x\r\n\r\n", 100);
        assert_eq!(state, State::Off);
        let (_, _, state) = scan(
            b"POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
            100,
        );
        assert_eq!(state, State::Off);
        let (_, _, state) = scan(
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            100,
        );
        assert_eq!(state, State::Off);
        let mut long = b"POST / HTTP/1.1\r\nContent-Length: ".to_vec();
        long.extend(std::iter::repeat_n(b'0', MAX_LINE));
        long.extend_from_slice(b"1\r\n\r\n");
        let (_, _, state) = scan(&long, 1000);
        assert_eq!(state, State::Off);
        // A long header that is not a length is fine.
        let mut long = b"GET / HTTP/1.1\r\nX-Long: ".to_vec();
        long.extend(std::iter::repeat_n(b'a', 3 * MAX_LINE));
        long.extend_from_slice(b"\r\n\r\n");
        assert_eq!(scan(&long, 1000).1, 1);
    }

    #[test]
    fn parses_numbers_strictly() {
        assert_eq!(decimal(b"0012"), Some(12));
        assert_eq!(decimal(b""), None);
        assert_eq!(decimal(b"+1"), None);
        assert_eq!(decimal(b"99999999999999999999999"), None);
        assert_eq!(chunk_size(b"1aF;x=y"), Some(0x1af));
        assert_eq!(chunk_size(b"0"), Some(0));
        assert_eq!(chunk_size(b";x"), None);
        assert_eq!(chunk_size(b"fffffffffffffffff"), None);
    }
}
