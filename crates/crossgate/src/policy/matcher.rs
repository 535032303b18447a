//! Origin matching whose cost does not depend on how many origins are allowed.
//!
//! Exact origins live in a hash set of their serialisations: one hash of the request's `Origin`
//! bytes. `*.` subdomain patterns and `:*` port patterns live in a tree of host labels per scheme,
//! walked right to left (`com`, `example`, `app`): one hash per label of the request's host.
//! Either way the work is bounded by the length of the `Origin` header, which is itself capped,
//! never by the size of the policy.
//!
//! The request's `Origin` is compared byte for byte with normal forms: browsers always send the
//! canonical serialisation, so anything else (upper case, a default port, a leading zero)
//! matches nothing.

use std::hash::{Hash, Hasher};

use hashbrown::{Equivalent, HashMap, HashSet};

use super::pattern::{HostPattern, OriginPattern, PortPattern};
use crate::origin::default_port;

/// No serialised origin is longer: a 64-byte scheme, `://`, a 253-byte host plus its optional
/// root `.` (a fully qualified name, which patterns may name) or a bracketed IPv6 address, `:`
/// and five digits.
pub const MAX_ORIGIN_LEN: usize = 64 + 3 + 254 + 6;

/// Ports allowed for one host or subdomain pattern. `0` stands for "no port" (the scheme's
/// default), which no real port can be.
#[derive(Clone, Debug, Default)]
enum Ports {
    #[default]
    None,
    Any,
    Set(HashSet<u16>),
}

impl Ports {
    fn add(&mut self, port: PortPattern) {
        let p = match port {
            PortPattern::Any => {
                *self = Ports::Any;
                return;
            }
            PortPattern::Default => 0,
            PortPattern::Port(p) => p,
        };
        match self {
            Ports::Any => {}
            Ports::Set(set) => {
                set.insert(p);
            }
            Ports::None => *self = Ports::Set(HashSet::from_iter([p])),
        }
    }

    #[inline]
    fn covers(&self, port: u16) -> bool {
        match self {
            Ports::None => false,
            Ports::Any => true,
            Ports::Set(set) => set.contains(&port),
        }
    }
}

/// The ports allowed for one host: the host itself (`:*` patterns; exact ports live in the exact
/// set) and the hosts strictly under it (`*.` patterns).
#[derive(Clone, Debug, Default)]
struct HostPorts {
    host: Ports,
    subdomains: Ports,
}

/// Matches request origins against a set of patterns.
#[derive(Clone, Debug, Default)]
pub struct OriginMatcher {
    any: bool,
    exact: HashSet<Box<[u8]>>,
    /// `*.` and `:*` patterns, keyed by scheme and host (the pattern's host, or the base a `*.`
    /// stands before).
    hosts: HashMap<HostKey, HostPorts>,
    /// The label counts of the `*.` bases, ascending (one or two in practice): a request host
    /// is looked up once per count, cut to that many labels from the right.
    depths: Vec<usize>,
    /// Whether a `:*` pattern names a host (so the request's whole host is looked up).
    port_patterns: bool,
}

impl OriginMatcher {
    pub fn new<'a>(patterns: impl IntoIterator<Item = &'a OriginPattern>) -> OriginMatcher {
        let mut m = OriginMatcher::default();
        for p in patterns {
            m.insert(p);
        }
        m.depths.sort_unstable();
        m.depths.dedup();
        m
    }

    fn insert(&mut self, pattern: &OriginPattern) {
        let OriginPattern::Origins { scheme, host, port } = pattern else {
            self.any = true;
            return;
        };
        let (host_text, subdomains) = match host {
            HostPattern::Exact(h) => {
                if let PortPattern::Default | PortPattern::Port(_) = port {
                    self.exact
                        .insert(pattern.to_string().into_bytes().into_boxed_slice());
                    return;
                }
                (h.to_string(), false)
            }
            HostPattern::Subdomains(base) => (base.clone(), true),
        };
        let key = HostKey {
            scheme: scheme.as_bytes().into(),
            host: host_text.as_bytes().into(),
        };
        let entry = self.hosts.entry(key).or_default();
        if subdomains {
            entry.subdomains.add(*port);
            self.depths.push(labels(host_text.as_bytes()));
        } else {
            entry.host.add(*port);
            self.port_patterns = true;
        }
    }

    /// Whether every origin is allowed.
    pub fn is_any(&self) -> bool {
        self.any
    }

    /// Whether the request's `Origin` bytes are allowed. Never allocates; at most one hash of
    /// the whole `Origin`, plus one per distinct label count of the `*.` patterns.
    pub fn matches(&self, origin: &[u8]) -> bool {
        if self.any {
            return true;
        }
        if origin.len() > MAX_ORIGIN_LEN {
            return false;
        }
        if self.exact.contains(origin) {
            return true;
        }
        if self.hosts.is_empty() {
            return false;
        }
        let Some(parts) = OriginParts::split(origin) else {
            return false;
        };
        let (scheme, host) = (parts.scheme, parts.host);
        if self.port_patterns
            && self
                .hosts
                .get(&HostRef { scheme, host })
                .is_some_and(|h| h.host.covers(parts.port))
        {
            return true;
        }
        for &depth in &self.depths {
            // The request host cut before its last `depth` labels: the subdomain part must be
            // left of a dot.
            let Some(dot) = nth_dot_from_right(host, depth) else {
                break;
            };
            let (sub, base) = (&host[..dot], &host[dot + 1..]);
            if self
                .hosts
                .get(&HostRef { scheme, host: base })
                .is_some_and(|h| h.subdomains.covers(parts.port))
                && is_subdomain_part(sub)
            {
                return true;
            }
        }
        false
    }
}

