//! Header-name rules (Fetch §2.2.2). Every comparison here is byte-case-insensitive, as header
//! names are.

/// Fetch §2.2.2 "forbidden request-header" (the name part): headers a user agent controls and
/// script can never set, so a browser never lists them in `Access-Control-Request-Headers`.
pub fn is_forbidden_request_header_name(name: &[u8]) -> bool {
    const NAMES: [&[u8]; 21] = [
        b"accept-charset",
        b"accept-encoding",
        b"access-control-request-headers",
        b"access-control-request-method",
        b"connection",
        b"content-length",
        b"cookie",
        b"cookie2",
        b"date",
        b"dnt",
        b"expect",
        b"host",
        b"keep-alive",
        b"origin",
        b"referer",
        b"set-cookie",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
        b"via",
    ];
    NAMES.iter().any(|n| n.eq_ignore_ascii_case(name))
        || starts_with_ignore_case(name, b"proxy-")
        || starts_with_ignore_case(name, b"sec-")
}

/// Fetch §2.2.2 "forbidden response-header name": `Set-Cookie` and `Set-Cookie2` are never
/// readable by script, whatever `Access-Control-Expose-Headers` says.
pub fn is_forbidden_response_header_name(name: &[u8]) -> bool {
    name.eq_ignore_ascii_case(b"set-cookie") || name.eq_ignore_ascii_case(b"set-cookie2")
}

/// Fetch §2.2.2 "CORS-safelisted response-header name" without an exposed list: always readable.
pub fn is_cors_safelisted_response_header_name(name: &[u8]) -> bool {
    const NAMES: [&[u8]; 7] = [
        b"cache-control",
        b"content-language",
        b"content-length",
        b"content-type",
        b"expires",
        b"last-modified",
        b"pragma",
    ];
    NAMES.iter().any(|n| n.eq_ignore_ascii_case(name))
}

/// Fetch §2.2.2 "CORS non-wildcard request-header name": `Authorization`. A `*` in
/// `Access-Control-Allow-Headers` never covers it.
pub fn is_cors_non_wildcard_request_header_name(name: &[u8]) -> bool {
    name.eq_ignore_ascii_case(b"authorization")
}

/// Fetch §2.2.2 "no-CORS-safelisted request-header name" (also the names that can be
/// CORS-safelisted request headers, apart from `Range`).
pub fn is_no_cors_safelisted_request_header_name(name: &[u8]) -> bool {
    const NAMES: [&[u8]; 4] = [
        b"accept",
        b"accept-language",
        b"content-language",
        b"content-type",
    ];
    NAMES.iter().any(|n| n.eq_ignore_ascii_case(name))
}

/// The CORS protocol's own response headers (Fetch §3.3.3). They belong in responses only: a
/// request never carries them, and script cannot usefully read them.
pub fn is_cors_response_header_name(name: &[u8]) -> bool {
    const NAMES: [&[u8]; 7] = [
        b"access-control-allow-origin",
        b"access-control-allow-credentials",
        b"access-control-allow-methods",
        b"access-control-allow-headers",
        b"access-control-max-age",
        b"access-control-expose-headers",
        b"access-control-allow-private-network",
    ];
    NAMES.iter().any(|n| n.eq_ignore_ascii_case(name))
}

/// Request headers that only a preflight carries (Fetch §3.3.2, plus the legacy Private
/// Network Access one).
pub fn is_cors_request_header_name(name: &[u8]) -> bool {
    const NAMES: [&[u8]; 4] = [
        b"origin",
        b"access-control-request-method",
        b"access-control-request-headers",
        b"access-control-request-private-network",
    ];
    NAMES.iter().any(|n| n.eq_ignore_ascii_case(name))
}

/// Fetch §2.2.2 "forbidden request-header" for a (name, value) pair: the forbidden names, plus
/// the method-override headers when any method they name is forbidden.
pub fn is_forbidden_request_header(name: &[u8], value: &[u8]) -> bool {
    if is_forbidden_request_header_name(name) {
        return true;
    }
    let overrides = [
        &b"x-http-method"[..],
        b"x-http-method-override",
        b"x-method-override",
    ];
    overrides.iter().any(|n| n.eq_ignore_ascii_case(name))
        && super::list::RawElements::new(value)
            .any(|m| super::method::is_forbidden(super::list::trim_ows(m).value))
}

/// Fetch §2.2.2 "CORS-unsafe request-header byte": a control byte other than tab, or one of
/// `"():<>?@[\]{}` and DEL.
pub const fn is_cors_unsafe_request_header_byte(b: u8) -> bool {
    (b < 0x20 && b != 0x09)
        || matches!(
            b,
            b'"' | b'('
                | b')'
                | b':'
                | b'<'
                | b'>'
                | b'?'
                | b'@'
                | b'['
                | b'\\'
                | b']'
                | b'{'
                | b'}'
                | 0x7F
        )
}

