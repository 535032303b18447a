//! Fetch §4.1 (after the fetch) and §2.2.6: which response headers script can read.

use super::check::{Headers, lines};
use super::request::Tainting;
use crate::fetch::header::{
    is_cors_safelisted_response_header_name, is_forbidden_response_header_name,
};
use crate::fetch::list::parse_token_list;

/// The names of `headers` that script can read from a response with this tainting, lowercase,
/// deduplicated and sorted.
pub fn exposed_header_names(tainting: Tainting, include: bool, headers: &Headers) -> Vec<String> {
    let readable: Box<dyn Fn(&str) -> bool> = match tainting {
        // An opaque response has no headers at all.
        Tainting::Opaque => return Vec::new(),
        // A basic filtered response hides only `Set-Cookie` and `Set-Cookie2`.
        Tainting::Basic => Box::new(|_| true),
        Tainting::Cors => {
            // §4.1 step 12 (after): the exposed list, `*` meaning every name without
            // credentials; a list that fails to parse exposes nothing beyond the safelist.
            let names: Vec<String> =
                parse_token_list(lines(headers, "access-control-expose-headers"))
                    .ok()
                    .flatten()
                    .unwrap_or_default()
                    .into_iter()
                    .map(|n| String::from_utf8_lossy(n).to_ascii_lowercase())
                    .collect();
            let all = !include && names.iter().any(|n| n == "*");
            Box::new(move |name: &str| {
                all || is_cors_safelisted_response_header_name(name.as_bytes())
                    || names.iter().any(|n| n.eq_ignore_ascii_case(name))
            })
        }
    };
    let mut out: Vec<String> = headers
        .iter()
        .map(|(n, _)| n.to_ascii_lowercase())
        .filter(|n| !is_forbidden_response_header_name(n.as_bytes()) && readable(n))
        .collect();
    out.sort();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(pairs: &[(&str, &str)]) -> Vec<(String, Vec<u8>)> {
        pairs
            .iter()
            .map(|(n, v)| (n.to_string(), v.as_bytes().to_vec()))
            .collect()
    }

    #[test]
    fn wpt_expose_star() {
        // WPT fetch/api/cors/cors-expose-star (cors-fetch-rules.md §3.2 case 20).
        let headers = h(&[
            ("Access-Control-Allow-Origin", "*"),
            ("Access-Control-Expose-Headers", "*"),
            ("Test", "X"),
            ("Set-Cookie", "X"),
            ("*", "whoa"),
            ("Content-Type", "text/plain"),
        ]);
        let anonymous = exposed_header_names(Tainting::Cors, false, &headers);
        assert!(anonymous.contains(&"test".to_owned()));
        assert!(anonymous.contains(&"*".to_owned()));
        assert!(!anonymous.contains(&"set-cookie".to_owned()));
        let credentialed = exposed_header_names(Tainting::Cors, true, &headers);
        assert_eq!(credentialed, ["*", "content-type"]);
    }

    #[test]
    fn parse_failure_exposes_only_the_safelist() {
        let headers = h(&[
            ("Access-Control-Expose-Headers", "x-a, bad name"),
            ("X-A", "1"),
            ("Content-Length", "3"),
        ]);
        assert_eq!(
            exposed_header_names(Tainting::Cors, false, &headers),
            ["content-length"]
        );
        assert_eq!(
            exposed_header_names(Tainting::Basic, false, &headers),
            ["access-control-expose-headers", "content-length", "x-a"]
        );
        assert!(exposed_header_names(Tainting::Opaque, false, &headers).is_empty());
    }
}