/// A scheme and a host.
#[derive(Clone, Debug, PartialEq, Eq)]
struct HostKey {
    scheme: Box<[u8]>,
    host: Box<[u8]>,
}

/// A [`HostKey`] borrowed from a request's `Origin`, for look-ups without copying.
struct HostRef<'a> {
    scheme: &'a [u8],
    host: &'a [u8],
}

// Only the host is hashed (the scheme, nearly always `https`, is compared): equal pairs hash
// alike, which is all a hash needs.
impl Hash for HostKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write(&self.host);
    }
}

impl Hash for HostRef<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write(self.host);
    }
}

impl Equivalent<HostKey> for HostRef<'_> {
    fn equivalent(&self, key: &HostKey) -> bool {
        *key.scheme == *self.scheme && *key.host == *self.host
    }
}

/// The number of `.`-separated labels of a host (a trailing root `.` counts an empty label).
fn labels(host: &[u8]) -> usize {
    host.iter().filter(|&&b| b == b'.').count() + 1
}

/// The index of the `n`-th `.` counted from the right, if the host has that many.
#[inline]
fn nth_dot_from_right(host: &[u8], n: usize) -> Option<usize> {
    let mut seen = 0;
    for (i, &b) in host.iter().enumerate().rev() {
        if b == b'.' {
            seen += 1;
            if seen == n {
                return Some(i);
            }
        }
    }
    None
}

/// The labels a `*.` pattern stands for: one or more non-empty labels of lowercase letters,
/// digits, `-` and `_` (what a browser serialises for an ASCII or punycode domain).
pub(crate) fn is_subdomain_part(sub: &[u8]) -> bool {
    !sub.is_empty()
        && sub.split(|&b| b == b'.').all(|label| {
            !label.is_empty()
                && label
                    .iter()
                    .all(|&b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_'))
        })
}

/// A request `Origin` split into scheme, host and port, without copying. Only the canonical
/// spelling of a port is accepted (no leading zero, no default port); `port` is `0` when absent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OriginParts<'a> {
    pub scheme: &'a [u8],
    pub host: &'a [u8],
    pub port: u16,
}

impl<'a> OriginParts<'a> {
    pub fn split(origin: &'a [u8]) -> Option<OriginParts<'a>> {
        // The first `:` ends a scheme; `memmem` only for the odd input where it is not `://`.
        // (Plain loops: an origin is short, and memchr's set-up costs more than it saves.)
        let sep = if origin.starts_with(b"https://") {
            5
        } else if origin.starts_with(b"http://") {
            4
        } else {
            match position(origin, b':') {
                Some(i) if origin[i..].starts_with(b"://") => i,
                _ => memchr::memmem::find(origin, b"://")?,
            }
        };
        let scheme = &origin[..sep];
        let authority = &origin[sep + 3..];
        let (host, port) = if authority.first() == Some(&b'[') {
            let end = position(authority, b']')?;
            match &authority[end + 1..] {
                [] => (&authority[..=end], None),
                [b':', port @ ..] => (&authority[..=end], Some(port)),
                _ => return None,
            }
        } else {
            // The port is the digits after the last `:` (read from the right: a host ends in a
            // letter or a digit, so most origins stop at once). A host left with a `:` in it
            // matches no pattern, as the canonical spelling has none.
            match port_separator(authority) {
                Some(i) => (&authority[..i], Some(&authority[i + 1..])),
                None => (authority, None),
            }
        };
        if host.is_empty() {
            return None;
        }
        let port = match port {
            None => 0,
            Some(digits) => {
                let p = canonical_port(digits)?;
                let scheme_default = std::str::from_utf8(scheme).ok().and_then(default_port);
                if scheme_default == Some(p) {
                    return None;
                }
                p
            }
        };
        Some(OriginParts { scheme, host, port })
    }
}

/// The `:` before a trailing run of digits (and only digits), if any.
#[inline]
fn port_separator(authority: &[u8]) -> Option<usize> {
    let digits = authority
        .iter()
        .rev()
        .take_while(|b| b.is_ascii_digit())
        .count();
    let i = authority.len().checked_sub(digits + 1)?;
    (authority[i] == b':').then_some(i)
}

#[inline]
fn position(bytes: &[u8], byte: u8) -> Option<usize> {
    bytes.iter().position(|&b| b == byte)
}

fn canonical_port(digits: &[u8]) -> Option<u16> {
    if digits.is_empty() || digits.len() > 5 || digits[0] == b'0' {
        return None;
    }
    let mut value: u32 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        value = value * 10 + u32::from(d - b'0');
    }
    u16::try_from(value).ok()
}

