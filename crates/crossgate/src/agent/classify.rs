//! Does a request need a preflight, and which of its headers must the server allow?

use super::profile::Profile;
use super::request::Request;
use crate::fetch::header::is_cors_safelisted_request_header;
use crate::fetch::method;
use crate::fetch::range::{numeric_gt, parse_single_range};

/// Fetch §2.2.2: the total size of CORS-safelisted request-header values above which they all
/// count as unsafe.
pub const SAFELISTED_TOTAL_LIMIT: usize = 1024;

/// Whether (name, value) is a CORS-safelisted request header for this agent.
pub fn is_safelisted(name: &str, value: &[u8], profile: &Profile) -> bool {
    let lenient;
    let value = if profile.range_lenient_unit_and_sign && name.eq_ignore_ascii_case("range") {
        lenient = lenient_range(value);
        lenient.as_slice()
    } else {
        value
    };
    if !is_cors_safelisted_request_header(name.as_bytes(), value) {
        return profile.extra_safelisted_headers && is_chromium_extra(name, value);
    }
    if profile.high_bytes_unsafe && value.iter().any(|&b| b >= 0x80) {
        return false;
    }
    if let Some(max) = profile.range_number_max
        && name.eq_ignore_ascii_case("range")
    {
        // Chromium and Firefox parse the numbers into 64-bit integers.
        if let Some(r) = parse_single_range(value, false) {
            return [r.start, r.end]
                .into_iter()
                .flatten()
                .all(|n| !numeric_gt(n, max));
        }
    }
    true
}

/// WebKit's `Range` as the standard's form: `bytes` in any case becomes `bytes`, and a `+`
/// before a number (which WebKit's integer parser accepts) is dropped.
fn lenient_range(value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(value.len());
    let rest = match value.get(..5) {
        Some(unit) if unit.eq_ignore_ascii_case(b"bytes") => {
            out.extend_from_slice(b"bytes");
            &value[5..]
        }
        _ => value,
    };
    for (i, &b) in rest.iter().enumerate() {
        let after_separator = i > 0 && matches!(rest[i - 1], b'=' | b'-');
        let before_digit = rest.get(i + 1).is_some_and(u8::is_ascii_digit);
        if b == b'+' && after_separator && before_digit {
            continue;
        }
        out.push(b);
    }
    out
}

/// Chromium's further safelisted headers (`services/network/public/cpp/cors/cors.cc`): client
/// hints with well-formed values, `Save-Data: on`, and `Intervention`.
fn is_chromium_extra(name: &str, value: &[u8]) -> bool {
    if value.len() > 128 {
        return false;
    }
    let is = |n: &str| name.eq_ignore_ascii_case(n);
    let int = |v: &[u8]| !v.is_empty() && v.iter().all(u8::is_ascii_digit);
    let double = |v: &[u8]| match v.iter().position(|&b| b == b'.') {
        Some(dot) => int(&v[..dot]) && int(&v[dot + 1..]),
        None => int(v),
    };
    if is("dpr") || is("device-memory") || is("downlink") {
        double(value)
    } else if is("width") || is("viewport-width") || is("rtt") {
        int(value)
    } else if is("ect") {
        matches!(value, b"slow-2g" | b"2g" | b"3g" | b"4g")
    } else if is("save-data") {
        value.eq_ignore_ascii_case(b"on")
    } else {
        is("intervention")
    }
}

/// The headers as the agent judges them: each separately (the standard), or repeated names
/// combined with `", "` first (Chromium).
fn judged_headers(headers: &[(String, Vec<u8>)], profile: &Profile) -> Vec<(String, Vec<u8>)> {
    if !profile.combines_repeated_request_headers {
        return headers.to_vec();
    }
    let mut combined: Vec<(String, Vec<u8>)> = Vec::new();
    // Where each name is in `combined`: a long header list costs time in proportion to it.
    let mut at: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for (name, value) in headers {
        match at.get(&name.to_ascii_lowercase()) {
            Some(i) => {
                let v = &mut combined[*i].1;
                v.extend_from_slice(b", ");
                v.extend_from_slice(value);
            }
            None => {
                at.insert(name.to_ascii_lowercase(), combined.len());
                combined.push((name.clone(), value.clone()));
            }
        }
    }
    combined
}

/// Fetch §2.2.2 "CORS-unsafe request-header names": the names of headers that are not
/// safelisted, plus every safelisted one when their values total more than 1024 bytes; as a
/// sorted, lowercase, deduplicated list (what `Access-Control-Request-Headers` carries; Firefox
/// keeps repeated names).
pub fn cors_unsafe_request_header_names(request: &Request, profile: &Profile) -> Vec<String> {
    cors_unsafe_header_names(&request.headers, profile)
}

