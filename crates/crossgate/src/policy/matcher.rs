//! Origin matching whose cost does not depend on how many origins are allowed.
//!
//! Exact origins live in a hash set of their serialisations: one hash of the request's `Origin`
//! bytes. `*.` subdomain patterns and `:*` port patterns live in a table keyed by scheme and host
//! (or base): one hash of the request's host, plus one per distinct label count of the `*.`
//! bases. Either way the work is bounded by the length of the `Origin` header, which is itself
//! capped, never by the size of the policy. Both tables are [`Sharded`], so a copy edited by one
//! pattern shares all but one shard with the original.
//!
//! The request's `Origin` is compared byte for byte with normal forms: browsers always send the
//! canonical serialisation, so anything else (upper case, a default port, a leading zero)
//! matches nothing.

use super::pattern::{HostPattern, OriginPattern, PortPattern};
use super::sharded::{Keyed, Sharded};
use crate::origin::default_port;

/// No serialised origin is longer: a 64-byte scheme, `://`, a 253-byte host plus its optional
/// root `.` (a fully qualified name, which patterns may name) or a bracketed IPv6 address, `:`
/// and five digits.
pub const MAX_ORIGIN_LEN: usize = 64 + 3 + 254 + 6;

/// Where a pattern stands in the list it came from: patterns are listed back in this order.
type Seq = u64;

/// Ports allowed for the hosts under one `*.` base. `0` stands for "no port" (the scheme's
/// default), which no real port can be.
#[derive(Clone, Debug, Default)]
struct Ports {
    /// `:*`, if listed.
    any: Option<Seq>,
    /// Listed ports, sorted.
    ports: Vec<(u16, Seq)>,
}

impl Ports {
    fn number(port: PortPattern) -> Option<u16> {
        match port {
            PortPattern::Any => None,
            PortPattern::Default => Some(0),
            PortPattern::Port(p) => Some(p),
        }
    }

    /// Adds `port`; false if it was listed already.
    fn add(&mut self, port: PortPattern, seq: Seq) -> bool {
        match Ports::number(port) {
            None => set_once(&mut self.any, seq),
            Some(p) => match self.ports.binary_search_by_key(&p, |e| e.0) {
                Ok(_) => false,
                Err(at) => {
                    self.ports.insert(at, (p, seq));
                    true
                }
            },
        }
    }

    /// Removes `port`; false if it was not listed.
    fn remove(&mut self, port: PortPattern) -> bool {
        match Ports::number(port) {
            None => self.any.take().is_some(),
            Some(p) => match self.ports.binary_search_by_key(&p, |e| e.0) {
                Ok(at) => {
                    self.ports.remove(at);
                    true
                }
                Err(_) => false,
            },
        }
    }

    fn has(&self, port: PortPattern) -> bool {
        match Ports::number(port) {
            None => self.any.is_some(),
            Some(p) => self.ports.binary_search_by_key(&p, |e| e.0).is_ok(),
        }
    }

    fn is_empty(&self) -> bool {
        self.any.is_none() && self.ports.is_empty()
    }

    /// Whether a request on `port` (`0`: none) is allowed.
    #[inline]
    fn covers(&self, port: u16) -> bool {
        self.any.is_some() || self.ports.binary_search_by_key(&port, |e| e.0).is_ok()
    }
}

/// Sets `slot` to `seq` unless it is set already (a pattern listed again keeps its place).
fn set_once(slot: &mut Option<Seq>, seq: Seq) -> bool {
    if slot.is_some() {
        return false;
    }
    *slot = Some(seq);
    true
}

/// An exact origin (its serialisation) and where it was listed.
#[derive(Clone, Debug)]
struct Exact {
    origin: Box<[u8]>,
    seq: Seq,
}

impl Keyed for Exact {
    fn key_bytes(&self) -> &[u8] {
        &self.origin
    }
}

