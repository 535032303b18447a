//! Methods (Fetch §2.2.1).

use std::borrow::Cow;

/// Fetch §2.2.1 "CORS-safelisted method": `GET`, `HEAD` or `POST`, compared case-sensitively.
/// A browser never asks a preflight for these, so a policy always allows them.
#[inline]
pub fn is_cors_safelisted(method: &[u8]) -> bool {
    matches!(method, b"GET" | b"HEAD" | b"POST")
}

/// Fetch §2.2.1 "forbidden method": `CONNECT`, `TRACE`, `TRACK`, byte-case-insensitively.
/// Script can never send them, so allowing them in a policy is meaningless.
pub fn is_forbidden(method: &[u8]) -> bool {
    [&b"CONNECT"[..], b"TRACE", b"TRACK"]
        .iter()
        .any(|m| m.eq_ignore_ascii_case(method))
}

/// Fetch §2.2.1 "normalize": `DELETE`, `GET`, `HEAD`, `OPTIONS`, `POST` and `PUT` are
/// byte-uppercased; every other method is kept exactly as written (`patch` stays `patch`).
pub fn normalize(method: &[u8]) -> Cow<'_, [u8]> {
    const NORMALIZED: [&[u8]; 6] = [b"DELETE", b"GET", b"HEAD", b"OPTIONS", b"POST", b"PUT"];
    match NORMALIZED.iter().find(|m| m.eq_ignore_ascii_case(method)) {
        Some(m) if *m != method => Cow::Borrowed(m),
        _ => Cow::Borrowed(method),
    }
}

/// The upper-case spelling when `method` is another spelling of `PATCH`, `CONNECT` or `QUERY`
/// (`patch` gives `Some("PATCH")`; `PATCH` gives `None`): methods users usually mean in upper
/// case, which [`normalize`] leaves as written, so that they compare case-sensitively.
pub fn is_lowercase_variant_of_common_method(method: &[u8]) -> Option<&'static str> {
    const COMMON: [&str; 3] = ["PATCH", "CONNECT", "QUERY"];
    COMMON
        .iter()
        .find(|m| m.as_bytes().eq_ignore_ascii_case(method) && m.as_bytes() != method)
        .copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalization_uppercases_only_the_six() {
        assert_eq!(&*normalize(b"delete"), b"DELETE");
        assert_eq!(&*normalize(b"Options"), b"OPTIONS");
        assert_eq!(&*normalize(b"patch"), b"patch");
        assert_eq!(&*normalize(b"PATCH"), b"PATCH");
        assert_eq!(&*normalize(b"purge"), b"purge");
    }

    #[test]
    fn safelisted_is_case_sensitive_and_forbidden_is_not() {
        assert!(is_cors_safelisted(b"GET"));
        assert!(!is_cors_safelisted(b"get"));
        assert!(is_forbidden(b"trace"));
        assert!(is_forbidden(b"Track"));
        assert!(!is_forbidden(b"PATCH"));
        assert_eq!(
            is_lowercase_variant_of_common_method(b"patch"),
            Some("PATCH")
        );
        assert_eq!(is_lowercase_variant_of_common_method(b"PATCH"), None);
    }
}
