//! Origin patterns: `scheme://host[:port]`, where the host may start with `*.` (one or more
//! labels, never the apex) and the port may be `*`; or `*` alone for any origin.
//!
//! A pattern is parsed once, at build time, into normal form (the origin serialisation a browser
//! would send). What has exactly one meaning (upper case, a Unicode host, an explicit default
//! port, a trailing slash) is normalised and reported; what has none is refused.

use std::fmt;

use url::Host;

use super::problem::ProblemCode;
use crate::origin::{default_port, host_is_loopback};

/// Longest pattern accepted: a 64-byte scheme, `://`, a 253-byte host, `:` and five digits, plus
/// room for a bracketed IPv6 address and the spelling a user may normalise from.
const MAX_PATTERN_LEN: usize = 512;
/// RFC 1035 limits, which browsers' DNS enforce.
const MAX_HOST_LEN: usize = 253;
const MAX_LABEL_LEN: usize = 63;
const MAX_SCHEME_LEN: usize = 64;

/// An origin pattern in normal form, as [`parse_pattern`] makes it. `Display` writes the normal
/// form back (`https://*.example.com`, `http://localhost:*`, `*`): the text a policy reports in
/// its [`config`](crate::policy::Policy::config).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum OriginPattern {
    /// `*`: any origin.
    Any,
    /// The origins of one scheme whose host and port match.
    Origins {
        /// Lowercase scheme.
        scheme: String,
        /// One host, or the subdomains of a domain.
        host: HostPattern,
        /// The port, or any port.
        port: PortPattern,
    },
}

/// The host of an [`OriginPattern::Origins`], in the form a browser serialises it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum HostPattern {
    /// Exactly this host (serialised: punycode domain, IPv4, or bracketed compressed IPv6).
    Exact(Host<String>),
    /// Any host with one or more labels in front of this domain: `*.example.com`.
    Subdomains(String),
}

/// The port of an [`OriginPattern::Origins`], as compared with the port of a request's
/// `Origin` (`None` when it has none).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PortPattern {
    /// No port in the serialisation: the scheme's default, or a scheme without ports.
    Default,
    /// Exactly this port, never the scheme's default (`https://example.com:443` is parsed as
    /// [`Default`](Self::Default), since browsers send that origin without a port).
    Port(u16),
    /// `:*`: any port, and also no port.
    Any,
}

impl PortPattern {
    /// Whether a request origin's port (`None` when absent) is covered.
    pub fn covers(self, port: Option<u16>) -> bool {
        match self {
            PortPattern::Any => true,
            PortPattern::Default => port.is_none(),
            PortPattern::Port(p) => port == Some(p),
        }
    }
}

/// A parsed pattern and what was changed to bring it into normal form.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParsedPattern {
    /// The pattern in normal form.
    pub pattern: OriginPattern,
    /// Human descriptions of each normalisation ("default port :443 removed").
    pub normalized: Vec<String>,
}

/// Why a pattern was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PatternError {
    /// One of the `Origin*` codes ([`ProblemCode::OriginHasPath`], ...).
    pub code: ProblemCode,
    /// What is wrong, for a person.
    pub message: String,
    /// What to write instead, often the corrected pattern (`write https://example.com`).
    pub fix: String,
}

fn refuse(code: ProblemCode, message: impl Into<String>, fix: impl Into<String>) -> PatternError {
    PatternError {
        code,
        message: message.into(),
        fix: fix.into(),
    }
}

impl OriginPattern {
    /// Whether matching origins are potentially trustworthy (Secure Contexts §3.1): `https`,
    /// `wss`, loopback IPs and `localhost` names.
    pub fn is_secure(&self) -> bool {
        match self {
            OriginPattern::Any => false,
            OriginPattern::Origins { scheme, host, .. } => {
                if matches!(scheme.as_str(), "https" | "wss") {
                    return true;
                }
                match host {
                    HostPattern::Exact(h) => host_is_loopback(h),
                    // Every subdomain of `localhost` is a localhost name.
                    HostPattern::Subdomains(base) => host_is_loopback(&Host::Domain(base.as_str())),
                }
            }
        }
    }
}

impl fmt::Display for OriginPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OriginPattern::Any => f.write_str("*"),
            OriginPattern::Origins { scheme, host, port } => {
                write!(f, "{scheme}://")?;
                match host {
                    HostPattern::Exact(h) => write!(f, "{h}")?,
                    HostPattern::Subdomains(base) => write!(f, "*.{base}")?,
                }
                match port {
                    PortPattern::Default => Ok(()),
                    PortPattern::Port(p) => write!(f, ":{p}"),
                    PortPattern::Any => f.write_str(":*"),
                }
            }
        }
    }
}