/// The `:*` and `*.` patterns of one scheme and host (the pattern's host, or the base a `*.`
/// stands before). Keyed by the host alone (the scheme, nearly always `https`, is compared).
#[derive(Clone, Debug)]
struct HostEntry {
    scheme: Box<[u8]>,
    host: Box<[u8]>,
    /// The host itself on any port (`scheme://host:*`); exact ports live in the exact set.
    any_port: Option<Seq>,
    /// The hosts strictly under it.
    subdomains: Ports,
}

impl Keyed for HostEntry {
    fn key_bytes(&self) -> &[u8] {
        &self.host
    }
}

/// Matches request origins against a set of patterns. Cheap to copy (see [`Sharded`]); patterns
/// can be added and removed one at a time, so that a policy of 100,000 origins can be edited
/// without being rebuilt.
#[derive(Clone, Default)]
pub(crate) struct OriginMatcher {
    any: Option<Seq>,
    exact: Sharded<Exact>,
    hosts: Sharded<HostEntry>,
    /// The label counts of the `*.` bases, ascending, with how many patterns have each (one or
    /// two counts in practice): a request host is looked up once per count, cut to that many
    /// labels from the right.
    depths: Vec<(usize, usize)>,
    /// How many `:*` patterns name a host (if any, the request's whole host is looked up).
    port_patterns: usize,
    /// How many patterns there are.
    count: usize,
    next_seq: Seq,
}

/// How a pattern is stored: `*`, an exact origin, or under a host entry.
enum Slot<'a> {
    Any,
    Exact(String),
    AnyPort {
        scheme: &'a str,
        host: String,
    },
    Subdomains {
        scheme: &'a str,
        base: &'a str,
        port: PortPattern,
    },
}

fn slot(pattern: &OriginPattern) -> Slot<'_> {
    match pattern {
        OriginPattern::Any => Slot::Any,
        OriginPattern::Origins { scheme, host, port } => match (host, port) {
            (HostPattern::Exact(_), PortPattern::Default | PortPattern::Port(_)) => {
                Slot::Exact(pattern.to_string())
            }
            (HostPattern::Exact(h), PortPattern::Any) => Slot::AnyPort {
                scheme,
                host: h.to_string(),
            },
            (HostPattern::Subdomains(base), port) => Slot::Subdomains {
                scheme,
                base,
                port: *port,
            },
        },
    }
}

impl OriginMatcher {
    /// An empty matcher sized for about `len` exact origins.
    pub(crate) fn with_capacity(len: usize) -> OriginMatcher {
        OriginMatcher {
            exact: Sharded::with_capacity(len),
            ..OriginMatcher::default()
        }
    }

    /// The number of patterns.
    pub(crate) fn len(&self) -> usize {
        self.count
    }

    fn host_entry(&self, scheme: &str, host: &str) -> Option<&HostEntry> {
        self.hosts
            .get(host.as_bytes(), |e| *e.scheme == *scheme.as_bytes())
    }

    /// Adds `pattern`; false (and nothing changes) if it is there already.
    pub(crate) fn insert(&mut self, pattern: &OriginPattern) -> bool {
        let seq = self.next_seq;
        let added = match slot(pattern) {
            Slot::Any => set_once(&mut self.any, seq),
            Slot::Exact(origin) => {
                let entry = Exact {
                    origin: origin.into_bytes().into_boxed_slice(),
                    seq,
                };
                if self.exact.get(&entry.origin, |_| true).is_some() {
                    false
                } else {
                    self.exact.upsert_by(entry, |_, _| true);
                    true
                }
            }
            Slot::AnyPort { scheme, host } => {
                let added = self.edit_host(scheme, &host, |e| set_once(&mut e.any_port, seq));
                self.port_patterns += usize::from(added);
                added
            }
            Slot::Subdomains { scheme, base, port } => {
                let added = self.edit_host(scheme, base, |e| e.subdomains.add(port, seq));
                if added {
                    let depth = labels(base.as_bytes());
                    match self.depths.binary_search_by_key(&depth, |d| d.0) {
                        Ok(at) => self.depths[at].1 += 1,
                        Err(at) => self.depths.insert(at, (depth, 1)),
                    }
                }
                added
            }
        };
        if added {
            self.next_seq += 1;
            self.count += 1;
        }
        added
    }

