//! Hop-by-hop headers (RFC 9110 §7.6.1) and the `X-Forwarded-*` headers a proxy adds.
//!
//! Hop-by-hop headers describe one connection, not the message: a proxy that passed them on would
//! let a client steer the gateway's connection to the upstream (or the upstream the gateway's
//! connection to the client), e.g. `Connection: close, authorization` to strip a header the
//! upstream relies on being forwarded.

use std::io::Write as _;
use std::net::IpAddr;

use http::header::{self, HeaderMap, HeaderName, HeaderValue};

use crate::route::ForwardedMode;

/// The hop-by-hop headers removed in both directions, whether or not `Connection` names them.
pub const HOP_BY_HOP: [HeaderName; 9] = [
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    HeaderName::from_static("proxy-connection"),
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
    header::PROXY_AUTHENTICATE,
    header::PROXY_AUTHORIZATION,
];

/// Removes the hop-by-hop headers and every header named in `Connection` (RFC 9110 §7.6.1).
pub fn remove_hop_by_hop(headers: &mut HeaderMap) {
    // Collect first: the names live in the map being edited.
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .flat_map(|line| line.as_bytes().split(|b| *b == b','))
        .filter_map(|token| HeaderName::from_bytes(token.trim_ascii()).ok())
        .collect();
    for name in named {
        headers.remove(name);
    }
    for name in &HOP_BY_HOP {
        headers.remove(name);
    }
}

/// `X-Forwarded-Proto` / `-Host` / `-For`, de-facto standard names the upstream can read.
pub const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
pub const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
pub const X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");
const X_FORWARDED_PORT: HeaderName = HeaderName::from_static("x-forwarded-port");
const X_REAL_IP: HeaderName = HeaderName::from_static("x-real-ip");

/// Writes what the upstream is told about the client, by the route's [`ForwardedMode`]:
///
/// - `X-Forwarded-For` and `Forwarded` (RFC 7239): with `Append`, the client's address is
///   appended to what earlier proxies wrote (as one line, so upstreams that read only the first
///   line still see the whole chain); with `Replace`, only the client's address is written.
/// - `X-Forwarded-Proto` (`http` or `https`, how the client reached the gateway) and
///   `X-Forwarded-Host` (the `Host` the client addressed, `original_host`): always replaced,
///   never taken from the client; `X-Forwarded-Host` removed when the request had no host.
/// - With `Off`, all of these are removed and none written. With `Replace` and `Off`, the
///   client's `X-Forwarded-Port` and `X-Real-IP` claims are removed too.
pub fn add_forwarded(
    headers: &mut HeaderMap,
    mode: ForwardedMode,
    client: IpAddr,
    proto: &'static str,
    original_host: Option<HeaderValue>,
) {
    if mode != ForwardedMode::Append {
        for name in [
            &X_FORWARDED_FOR,
            &header::FORWARDED,
            &X_FORWARDED_PORT,
            &X_REAL_IP,
        ] {
            headers.remove(name);
        }
    }
    if mode == ForwardedMode::Off {
        headers.remove(X_FORWARDED_PROTO);
        headers.remove(X_FORWARDED_HOST);
        return;
    }
    // Formatted on the stack: this runs for every request.
    let mut ip = [0u8; 64];
    let ip = {
        let mut cursor = std::io::Cursor::new(&mut ip[..]);
        let _ = write!(cursor, "{client}");
        let len = cursor.position() as usize;
        &ip[..len]
    };
    append_to_chain(headers, &X_FORWARDED_FOR, ip);

    // RFC 7239 §6: an IPv6 address is bracketed and quoted; a host with a port is quoted.
    let host = original_host
        .as_ref()
        .map(HeaderValue::as_bytes)
        .filter(|h| !h.contains(&b'"') && !h.contains(&b'\\'));
    let mut element = Vec::with_capacity(48 + host.map_or(0, <[u8]>::len));
    element.extend_from_slice(b"for=");
    match client {
        IpAddr::V4(_) => element.extend_from_slice(ip),
        IpAddr::V6(_) => {
            element.extend_from_slice(b"\"[");
            element.extend_from_slice(ip);
            element.extend_from_slice(b"]\"");
        }
    }
    element.extend_from_slice(b";proto=");
    element.extend_from_slice(proto.as_bytes());
    if let Some(host) = host {
        element.extend_from_slice(b";host=\"");
        element.extend_from_slice(host);
        element.push(b'"');
    }
    append_to_chain(headers, &header::FORWARDED, &element);

    headers.insert(X_FORWARDED_PROTO, HeaderValue::from_static(proto));
    match original_host {
        Some(host) => {
            headers.insert(X_FORWARDED_HOST, host);
        }
        None => {
            headers.remove(X_FORWARDED_HOST);
        }
    }
}

