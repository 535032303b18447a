//! The Fetch standard's vocabulary, shared by the policy (server) and agent (browser) halves.
//!
//! Everything here works on bytes, as the standard does: header names compare
//! byte-case-insensitively, methods and most values case-sensitively.

pub mod header;
pub mod list;
pub mod method;
pub mod mime;
pub mod range;

/// Fetch §2.2.3: an ok status is in the range 200 to 299, inclusive.
#[inline]
pub const fn is_ok_status(status: u16) -> bool {
    status >= 200 && status <= 299
}

/// RFC 9110 §5.6.2 `tchar`: the bytes of a `token` (method names, header names).
#[inline]
pub const fn is_tchar(b: u8) -> bool {
    matches!(b,
        b'!' | b'#' | b'$' | b'%' | b'&' | b'\'' | b'*' | b'+' | b'-' | b'.' | b'^' | b'_' | b'`'
        | b'|' | b'~' | b'0'..=b'9' | b'a'..=b'z' | b'A'..=b'Z')
}

/// RFC 9110 §5.6.2 `token = 1*tchar`.
#[inline]
pub fn is_token(bytes: &[u8]) -> bool {
    !bytes.is_empty() && bytes.iter().all(|&b| is_tchar(b))
}

/// Fetch §2.2 "HTTP tab or space byte" (RFC 9110 `OWS` is made of these).
#[inline]
pub const fn is_http_tab_or_space(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// Fetch §2.2 "HTTP whitespace byte".
#[inline]
pub const fn is_http_whitespace(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}
