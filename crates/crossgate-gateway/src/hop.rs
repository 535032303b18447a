//! Hop-by-hop headers (RFC 9110 §7.6.1) and the `X-Forwarded-*` headers a proxy adds.
//!
//! Hop-by-hop headers describe one connection, not the message: a proxy that passed them on would
//! let a client steer the gateway's connection to the upstream (or the upstream the gateway's
//! connection to the client), e.g. `Connection: close, authorization` to strip a header the
//! upstream relies on being forwarded.

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
///
/// This runs twice per proxied request, and nearly every message has none of these headers:
/// one pass over the names present decides, and only a message that has one is edited (a
/// `remove` per absent name costs a hash and a probe each).
pub(crate) fn remove_hop_by_hop(headers: &mut HeaderMap) {
    if !headers.keys().any(is_hop_by_hop) {
        return;
    }
    // Collect first: the names live in the map being edited.
    let mut doomed: Vec<HeaderName> = headers
        .keys()
        .filter(|n| is_hop_by_hop(n))
        .cloned()
        .collect();
    doomed.extend(
        headers
            .get_all(header::CONNECTION)
            .iter()
            .flat_map(|line| line.as_bytes().split(|b| *b == b','))
            .filter_map(|token| HeaderName::from_bytes(token.trim_ascii()).ok()),
    );
    for name in doomed {
        headers.remove(name);
    }
}

/// Whether `name` is one of [`HOP_BY_HOP`]: one match on the lower-case name (dispatched on its
/// length) instead of nine comparisons.
fn is_hop_by_hop(name: &HeaderName) -> bool {
    matches!(
        name.as_str(),
        "connection"
            | "keep-alive"
            | "proxy-connection"
            | "te"
            | "trailer"
            | "transfer-encoding"
            | "upgrade"
            | "proxy-authenticate"
            | "proxy-authorization"
    )
}

/// `X-Forwarded-Proto` / `-Host` / `-For`, de-facto standard names the upstream can read.
pub(crate) const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
pub(crate) const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
pub(crate) const X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");
const X_FORWARDED_PORT: HeaderName = HeaderName::from_static("x-forwarded-port");
const X_REAL_IP: HeaderName = HeaderName::from_static("x-real-ip");

/// The client of one connection as this hop reports it, formatted once per connection rather
/// than once per request.
#[derive(Clone, Debug)]
pub(crate) struct ClientHop {
    /// The client's address, as `X-Forwarded-For` lists it.
    address: HeaderValue,
    /// `for=ADDRESS;proto=PROTO`: this hop's `Forwarded` element before its `host`.
    element: HeaderValue,
    /// `http` or `https`: how the client reached the gateway.
    proto: &'static str,
}

impl ClientHop {
    pub(crate) fn new(client: IpAddr, proto: &'static str) -> ClientHop {
        let address = client.to_string();
        // RFC 7239 §6: an IPv6 address is bracketed and quoted.
        let element = match client {
            IpAddr::V4(_) => format!("for={address};proto={proto}"),
            IpAddr::V6(_) => format!("for=\"[{address}]\";proto={proto}"),
        };
        ClientHop {
            address: HeaderValue::from_maybe_shared(bytes::Bytes::from(address))
                .expect("an IP address is a valid header value"),
            element: HeaderValue::from_maybe_shared(bytes::Bytes::from(element))
                .expect("a Forwarded element of an address and a scheme is a valid header value"),
            proto,
        }
    }
}

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
pub(crate) fn add_forwarded(
    headers: &mut HeaderMap,
    mode: ForwardedMode,
    client: &ClientHop,
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
    // Four headers are added: one reservation instead of growing the map along the way.
    headers.reserve(4);
    append_to_chain(headers, &X_FORWARDED_FOR, &client.address);

    // RFC 7239 §6: a host with a port is quoted (and one that would need escaping is left out).
    let host = original_host
        .as_ref()
        .map(HeaderValue::as_bytes)
        .filter(|h| !h.contains(&b'"') && !h.contains(&b'\\'));
    match host {
        None => append_to_chain(headers, &header::FORWARDED, &client.element),
        Some(host) => {
            let mut element = Vec::with_capacity(client.element.len() + host.len() + 8);
            element.extend_from_slice(client.element.as_bytes());
            element.extend_from_slice(b";host=\"");
            element.extend_from_slice(host);
            element.push(b'"');
            // Joined from a valid value and a host without quotes or backslashes.
            if let Ok(element) = HeaderValue::from_maybe_shared(bytes::Bytes::from(element)) {
                append_to_chain(headers, &header::FORWARDED, &element);
            }
        }
    }

    headers.insert(X_FORWARDED_PROTO, HeaderValue::from_static(client.proto));
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
fn append_to_chain(headers: &mut HeaderMap, name: &HeaderName, hop: &HeaderValue) {
    let mut lines = headers.get_all(name).iter().peekable();
    if lines.peek().is_none() {
        // The common case: nothing to join, and the value is shared, not copied.
        headers.insert(name, hop.clone());
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
    chain.extend_from_slice(hop.as_bytes());
    // Earlier lines were valid header values joined with ", ", and `hop` is one too.
    let value = HeaderValue::from_maybe_shared(bytes::Bytes::from(chain));
    headers.insert(name, value.unwrap_or_else(|_| hop.clone()));
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
    fn the_quick_test_knows_every_hop_by_hop_name() {
        for name in &HOP_BY_HOP {
            assert!(is_hop_by_hop(name), "{name}");
        }
        for name in [
            "content-length",
            "host",
            "x-connection",
            "tee",
            "upgrade-insecure-requests",
        ] {
            assert!(!is_hop_by_hop(&HeaderName::from_static(name)), "{name}");
        }
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
        // HeaderMap::remove moves the last entry into the hole: compare as a set.
        let mut left: Vec<&str> = h.keys().map(HeaderName::as_str).collect();
        left.sort_unstable();
        assert_eq!(left, ["content-length", "x-kept"]);
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
            &ClientHop::new("::1".parse().unwrap(), "http"),
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
            &ClientHop::new("127.0.0.1".parse().unwrap(), "https"),
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
            &ClientHop::new("10.0.0.1".parse().unwrap(), "http"),
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
            &ClientHop::new("10.0.0.1".parse().unwrap(), "http"),
            host,
        );
        assert!(h.is_empty(), "{h:?}");
    }
}