/// Joins every line of `name` and `hop` with ", " into one line.
fn append_to_chain(headers: &mut HeaderMap, name: &HeaderName, hop: &[u8]) {
    let mut lines = headers.get_all(name).iter().peekable();
    if lines.peek().is_none() {
        // The common case: nothing to join.
        if let Ok(value) = HeaderValue::from_bytes(hop) {
            headers.insert(name, value);
        }
        return;
    }
    let mut chain: Vec<u8> = Vec::new();
    for line in lines {
        let line = line.as_bytes().trim_ascii();
        if line.is_empty() {
            continue;
        }
        chain.extend_from_slice(line);
        chain.extend_from_slice(b", ");
    }
    chain.extend_from_slice(hop);
    // Earlier lines were valid header values joined with ", ", and `hop` is plain ASCII.
    if let Ok(value) = HeaderValue::from_maybe_shared(bytes::Bytes::from(chain)) {
        headers.insert(name, value);
    } else if let Ok(value) = HeaderValue::from_bytes(hop) {
        headers.insert(name, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut m = HeaderMap::new();
        for (k, v) in pairs {
            m.append(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        m
    }

    #[test]
    fn removes_hop_by_hop_and_connection_named_headers() {
        let mut h = map(&[
            ("connection", "keep-alive, X-Secret ,x-other"),
            ("connection", "x-third"),
            ("keep-alive", "timeout=5"),
            ("proxy-connection", "keep-alive"),
            ("te", "trailers"),
            ("trailer", "x-sum"),
            ("transfer-encoding", "chunked"),
            ("upgrade", "websocket"),
            ("proxy-authenticate", "Basic"),
            ("proxy-authorization", "Basic eA=="),
            ("x-secret", "1"),
            ("x-other", "2"),
            ("x-third", "3"),
            ("x-kept", "4"),
            ("content-length", "5"),
        ]);
        remove_hop_by_hop(&mut h);
        let left: Vec<&str> = h.keys().map(HeaderName::as_str).collect();
        assert_eq!(left, ["x-kept", "content-length"]);
    }

    #[test]
    fn forwarded_headers_append_the_client_and_replace_claims() {
        let mut h = map(&[
            ("x-forwarded-for", "203.0.113.7"),
            ("x-forwarded-for", "198.51.100.1, 10.0.0.1"),
            ("x-forwarded-proto", "https"),
            ("x-forwarded-host", "claimed.example"),
        ]);
        add_forwarded(
            &mut h,
            ForwardedMode::Append,
            "::1".parse().unwrap(),
            "http",
            Some(HeaderValue::from_static("gw.example:8080")),
        );
        assert_eq!(
            h.get_all(X_FORWARDED_FOR).iter().collect::<Vec<_>>(),
            ["203.0.113.7, 198.51.100.1, 10.0.0.1, ::1"]
        );
        assert_eq!(h[X_FORWARDED_PROTO], "http");
        assert_eq!(h[X_FORWARDED_HOST], "gw.example:8080");

        assert_eq!(
            h[header::FORWARDED],
            "for=\"[::1]\";proto=http;host=\"gw.example:8080\""
        );

        let mut h = map(&[("x-forwarded-host", "claimed.example")]);
        add_forwarded(
            &mut h,
            ForwardedMode::Append,
            "127.0.0.1".parse().unwrap(),
            "https",
            None,
        );
        assert_eq!(h[X_FORWARDED_FOR], "127.0.0.1");
        assert_eq!(h[X_FORWARDED_PROTO], "https");
        assert_eq!(h[header::FORWARDED], "for=127.0.0.1;proto=https");
        assert!(!h.contains_key(X_FORWARDED_HOST));
    }

    #[test]
    fn replace_keeps_only_this_hop_and_off_sends_nothing() {
        let claims = [
            ("x-forwarded-for", "203.0.113.7"),
            ("forwarded", "for=203.0.113.7"),
            ("x-forwarded-proto", "https"),
            ("x-forwarded-host", "claimed.example"),
            ("x-forwarded-port", "443"),
            ("x-real-ip", "203.0.113.7"),
        ];
        let mut h = map(&claims);
        let host = Some(HeaderValue::from_static("gw"));
        add_forwarded(
            &mut h,
            ForwardedMode::Replace,
            "10.0.0.1".parse().unwrap(),
            "http",
            host.clone(),
        );
        assert_eq!(h[X_FORWARDED_FOR], "10.0.0.1");
        assert_eq!(h[header::FORWARDED], "for=10.0.0.1;proto=http;host=\"gw\"");
        assert_eq!(h[X_FORWARDED_HOST], "gw");
        assert!(!h.contains_key("x-forwarded-port") && !h.contains_key("x-real-ip"));

        let mut h = map(&claims);
        add_forwarded(
            &mut h,
            ForwardedMode::Off,
            "10.0.0.1".parse().unwrap(),
            "http",
            host,
        );
        assert!(h.is_empty(), "{h:?}");
    }
}