    /// Removes `pattern`; false if it was not there.
    pub(crate) fn remove(&mut self, pattern: &OriginPattern) -> bool {
        let removed = match slot(pattern) {
            Slot::Any => self.any.take().is_some(),
            Slot::Exact(origin) => self.exact.remove(origin.as_bytes(), |_| true).is_some(),
            Slot::AnyPort { scheme, host } => {
                let removed = self.edit_host(scheme, &host, |e| e.any_port.take().is_some());
                self.port_patterns -= usize::from(removed);
                removed
            }
            Slot::Subdomains { scheme, base, port } => {
                let removed = self.edit_host(scheme, base, |e| e.subdomains.remove(port));
                if removed {
                    let depth = labels(base.as_bytes());
                    if let Ok(at) = self.depths.binary_search_by_key(&depth, |d| d.0) {
                        self.depths[at].1 -= 1;
                        if self.depths[at].1 == 0 {
                            self.depths.remove(at);
                        }
                    }
                }
                removed
            }
        };
        self.count -= usize::from(removed);
        removed
    }

    /// Applies `edit` to the entry of (`scheme`, `host`), created if missing and dropped if
    /// left empty. Returns what `edit` returns.
    fn edit_host(
        &mut self,
        scheme: &str,
        host: &str,
        edit: impl FnOnce(&mut HostEntry) -> bool,
    ) -> bool {
        let same_scheme = |e: &HostEntry| *e.scheme == *scheme.as_bytes();
        let changed = match self.hosts.get_mut(host.as_bytes(), same_scheme) {
            Some(entry) => edit(entry),
            None => {
                let mut entry = HostEntry {
                    scheme: scheme.as_bytes().into(),
                    host: host.as_bytes().into(),
                    any_port: None,
                    subdomains: Ports::default(),
                };
                let changed = edit(&mut entry);
                if changed {
                    self.hosts.upsert_by(entry, |a, b| a.scheme == b.scheme);
                }
                return changed;
            }
        };
        if self
            .host_entry(scheme, host)
            .is_some_and(|e| e.any_port.is_none() && e.subdomains.is_empty())
        {
            self.hosts.remove(host.as_bytes(), same_scheme);
        }
        changed
    }

    /// The patterns in normal form, in the order they were added.
    pub(crate) fn patterns(&self) -> Vec<String> {
        let mut listed: Vec<(Seq, String)> = Vec::with_capacity(self.len());
        listed.extend(self.any.map(|seq| (seq, "*".to_owned())));
        listed.extend(
            self.exact
                .iter()
                .map(|e| (e.seq, String::from_utf8_lossy(&e.origin).into_owned())),
        );
        for e in self.hosts.iter() {
            let scheme = String::from_utf8_lossy(&e.scheme);
            let host = String::from_utf8_lossy(&e.host);
            listed.extend(e.any_port.map(|seq| (seq, format!("{scheme}://{host}:*"))));
            listed.extend(
                e.subdomains
                    .any
                    .map(|seq| (seq, format!("{scheme}://*.{host}:*"))),
            );
            listed.extend(e.subdomains.ports.iter().map(|&(port, seq)| {
                let port = if port == 0 {
                    String::new()
                } else {
                    format!(":{port}")
                };
                (seq, format!("{scheme}://*.{host}{port}"))
            }));
        }
        listed.sort_unstable_by_key(|e| e.0);
        listed.into_iter().map(|e| e.1).collect()
    }