/// Parses one origin pattern into normal form.
///
/// `Ok` lists what was normalised (empty when the pattern was written in normal form); `Err` is
/// a pattern with no single meaning, or one that could never match what browsers send. This is
/// the parser behind `allow_origins`: a policy reports the same outcomes as
/// [`Problem`](crate::policy::Problem)s.
///
/// ```
/// use crossgate::policy::pattern::{HostPattern, OriginPattern, PortPattern, parse_pattern};
/// use crossgate::policy::{Policy, ProblemCode};
///
/// // `https://*.example.com`: every subdomain, at any depth, over https on the default port.
/// let subdomains = parse_pattern("https://*.example.com").unwrap();
/// assert!(subdomains.normalized.is_empty());
/// assert_eq!(subdomains.pattern, OriginPattern::Origins {
///     scheme: "https".into(),
///     host: HostPattern::Subdomains("example.com".into()),
///     port: PortPattern::Default,
/// });
/// // `http://localhost:*`: localhost on any port, or none; potentially trustworthy.
/// let local = parse_pattern("http://localhost:*").unwrap().pattern;
/// let OriginPattern::Origins { port, .. } = &local else { unreachable!() };
/// assert!(port.covers(Some(3000)) && port.covers(None));
/// assert!(local.is_secure());
///
/// // What a policy listing both allows:
/// let policy = Policy::builder()
///     .allow_origins(["https://*.example.com", "http://localhost:*"])
///     .build()?;
/// for (origin, allowed) in [
///     ("https://app.example.com", true),
///     ("https://a.b.example.com", true),
///     ("https://example.com", false),          // the apex is not a subdomain
///     ("http://app.example.com", false),       // another scheme
///     ("https://app.example.com:8443", false), // another port
///     ("https://example.com.evil.tld", false),
///     ("http://localhost:3000", true),
///     ("http://localhost", true),
///     ("https://localhost:3000", false),
///     ("http://127.0.0.1:3000", false),        // another host, though also loopback
/// ] {
///     assert_eq!(policy.allows_origin(origin.as_bytes()), allowed, "{origin}");
/// }
///
/// // Normalised: the scheme, the host, the default port and the trailing slash.
/// let written = parse_pattern("HTTPS://App.Example.com:443/").unwrap();
/// assert_eq!(written.pattern.to_string(), "https://app.example.com");
/// assert_eq!(written.normalized.len(), 4);
/// // Refused: browsers never send a path.
/// let refused = parse_pattern("https://example.com/app").unwrap_err();
/// assert_eq!(refused.code, ProblemCode::OriginHasPath);
/// assert_eq!(refused.fix, "write https://example.com");
/// # Ok::<(), crossgate::policy::InvalidConfig>(())
/// ```
pub fn parse_pattern(input: &str) -> Result<ParsedPattern, PatternError> {
    let mut normalized = Vec::new();
    if input.len() > MAX_PATTERN_LEN {
        return Err(refuse(
            ProblemCode::OriginTooLong,
            format!("longer than {MAX_PATTERN_LEN} bytes, so it cannot be an origin"),
            "write scheme://host[:port]",
        ));
    }
    let trimmed = input.trim();
    if trimmed.is_empty() {
        return Err(refuse(
            ProblemCode::OriginEmpty,
            "an empty origin pattern matches nothing",
            "remove it, or write an origin such as https://app.example.com",
        ));
    }
    if trimmed != input {
        normalized.push("surrounding whitespace removed".to_owned());
    }
    if trimmed == "*" {
        return Ok(ParsedPattern {
            pattern: OriginPattern::Any,
            normalized,
        });
    }
    if trimmed.eq_ignore_ascii_case("null") {
        return Err(refuse(
            ProblemCode::OriginNull,
            "the `null` origin is shared by sandboxed iframes, `data:` and `file:` documents and \
             redirected requests of every site, so trusting it trusts anyone",
            "remove it; serve the page from a real origin and allow that origin",
        ));
    }

    let Some((scheme_in, rest)) = trimmed.split_once("://") else {
        return Err(missing_scheme(trimmed));
    };
    let scheme = parse_scheme(scheme_in, &mut normalized)?;

    // Everything after the authority: a path, a query or a fragment.
    let (authority, tail) = match rest.find(['/', '?', '#']) {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    if authority.contains('@') {
        return Err(refuse(
            ProblemCode::OriginHasUserinfo,
            "an origin has no user name or password",
            format!(
                "remove the userinfo: {scheme}://{}",
                authority.rsplit('@').next().unwrap_or_default()
            ),
        ));
    }
    match tail {
        "" => {}
        "/" => normalized.push("trailing / removed (an origin has no path)".to_owned()),
        t if t.starts_with('/') => {
            return Err(refuse(
                ProblemCode::OriginHasPath,
                "an origin has no path: browsers send only scheme://host[:port]",
                format!("write {scheme}://{authority}"),
            ));
        }
        _ => {
            return Err(refuse(
                ProblemCode::OriginHasQuery,
                "an origin has no query or fragment",
                format!("write {scheme}://{authority}"),
            ));
        }
    }

    let (host_in, port_in) = split_host_port(authority)?;
    let port = parse_port(&scheme, port_in, &mut normalized)?;
    let host = parse_host_pattern(host_in, &mut normalized)?;
    Ok(ParsedPattern {
        pattern: OriginPattern::Origins { scheme, host, port },
        normalized,
    })
}

fn missing_scheme(input: &str) -> PatternError {
    if let Some((scheme, rest)) = input.split_once(':') {
        let looks_like_scheme = !scheme.is_empty()
            && scheme
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'));
        if looks_like_scheme && !rest.bytes().all(|b| b.is_ascii_digit() || b == b'*') {
            return refuse(
                ProblemCode::OriginMissingScheme,
                "the scheme must be followed by `://`",
                format!("write {scheme}://{}", rest.trim_start_matches('/')),
            );
        }
    }
    refuse(
        ProblemCode::OriginMissingScheme,
        "an origin starts with a scheme; browsers send e.g. `https://example.com`, never a bare host",
        format!("write https://{input}"),
    )
}

fn parse_scheme(input: &str, normalized: &mut Vec<String>) -> Result<String, PatternError> {
    let valid = input.len() <= MAX_SCHEME_LEN
        && input
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphabetic())
        && input
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'));
    if !valid {
        return Err(refuse(
            ProblemCode::OriginInvalidScheme,
            "not a URL scheme (a letter, then letters, digits, `+`, `-` or `.`)",
            "write https:// or http:// in front of the host",
        ));
    }
    let scheme = input.to_ascii_lowercase();
    if scheme != input {
        normalized.push(format!("scheme lowercased to {scheme}"));
    }
    if matches!(
        scheme.as_str(),
        "file" | "data" | "blob" | "about" | "javascript"
    ) {
        return Err(refuse(
            ProblemCode::OriginOpaqueScheme,
            format!("`{scheme}:` documents have an opaque origin, which browsers send as `null`"),
            "remove it; serve the page over http(s) and allow that origin",
        ));
    }
    Ok(scheme)
}