/// Fetch §2.2.2 "CORS-safelisted request-header": whether script may send (name, value) without
/// a preflight. Judged on one header at a time; the 1024-byte total is the caller's
/// (see `agent::classify`).
pub fn is_cors_safelisted_request_header(name: &[u8], value: &[u8]) -> bool {
    // Step 1: no value longer than 128 bytes.
    if value.len() > 128 {
        return false;
    }
    let lower = |n: &str| name.eq_ignore_ascii_case(n.as_bytes());
    if lower("accept") {
        !value.iter().any(|&b| is_cors_unsafe_request_header_byte(b))
    } else if lower("accept-language") || lower("content-language") {
        value.iter().all(|&b| {
            b.is_ascii_alphanumeric() || matches!(b, b' ' | b'*' | b',' | b'-' | b'.' | b';' | b'=')
        })
    } else if lower("content-type") {
        if value.iter().any(|&b| is_cors_unsafe_request_header_byte(b)) {
            return false;
        }
        super::mime::parse_mime_type(value).is_some_and(|m| {
            matches!(
                (m.type_.as_str(), m.subtype.as_str()),
                ("application", "x-www-form-urlencoded")
                    | ("multipart", "form-data")
                    | ("text", "plain")
            )
        })
    } else if lower("range") {
        // A single range with a start: suffix ranges (`bytes=-500`) are not safelisted.
        super::range::parse_single_range(value, false).is_some_and(|r| r.start.is_some())
    } else {
        false
    }
}

/// Fetch §2.2.2 "privileged no-CORS request-header name": `Range`.
pub fn is_privileged_no_cors_request_header_name(name: &[u8]) -> bool {
    name.eq_ignore_ascii_case(b"range")
}

fn starts_with_ignore_case(name: &[u8], prefix: &[u8]) -> bool {
    name.len() >= prefix.len() && name[..prefix.len()].eq_ignore_ascii_case(prefix)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forbidden_request_names() {
        for n in [
            "Cookie",
            "HOST",
            "sec-fetch-mode",
            "Proxy-Authorization",
            "origin",
            "dnt",
        ] {
            assert!(is_forbidden_request_header_name(n.as_bytes()), "{n}");
        }
        for n in ["authorization", "x-sec", "content-type", "secure"] {
            assert!(!is_forbidden_request_header_name(n.as_bytes()), "{n}");
        }
    }

    #[test]
    fn method_override_headers_are_forbidden_with_a_forbidden_method() {
        assert!(is_forbidden_request_header(
            b"X-HTTP-Method-Override",
            b"GET, trace"
        ));
        assert!(!is_forbidden_request_header(
            b"X-HTTP-Method-Override",
            b"PATCH"
        ));
        assert!(is_forbidden_request_header(b"Cookie", b"a=b"));
    }

    #[test]
    fn safelisted_request_headers() {
        let ok = |n: &str, v: &[u8]| is_cors_safelisted_request_header(n.as_bytes(), v);
        assert!(ok("Accept", b"unicorn"));
        assert!(ok("accept", b"*/*"));
        assert!(!ok("accept", b"a\"b"));
        assert!(!ok("accept", &[b'a'; 129]));
        assert!(ok("accept", &[b'a'; 128]));
        assert!(ok("Accept-Language", b"en-US,en;q=0.5"));
        assert!(!ok("accept-language", b"@"));
        assert!(ok("content-type", b"text/plain;charset=UTF-8"));
        assert!(ok("content-type", b"multipart/form-data; boundary=x"));
        assert!(!ok("content-type", b"application/json"));
        assert!(!ok("content-type", b"text/plain\x0C"));
        assert!(!ok("content-type", b"text /plain"));
        assert!(ok("range", b"bytes=200-"));
        assert!(!ok("range", b"bytes=-200"));
        assert!(!ok("range", b"bytes 0-"));
        assert!(!ok("authorization", b"basics"));
        assert!(!ok("x-test", b"1"));
    }

    #[test]
    fn response_names() {
        assert!(is_forbidden_response_header_name(b"Set-Cookie"));
        assert!(is_cors_safelisted_response_header_name(b"Content-Length"));
        assert!(!is_cors_safelisted_response_header_name(b"x-request-id"));
        assert!(is_cors_non_wildcard_request_header_name(b"AUTHORIZATION"));
        assert!(is_cors_response_header_name(b"Access-Control-Max-Age"));
        assert!(is_cors_request_header_name(
            b"access-control-request-private-network"
        ));
    }
}
