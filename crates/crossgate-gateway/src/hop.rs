//! Hop-by-hop headers (RFC 9110 §7.6.1) and the `X-Forwarded-*` headers a proxy adds.
//!
//! Hop-by-hop headers describe one connection, not the message: a proxy that passed them on would
//! let a client steer the gateway's connection to the upstream (or the upstream the gateway's
//! connection to the client), e.g. `Connection: close, authorization` to strip a header the
//! upstream relies on being forwarded.

use std::net::IpAddr;

use http::header::{self, HeaderMap, HeaderName, HeaderValue};

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

/// Adds the `X-Forwarded-*` headers to a request about to be forwarded.
///
/// - `X-Forwarded-For`: the client's address appended to what earlier proxies wrote (as one
///   line, so upstreams that read only the first line still see the whole chain).
/// - `X-Forwarded-Proto: http`: the gateway only speaks plain HTTP, so whatever a client claimed
///   is replaced.
/// - `X-Forwarded-Host`: the `Host` the client addressed (`original_host`), replacing a claimed
///   one; removed when the request had none.
pub fn add_forwarded(headers: &mut HeaderMap, client: IpAddr, original_host: Option<HeaderValue>) {
    let client = client.to_string();
    let mut chain: Vec<u8> = Vec::new();
    for line in headers.get_all(&X_FORWARDED_FOR) {
        let line = line.as_bytes().trim_ascii();
        if line.is_empty() {
            continue;
        }
        if !chain.is_empty() {
            chain.extend_from_slice(b", ");
        }
        chain.extend_from_slice(line);
    }
    if !chain.is_empty() {
        chain.extend_from_slice(b", ");
    }
    chain.extend_from_slice(client.as_bytes());
    // Earlier lines were valid header values joined with ", ", so the whole is valid too.
    let value = HeaderValue::from_bytes(&chain)
        .unwrap_or_else(|_| HeaderValue::from_str(&client).expect("an IP address is a value"));
    headers.insert(X_FORWARDED_FOR, value);
    headers.insert(X_FORWARDED_PROTO, HeaderValue::from_static("http"));
    match original_host {
        Some(host) => {
            headers.insert(X_FORWARDED_HOST, host);
        }
        None => {
            headers.remove(X_FORWARDED_HOST);
        }
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
            "::1".parse().unwrap(),
            Some(HeaderValue::from_static("gw.example:8080")),
        );
        assert_eq!(
            h.get_all(X_FORWARDED_FOR).iter().collect::<Vec<_>>(),
            ["203.0.113.7, 198.51.100.1, 10.0.0.1, ::1"]
        );
        assert_eq!(h[X_FORWARDED_PROTO], "http");
        assert_eq!(h[X_FORWARDED_HOST], "gw.example:8080");

        let mut h = map(&[("x-forwarded-host", "claimed.example")]);
        add_forwarded(&mut h, "127.0.0.1".parse().unwrap(), None);
        assert_eq!(h[X_FORWARDED_FOR], "127.0.0.1");
        assert!(!h.contains_key(X_FORWARDED_HOST));
    }
}