fn split_host_port(authority: &str) -> Result<(&str, Option<&str>), PatternError> {
    if authority.starts_with("*.[") {
        return Err(refuse(
            ProblemCode::OriginWildcardIp,
            "an IP address has no subdomains",
            "write the address itself, e.g. http://[::1]:8080",
        ));
    }
    if authority.starts_with('[') {
        let Some(end) = authority.find(']') else {
            return Err(refuse(
                ProblemCode::OriginInvalidHost,
                "an IPv6 address is missing its closing `]`",
                "write the address in brackets: http://[::1]:8080",
            ));
        };
        let (host, after) = authority.split_at(end + 1);
        return match after.strip_prefix(':') {
            Some(port) => Ok((host, Some(port))),
            None if after.is_empty() => Ok((host, None)),
            None => Err(refuse(
                ProblemCode::OriginInvalidHost,
                "unexpected text after the IPv6 address",
                "write http://[address]:port",
            )),
        };
    }
    match authority.split_once(':') {
        Some((host, port)) if port.contains(':') => Err(refuse(
            ProblemCode::OriginInvalidHost,
            format!("`{host}:{port}` has more than one `:`; an IPv6 address must be in brackets"),
            "write http://[::1]:8080 for an IPv6 address",
        )),
        Some((host, port)) => Ok((host, Some(port))),
        None => Ok((authority, None)),
    }
}