    /// Another pattern that allows every origin `pattern` allows, as text: the same host (or
    /// base) on any port, or a `*.` pattern on a strict parent whose labels the matcher would
    /// accept in front. Bounded by the number of labels of the pattern's host.
    pub(crate) fn covering(&self, pattern: &OriginPattern) -> Option<String> {
        let OriginPattern::Origins { scheme, host, port } = pattern else {
            return None;
        };
        let (host, sub, ip) = match host {
            HostPattern::Exact(h) => (
                h.to_string(),
                false,
                matches!(h, url::Host::Ipv4(_) | url::Host::Ipv6(_)),
            ),
            HostPattern::Subdomains(base) => (base.clone(), true, false),
        };
        let star = if sub { "*." } else { "" };
        if *port != PortPattern::Any
            && let Some(e) = self.host_entry(scheme, &host)
            && (if sub {
                e.subdomains.any.is_some()
            } else {
                e.any_port.is_some()
            })
        {
            return Some(format!("{scheme}://{star}{host}:*"));
        }
        if ip {
            return None;
        }
        for (dot, _) in host.match_indices('.') {
            let (prefix, base) = (&host[..dot], &host[dot + 1..]);
            if base.is_empty() || !is_subdomain_part(prefix.as_bytes()) {
                continue;
            }
            let Some(e) = self.host_entry(scheme, base) else {
                continue;
            };
            if e.subdomains.any.is_some() {
                return Some(format!("{scheme}://*.{base}:*"));
            }
            if *port != PortPattern::Any && e.subdomains.has(*port) {
                return Some(format!("{scheme}://*.{base}{}", port_text(*port)));
            }
        }
        None
    }

    /// Whether every origin is allowed.
    pub(crate) fn is_any(&self) -> bool {
        self.any.is_some()
    }

    /// Whether the request's `Origin` bytes are allowed. Never allocates; at most one hash of
    /// the whole `Origin`, plus one per distinct label count of the `*.` patterns.
    pub(crate) fn matches(&self, origin: &[u8]) -> bool {
        if self.any.is_some() {
            return true;
        }
        if origin.len() > MAX_ORIGIN_LEN {
            return false;
        }
        if self.exact.get(origin, |_| true).is_some() {
            return true;
        }
        if self.hosts.is_empty() {
            return false;
        }
        let Some(parts) = OriginParts::split(origin) else {
            return false;
        };
        let (scheme, host) = (parts.scheme, parts.host);
        let entry = |host: &[u8]| self.hosts.get(host, |e| *e.scheme == *scheme);
        if self.port_patterns > 0 && entry(host).is_some_and(|e| e.any_port.is_some()) {
            return true;
        }
        for &(depth, _) in &self.depths {
            // The request host cut before its last `depth` labels: the subdomain part must be
            // left of a dot.
            let Some(dot) = nth_dot_from_right(host, depth) else {
                break;
            };
            let (sub, base) = (&host[..dot], &host[dot + 1..]);
            if entry(base).is_some_and(|e| e.subdomains.covers(parts.port))
                && is_subdomain_part(sub)
            {
                return true;
            }
        }
        false
    }
}

fn port_text(port: PortPattern) -> String {
    match port {
        PortPattern::Default => String::new(),
        PortPattern::Port(p) => format!(":{p}"),
        PortPattern::Any => ":*".to_owned(),
    }
}

impl std::fmt::Debug for OriginMatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OriginMatcher")
            .field("patterns", &self.len())
            .finish()
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
fn is_subdomain_part(sub: &[u8]) -> bool {
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
pub(crate) struct OriginParts<'a> {
    pub scheme: &'a [u8],
    pub host: &'a [u8],
    pub port: u16,
}

impl<'a> OriginParts<'a> {
    pub(crate) fn split(origin: &'a [u8]) -> Option<OriginParts<'a>> {
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
        let mut m = OriginMatcher::default();
        for p in patterns {
            assert!(m.insert(&parse_pattern(p).unwrap().pattern), "{p}");
        }
        m
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