#[cfg(test)]
mod tests {
    use super::super::pattern::parse_pattern;
    use super::*;

    fn matcher(patterns: &[&str]) -> OriginMatcher {
        let parsed: Vec<_> = patterns
            .iter()
            .map(|p| parse_pattern(p).unwrap().pattern)
            .collect();
        OriginMatcher::new(&parsed)
    }

    #[test]
    fn exact_origins_match_byte_for_byte() {
        let m = matcher(&[
            "https://foo.com",
            "https://bar.com",
            "http://localhost:3000",
        ]);
        assert!(m.matches(b"https://foo.com"));
        assert!(m.matches(b"https://bar.com"));
        assert!(m.matches(b"http://localhost:3000"));
        // GHSA-vhxv-fg4m-p2w8: suffix and prefix look-alikes.
        for o in [
            "https://barfoo.com",
            "https://foobar.com",
            "https://foo.com.evil.tld",
            "https://evilfoo.com",
            "https://FOO.com",
            "https://foo.com:443",
            "https://foo.com/",
            "http://foo.com",
            "http://localhost:30000",
            "http://localhost",
            "null",
            "",
        ] {
            assert!(!m.matches(o.as_bytes()), "{o}");
        }
    }

    #[test]
    fn subdomain_patterns_cover_subdomains_only() {
        let m = matcher(&["https://*.example.com", "http://*.example.com:*"]);
        assert!(m.matches(b"https://a.example.com"));
        assert!(m.matches(b"https://a.b.example.com"));
        assert!(m.matches(b"http://bar.foo.example.com:8080"));
        assert!(m.matches(b"http://a.example.com"));
        for o in [
            "https://example.com",
            "http://example.com",
            "https://a.example.com:8443",
            "https://aexample.com",
            "https://a.example.com.evil.tld",
            "https://.example.com",
            "https://a..example.com",
            "https://A.example.com",
            "https://a.example.com.",
            "https://a!b.example.com",
            "https://a.example.com:443",
            "ftp://a.example.com",
        ] {
            assert!(!m.matches(o.as_bytes()), "{o}");
        }
    }

    #[test]
    fn any_port_patterns_cover_every_port_of_one_host() {
        let m = matcher(&["http://localhost:*", "http://[::1]:*"]);
        assert!(m.matches(b"http://localhost"));
        assert!(m.matches(b"http://localhost:1"));
        assert!(m.matches(b"http://localhost:65535"));
        assert!(m.matches(b"http://[::1]:8080"));
        for o in [
            "http://localhost:80",
            "http://localhost:065",
            "http://localhost:65536",
            "http://localhost:",
            "http://a.localhost:3000",
            "https://localhost:3000",
            "http://localhost:3000:1",
        ] {
            assert!(!m.matches(o.as_bytes()), "{o}");
        }
    }

    #[test]
    fn patterns_of_several_depths_and_ports_together() {
        let m = matcher(&[
            "https://*.example.com",
            "https://*.a.b.example.org",
            "https://*.example.org:8443",
            "http://localhost:*",
            "https://app.example.net",
            "https://*.fqdn.example.",
        ]);
        for o in [
            "https://x.example.com",
            "https://x.y.example.com",
            "https://x.a.b.example.org",
            "https://x.example.org:8443",
            "https://x.a.b.example.org:8443",
            "http://localhost:3000",
            "https://app.example.net",
            "https://x.fqdn.example.",
        ] {
            assert!(m.matches(o.as_bytes()), "{o}");
        }
        for o in [
            "https://example.com",
            "https://a.b.example.org",
            "https://x.b.example.org",
            "https://x.example.org",
            "https://x.example.org:8444",
            "http://x.localhost:3000",
            "https://x.app.example.net",
            "https://fqdn.example.",
            "https://x.fqdn.example",
            "https://x..example.com",
        ] {
            assert!(!m.matches(o.as_bytes()), "{o}");
        }
    }

    #[test]
    fn wildcard_matches_everything_and_long_input_nothing() {
        assert!(matcher(&["*"]).matches(b"null"));
        let m = matcher(&["https://*.example.com"]);
        let long = format!("https://{}.example.com", "a".repeat(400));
        assert!(!m.matches(long.as_bytes()));
    }

    #[test]
    fn splitting_request_origins() {
        let p = OriginParts::split(b"http://[::1]:8080").unwrap();
        assert_eq!(
            (p.scheme, p.host, p.port),
            (&b"http"[..], &b"[::1]"[..], 8080)
        );
        assert_eq!(OriginParts::split(b"https://a.example").unwrap().port, 0);
        assert!(OriginParts::split(b"https://a.example:443").is_none());
        assert!(OriginParts::split(b"https://:8080").is_none());
        assert!(OriginParts::split(b"http://[::1]x").is_none());
    }
}