fn parse_port(
    scheme: &str,
    port: Option<&str>,
    normalized: &mut Vec<String>,
) -> Result<PortPattern, PatternError> {
    let Some(port) = port else {
        return Ok(PortPattern::Default);
    };
    if port == "*" {
        return Ok(PortPattern::Any);
    }
    let bad = |why: &str| {
        refuse(
            ProblemCode::OriginInvalidPort,
            format!("invalid port `{port}`: {why}"),
            "write a port from 1 to 65535 without leading zeros, `*` for any port, or leave it out",
        )
    };
    if port.is_empty() {
        return Err(bad("nothing follows the `:`"));
    }
    if !port.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad("not a number"));
    }
    if port.len() > 1 && port.starts_with('0') {
        return Err(bad("leading zero"));
    }
    let value: u32 = port.parse().map_err(|_| bad("too large"))?;
    match u16::try_from(value) {
        Ok(0) => Err(bad("port 0 cannot be connected to")),
        Ok(p) if default_port(scheme) == Some(p) => {
            normalized.push(format!("default port :{p} removed"));
            Ok(PortPattern::Default)
        }
        Ok(p) => Ok(PortPattern::Port(p)),
        Err(_) => Err(bad("above 65535")),
    }
}

fn parse_host_pattern(
    input: &str,
    normalized: &mut Vec<String>,
) -> Result<HostPattern, PatternError> {
    let (wildcard, host_in) = match input.strip_prefix("*.") {
        Some(base) => (true, base),
        None => (false, input),
    };
    if host_in.contains('*') || input == "*" {
        return Err(refuse(
            ProblemCode::OriginMisplacedWildcard,
            "`*` may only stand alone (any origin) or start the host as `*.` (subdomains)",
            "write `*`, or a pattern such as https://*.example.com",
        ));
    }
    if host_in.is_empty() {
        return Err(refuse(
            ProblemCode::OriginInvalidHost,
            "the host is empty",
            "write scheme://host, e.g. https://example.com",
        ));
    }
    // The URL Standard's host parser: IDNA to punycode, IPv4 in all its spellings, IPv6.
    let host = Host::parse(host_in).map_err(|e| {
        refuse(
            ProblemCode::OriginInvalidHost,
            format!("`{host_in}` is not a valid host: {e}"),
            "write a domain name (in ASCII or Unicode) or an IP address",
        )
    })?;
    if let Host::Domain(domain) = &host {
        check_domain(domain)?;
    }
    let serialized = host.to_string();
    // The host parser percent-decodes (`%2a`) and maps look-alikes (U+FF0A) to `*`, which is
    // not a forbidden domain code point: such a host would print as a wildcard pattern while
    // matching only a literal `*`, so its normal form would mean something else.
    if serialized.contains('*') {
        return Err(refuse(
            ProblemCode::OriginMisplacedWildcard,
            format!(
                "`{host_in}` decodes to `{serialized}`: `*` may only stand alone (any origin) or \
                 start the host as `*.` (subdomains)"
            ),
            "write `*`, or a pattern such as https://*.example.com",
        ));
    }
    if serialized != host_in {
        normalized.push(format!("host `{host_in}` written as `{serialized}`"));
    }
    if !wildcard {
        return Ok(HostPattern::Exact(host));
    }
    match host {
        Host::Domain(base) => Ok(HostPattern::Subdomains(base)),
        Host::Ipv4(_) | Host::Ipv6(_) => Err(refuse(
            ProblemCode::OriginWildcardIp,
            "an IP address has no subdomains",
            format!("write the address itself: {serialized}"),
        )),
    }
}