/// [`cors_unsafe_request_header_names`] of a header list.
pub fn cors_unsafe_header_names(headers: &[(String, Vec<u8>)], profile: &Profile) -> Vec<String> {
    let mut unsafe_names: Vec<String> = Vec::new();
    let mut potentially: Vec<String> = Vec::new();
    let mut size = 0usize;
    for (name, value) in judged_headers(headers, profile) {
        if is_safelisted(&name, &value, profile) {
            size += value.len();
            potentially.push(name);
        } else {
            unsafe_names.push(name);
        }
    }
    if size > SAFELISTED_TOTAL_LIMIT {
        unsafe_names.extend(potentially);
    }
    // Fetch §2.2.2 "convert header names to a sorted-lowercase set".
    let mut names: Vec<String> = unsafe_names
        .into_iter()
        .map(|n| n.to_ascii_lowercase())
        .collect();
    names.sort();
    if profile.unsafe_header_names_deduplicated {
        names.dedup();
    }
    names
}

/// Fetch §4.1 step 12.6 (without the cache): whether the request must be preflighted.
pub fn needs_preflight(request: &Request, profile: &Profile) -> bool {
    needs_preflight_with(request, &cors_unsafe_request_header_names(request, profile))
}

/// [`needs_preflight`], given the request's CORS-unsafe header names already computed.
pub fn needs_preflight_with(request: &Request, unsafe_names: &[String]) -> bool {
    request.use_cors_preflight
        || !method::is_cors_safelisted(request.method.as_bytes())
        || !unsafe_names.is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::RequestInit;
    use crate::origin::Origin;

    fn request(method: &str, headers: &[(&str, &[u8])]) -> Request {
        let mut init = RequestInit::get(
            Origin::from_url_str("http://web-platform.test:8000").unwrap(),
            "http://www1.web-platform.test:8000/x".parse().unwrap(),
        );
        init.method = method.to_owned();
        init.headers = headers
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_vec()))
            .collect();
        Request::new(&init, &Profile::spec(), &mut Vec::new()).unwrap()
    }

    #[test]
    fn wpt_acrh_is_sorted_lowercase_without_safelisted_names() {
        // WPT fetch/api/cors/cors-preflight.any.js (cors-fetch-rules.md §3.2 case 6).
        let r = request(
            "GET",
            &[
                ("x-test-header1", b"v"),
                ("x-test-header2", b"v"),
                ("X-test-header3", b"v"),
                ("x-test-header-b", b"v"),
                ("x-test-header-D", b"v"),
                ("x-test-header-C", b"v"),
                ("x-test-header-a", b"v"),
                ("Content-Type", b"allowedOrRefused"),
                ("Accept", b"*"),
                ("Accept-Language", b"bzh"),
                ("Content-Language", b"eu"),
            ],
        );
        assert_eq!(
            cors_unsafe_request_header_names(&r, &Profile::spec()).join(","),
            "content-type,x-test-header-a,x-test-header-b,x-test-header-c,x-test-header-d,\
             x-test-header1,x-test-header2,x-test-header3"
        );
    }

    #[test]
    fn the_1024_byte_total() {
        let big = [b'a'; 128];
        let headers: Vec<(&str, &[u8])> = (0..8).map(|_| ("accept", &big[..])).collect();
        let r = request("GET", &headers);
        assert!(
            !needs_preflight(&r, &Profile::spec()),
            "8 x 128 = 1024 is not above"
        );
        let mut more = headers.clone();
        more.push(("accept-language", b"x"));
        let r = request("GET", &more);
        assert_eq!(
            cors_unsafe_request_header_names(&r, &Profile::spec()),
            ["accept", "accept-language"]
        );
    }

    #[test]
    fn chromium_combines_repeated_headers_and_safelists_client_hints() {
        let a = [b'a'; 100];
        let r = request("GET", &[("accept", &a[..]), ("accept", &a[..])]);
        assert!(!needs_preflight(&r, &Profile::spec()));
        assert!(needs_preflight(&r, &Profile::chromium()));
        let r = request(
            "GET",
            &[("DPR", b"2.0"), ("Save-Data", b"on"), ("ECT", b"4g")],
        );
        assert!(needs_preflight(&r, &Profile::spec()));
        assert!(!needs_preflight(&r, &Profile::chromium()));
        let r = request("GET", &[("Range", b"bytes=99999999999999999999999-")]);
        assert!(!needs_preflight(&r, &Profile::spec()));
        assert!(needs_preflight(&r, &Profile::chromium()));
        assert!(needs_preflight(&r, &Profile::firefox()));
        // Between the two limits: past i64, within u64.
        let r = request("GET", &[("Range", b"bytes=10000000000000000000-")]);
        assert!(needs_preflight(&r, &Profile::chromium()));
        assert!(!needs_preflight(&r, &Profile::firefox()));
    }

    #[test]
    fn methods() {
        assert!(!needs_preflight(&request("get", &[]), &Profile::spec()));
        assert!(!needs_preflight(
            &request("POST", &[("content-type", b"text/plain")]),
            &Profile::spec()
        ));
        assert!(needs_preflight(&request("PUT", &[]), &Profile::spec()));
        assert!(needs_preflight(&request("patch", &[]), &Profile::spec()));
        assert!(needs_preflight(
            &request("POST", &[("content-type", b"application/json")]),
            &Profile::spec()
        ));
    }
}