fn check_domain(domain: &str) -> Result<(), PatternError> {
    let without_root = domain.strip_suffix('.').unwrap_or(domain);
    let bad = |why: String| {
        refuse(
            ProblemCode::OriginInvalidHost,
            why,
            "write a domain name such as app.example.com",
        )
    };
    if without_root.len() > MAX_HOST_LEN {
        return Err(bad(format!("the host is longer than {MAX_HOST_LEN} bytes")));
    }
    for label in without_root.split('.') {
        if label.is_empty() {
            return Err(bad(format!("`{domain}` has an empty label (`..`)")));
        }
        if label.len() > MAX_LABEL_LEN {
            return Err(bad(format!("a label is longer than {MAX_LABEL_LEN} bytes")));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(input: &str) -> (String, usize) {
        let p = parse_pattern(input).unwrap_or_else(|e| panic!("{input}: {e:?}"));
        (p.pattern.to_string(), p.normalized.len())
    }

    fn err(input: &str) -> ProblemCode {
        parse_pattern(input)
            .map(|p| panic!("{input} parsed as {}", p.pattern))
            .unwrap_err()
            .code
    }

    #[test]
    fn normal_forms() {
        assert_eq!(
            ok("https://app.example.com"),
            ("https://app.example.com".into(), 0)
        );
        assert_eq!(ok("*"), ("*".into(), 0));
        assert_eq!(
            ok("https://*.example.com"),
            ("https://*.example.com".into(), 0)
        );
        assert_eq!(ok("http://localhost:*"), ("http://localhost:*".into(), 0));
        assert_eq!(
            ok("http://*.example.com:*"),
            ("http://*.example.com:*".into(), 0)
        );
        assert_eq!(ok("http://[::1]:8080"), ("http://[::1]:8080".into(), 0));
        assert_eq!(
            ok("chrome-extension://abcdef"),
            ("chrome-extension://abcdef".into(), 0)
        );
        assert_eq!(
            ok("HTTPS://App.Example.com"),
            ("https://app.example.com".into(), 2)
        );
        assert_eq!(
            ok("https://example.com:443"),
            ("https://example.com".into(), 1)
        );
        assert_eq!(
            ok("https://example.com/"),
            ("https://example.com".into(), 1)
        );
        assert_eq!(
            ok("https://bücher.de"),
            ("https://xn--bcher-kva.de".into(), 1)
        );
        assert_eq!(
            ok("https://*.bücher.de"),
            ("https://*.xn--bcher-kva.de".into(), 1)
        );
        assert_eq!(ok("http://[0:0::1]"), ("http://[::1]".into(), 1));
        assert_eq!(ok(" https://a.example "), ("https://a.example".into(), 1));
        assert_eq!(
            ok("https://example.com:80"),
            ("https://example.com:80".into(), 0)
        );
    }

    #[test]
    fn refusals() {
        use ProblemCode::*;
        assert_eq!(err(""), OriginEmpty);
        assert_eq!(err("null"), OriginNull);
        assert_eq!(err("example.com"), OriginMissingScheme);
        assert_eq!(err("https:example.com"), OriginMissingScheme);
        assert_eq!(err("1ttp://example.com"), OriginInvalidScheme);
        assert_eq!(err("file:///home"), OriginOpaqueScheme);
        assert_eq!(err("https://user:pw@example.com"), OriginHasUserinfo);
        assert_eq!(err("https://example.com/app"), OriginHasPath);
        assert_eq!(err("https://example.com?x"), OriginHasQuery);
        assert_eq!(err("https://example.com#x"), OriginHasQuery);
        assert_eq!(err("https://*"), OriginMisplacedWildcard);
        assert_eq!(err("https://**.example.com"), OriginMisplacedWildcard);
        assert_eq!(err("https://*example.com"), OriginMisplacedWildcard);
        assert_eq!(err("https://foo.*.example.com"), OriginMisplacedWildcard);
        assert_eq!(err("https://*.127.0.0.1"), OriginWildcardIp);
        assert_eq!(err("https://*.[::1]"), OriginWildcardIp);
        assert_eq!(err("https://example.com:"), OriginInvalidPort);
        assert_eq!(err("https://example.com:0"), OriginInvalidPort);
        assert_eq!(err("https://example.com:65536"), OriginInvalidPort);
        assert_eq!(err("https://example.com:06060"), OriginInvalidPort);
        assert_eq!(err("https://example.com:80x"), OriginInvalidPort);
        assert_eq!(err("https://example..com"), OriginInvalidHost);
        assert_eq!(err("https://exa mple.com"), OriginInvalidHost);
        assert_eq!(err("http://[::1"), OriginInvalidHost);
        assert_eq!(err("http://::1:80"), OriginInvalidHost);
        assert_eq!(err("https://"), OriginInvalidHost);
        assert_eq!(
            err(&format!("https://{}.com", "a".repeat(64))),
            OriginInvalidHost
        );
        assert_eq!(err(&format!("https://{}", "a.".repeat(300))), OriginTooLong);
    }

    #[test]
    fn security_of_patterns() {
        let secure = |s: &str| parse_pattern(s).unwrap().pattern.is_secure();
        assert!(secure("https://a.example"));
        assert!(secure("http://localhost:*"));
        assert!(secure("http://*.localhost"));
        assert!(secure("http://127.0.0.1:3000"));
        assert!(secure("http://[::1]"));
        assert!(!secure("http://a.example"));
        assert!(!secure("http://*.example.com"));
        assert!(!secure("*"));
    }
}
