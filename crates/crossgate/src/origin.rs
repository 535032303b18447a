//! Origins, as the HTML and URL standards define them.
//!
//! An origin is either a tuple (scheme, host, port) or opaque. Its serialisation is what travels
//! in the `Origin` request header and in `Access-Control-Allow-Origin`: `scheme://host[:port]`,
//! with the scheme and host in lowercase, IDN hosts in punycode, IPv6 hosts bracketed and
//! compressed, and no port when it is the scheme's default. An opaque origin serialises as
//! `null`.
//!
//! URL parsing is the `url` crate's (a conformant WHATWG URL parser); this module adds the origin
//! rules on top: default ports, the strict `Origin` header grammar, and "potentially trustworthy".

use std::fmt;

pub use url::Host;
use url::Url;

/// An origin (HTML Standard, "origin").
///
/// `==` compares structurally; [`Origin::same_origin`] is the standard's "same origin", under
/// which an opaque origin derived from a URL is never the same as any other. `Display` (and
/// [`Origin::serialize`]) gives the serialisation browsers send in `Origin`.
///
/// ```
/// use crossgate::origin::{Host, Origin};
///
/// // The origin of a page: scheme, host and port; the path, query and default port go.
/// let page = Origin::from_url_str("https://Shop.Example.com:443/cart?item=7")?;
/// assert_eq!(page.to_string(), "https://shop.example.com");
/// assert_eq!(page.host(), Some(&Host::Domain("shop.example.com".to_owned())));
/// assert_eq!(page.effective_port(), Some(443));
///
/// // Same origin: scheme, host and port all equal.
/// let same = Origin::from_url_str("https://shop.example.com/checkout")?;
/// assert!(page.same_origin(&same));
/// // Same site, not same origin: another host under the same registrable domain. A request
/// // from one to the other is cross-origin, so CORS applies; `SameSite` cookies still go.
/// let api = Origin::from_url_str("https://api.example.com:8443/v1")?;
/// assert!(!page.same_origin(&api));
/// assert!(page.same_site(&api));
/// // Neither: another scheme, or sites under a public suffix (github.io) of different owners.
/// let plain = Origin::from_url_str("http://shop.example.com")?;
/// assert!(!page.same_origin(&plain) && !page.same_site(&plain));
/// let alice = Origin::from_url_str("https://alice.github.io")?;
/// let bob = Origin::from_url_str("https://bob.github.io")?;
/// assert!(!alice.same_site(&bob));
///
/// // A `data:` URL's origin is opaque: sent as `null`, and never the same as anything.
/// let data = Origin::from_url_str("data:text/plain,hi")?;
/// assert!(data.is_opaque() && !data.same_origin(&data));
/// assert_eq!(data.to_string(), "null");
///
/// // An `Origin` header is taken only in exactly the form browsers send.
/// assert_eq!(Origin::parse_header(b"https://shop.example.com")?, page);
/// assert!(Origin::parse_header(b"https://shop.example.com/").is_err());
/// # Ok::<(), crossgate::origin::OriginParseError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Origin {
    /// A tuple origin. `port` is `None` when the URL had no port or the scheme's default port.
    Tuple {
        /// The scheme, lowercase, without the `:` (`https`).
        scheme: String,
        /// The host as the URL Standard serialises it: a lowercase punycode domain, an IPv4
        /// address, or an IPv6 address (bracketed when displayed).
        host: Host<String>,
        /// The port, `None` when it is the scheme's default (see
        /// [`effective_port`](Origin::effective_port)).
        port: Option<u16>,
    },
    /// An opaque origin: `data:`, `file:` (as browsers treat it), a sandboxed document, or any
    /// scheme without a host-based origin. Serialises as `null`.
    Opaque,
}

/// Why a string is not an origin.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OriginParseError {
    /// Not a URL at all (the `url` crate's reason).
    Url(url::ParseError),
    /// An `Origin` header value that is not in canonical serialised form.
    NotCanonical,
}

impl fmt::Display for OriginParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OriginParseError::Url(e) => write!(f, "not a URL: {e}"),
            OriginParseError::NotCanonical => {
                f.write_str("not a serialised origin (scheme://host[:port], canonical form)")
            }
        }
    }
}

impl std::error::Error for OriginParseError {}

/// The default port of a special scheme (URL Standard, "default port").
pub fn default_port(scheme: &str) -> Option<u16> {
    match scheme {
        "http" | "ws" => Some(80),
        "https" | "wss" => Some(443),
        "ftp" => Some(21),
        _ => None,
    }
}

impl Origin {
    /// The origin of a parsed URL (URL Standard, "origin" of a URL). `blob:` URLs take the
    /// origin of their inner URL; `file:` and non-special schemes are opaque.
    pub fn of_url(url: &Url) -> Origin {
        match url.origin() {
            url::Origin::Tuple(scheme, host, port) => {
                let port = if default_port(&scheme) == Some(port) {
                    None
                } else {
                    Some(port)
                };
                Origin::Tuple { scheme, host, port }
            }
            url::Origin::Opaque(_) => Origin::Opaque,
        }
    }

    /// Parses a URL and returns its origin.
    pub fn from_url_str(input: &str) -> Result<Origin, OriginParseError> {
        Url::parse(input)
            .map(|u| Origin::of_url(&u))
            .map_err(OriginParseError::Url)
    }

    /// Parses an `Origin` header value by the standard's grammar (Fetch §3.2, `origin-or-null`):
    /// `null`, or an origin in exactly its canonical serialisation. Anything a browser would not
    /// send (upper case, a default port, a path, a trailing slash) is refused.
    pub fn parse_header(value: &[u8]) -> Result<Origin, OriginParseError> {
        if value == b"null" {
            return Ok(Origin::Opaque);
        }
        let text = std::str::from_utf8(value).map_err(|_| OriginParseError::NotCanonical)?;
        if !text.is_ascii() || !text.contains("://") {
            return Err(OriginParseError::NotCanonical);
        }
        let origin = Origin::from_url_str(text)?;
        match &origin {
            Origin::Tuple { .. } if origin.serialize() == text => Ok(origin),
            _ => Err(OriginParseError::NotCanonical),
        }
    }

    /// The ASCII serialisation (HTML Standard, "serialization of an origin").
    pub fn serialize(&self) -> String {
        self.to_string()
    }

    /// HTML Standard, "same origin": two tuple origins with equal scheme, host and port. Opaque
    /// origins made from URLs are each new, so they are never the same as another.
    pub fn same_origin(&self, other: &Origin) -> bool {
        match (self, other) {
            (Origin::Tuple { .. }, Origin::Tuple { .. }) => self == other,
            _ => false,
        }
    }

    /// HTML Standard, "same site": both opaque and the same (never, for URL-derived opaque
    /// origins), or tuple origins with the same scheme and the same registrable domain (the same
    /// host where there is none, as for IP addresses).
    pub fn same_site(&self, other: &Origin) -> bool {
        match (self, other) {
            (
                Origin::Tuple {
                    scheme: sa,
                    host: ha,
                    ..
                },
                Origin::Tuple {
                    scheme: sb,
                    host: hb,
                    ..
                },
            ) => sa == sb && site_of(ha) == site_of(hb),
            _ => false,
        }
    }

    /// The registrable domain of the origin's host (Public Suffix List, both sections), if it has
    /// one: `example.co.uk` for `https://a.example.co.uk`.
    pub fn registrable_domain(&self) -> Option<String> {
        match self {
            Origin::Tuple {
                host: Host::Domain(d),
                ..
            } => registrable_domain(d),
            _ => None,
        }
    }

    /// Whether the origin is opaque (a `data:` or `file:` document, a sandboxed one): it is
    /// sent as `Origin: null`, which no policy should allow.
    pub fn is_opaque(&self) -> bool {
        matches!(self, Origin::Opaque)
    }

    /// The lowercase scheme (`https`); `None` for an opaque origin.
    pub fn scheme(&self) -> Option<&str> {
        match self {
            Origin::Tuple { scheme, .. } => Some(scheme),
            Origin::Opaque => None,
        }
    }

    /// The host; `None` for an opaque origin.
    pub fn host(&self) -> Option<&Host<String>> {
        match self {
            Origin::Tuple { host, .. } => Some(host),
            Origin::Opaque => None,
        }
    }

    /// The port, with the scheme's default filled in (what a connection uses).
    pub fn effective_port(&self) -> Option<u16> {
        match self {
            Origin::Tuple { scheme, port, .. } => port.or_else(|| default_port(scheme)),
            Origin::Opaque => None,
        }
    }

    /// Secure Contexts, "potentially trustworthy origin": `https`/`wss`, loopback addresses and
    /// `localhost` names. A credentialed policy should only trust such origins, because anyone on
    /// the network path can impersonate a plain-`http` origin.
    pub fn is_potentially_trustworthy(&self) -> bool {
        match self {
            Origin::Opaque => false,
            Origin::Tuple { scheme, host, .. } => {
                matches!(scheme.as_str(), "https" | "wss") || host_is_loopback(host)
            }
        }
    }
}

/// Whether a host is a loopback address or a `localhost` name (RFC 6761 §6.3: `localhost` and
/// every name under `.localhost` resolve to loopback; browsers hard-wire this).
pub fn host_is_loopback<S: AsRef<str>>(host: &Host<S>) -> bool {
    match host {
        Host::Ipv4(ip) => ip.is_loopback(),
        // Secure Contexts §3.1 names 127.0.0.0/8 and ::1/128 only (not IPv4-mapped forms).
        Host::Ipv6(ip) => ip.is_loopback(),
        Host::Domain(name) => {
            let name = name.as_ref().strip_suffix('.').unwrap_or(name.as_ref());
            name == "localhost" || name.ends_with(".localhost")
        }
    }
}

/// URL Standard, "registrable domain": the public suffix plus one label, if the host has more.
pub fn registrable_domain(domain: &str) -> Option<String> {
    let domain = domain.strip_suffix('.').unwrap_or(domain);
    psl::domain(domain.as_bytes())
        .and_then(|d| std::str::from_utf8(d.as_bytes()).ok())
        .map(str::to_owned)
}

/// HTML Standard, "obtain a site" without the scheme: the registrable domain, else the host.
fn site_of(host: &Host<String>) -> String {
    match host {
        Host::Domain(d) => registrable_domain(d).unwrap_or_else(|| d.clone()),
        other => other.to_string(),
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Opaque => f.write_str("null"),
            Origin::Tuple { scheme, host, port } => {
                // `url::Host`'s Display brackets and compresses IPv6 (URL Standard, host serializer).
                write!(f, "{scheme}://{host}")?;
                if let Some(port) = port {
                    write!(f, ":{port}")?;
                }
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ser(input: &str) -> String {
        Origin::from_url_str(input).unwrap().serialize()
    }

    #[test]
    fn serialisation_follows_the_url_standard() {
        assert_eq!(ser("https://Example.COM:443/a?b#c"), "https://example.com");
        assert_eq!(ser("http://example.com:80"), "http://example.com");
        assert_eq!(ser("http://example.com:8080/"), "http://example.com:8080");
        assert_eq!(ser("https://example.com:80"), "https://example.com:80");
        assert_eq!(ser("ws://h:80"), "ws://h");
        assert_eq!(ser("wss://h:443"), "wss://h");
        assert_eq!(ser("http://[0:0:0:0:0:0:0:1]:81"), "http://[::1]:81");
        assert_eq!(ser("http://[::FFFF:127.0.0.1]"), "http://[::ffff:7f00:1]");
        assert_eq!(ser("http://127.1"), "http://127.0.0.1");
        assert_eq!(ser("https://bücher.de"), "https://xn--bcher-kva.de");
        assert_eq!(ser("https://user:pw@example.com"), "https://example.com");
        assert_eq!(ser("blob:https://a.example/uuid"), "https://a.example");
        assert_eq!(ser("data:text/plain,hi"), "null");
        assert_eq!(ser("file:///etc/passwd"), "null");
        assert_eq!(ser("foo://bar/baz"), "null");
    }

    #[test]
    fn header_grammar_is_strict() {
        for ok in [
            "https://example.com",
            "http://localhost:3000",
            "http://[::1]:8080",
            "https://xn--bcher-kva.de",
            "null",
        ] {
            assert!(Origin::parse_header(ok.as_bytes()).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "Null",
            "https://Example.com",
            "https://example.com/",
            "https://example.com:443",
            "https://example.com:0443",
            "https://bücher.de",
            "example.com",
            "https://user@example.com",
            "http://[0::1]",
            "http://127.1",
            "https://example.com, https://other.com",
            "foo://bar",
        ] {
            assert!(Origin::parse_header(bad.as_bytes()).is_err(), "{bad:?}");
        }
        assert!(Origin::parse_header(b"https://ex\xffample.com").is_err());
    }

    #[test]
    fn same_origin_compares_tuples_and_never_opaque() {
        let a = Origin::from_url_str("http://a.test/x").unwrap();
        let b = Origin::from_url_str("http://a.test:80/y").unwrap();
        let c = Origin::from_url_str("https://a.test").unwrap();
        assert!(a.same_origin(&b));
        assert!(!a.same_origin(&c));
        assert!(!Origin::Opaque.same_origin(&Origin::Opaque));
        assert_eq!(c.effective_port(), Some(443));
    }

    #[test]
    fn same_site_uses_the_public_suffix_list() {
        let o = |u: &str| Origin::from_url_str(u).unwrap();
        assert!(o("https://a.example.com").same_site(&o("https://b.example.com:8443")));
        assert!(!o("https://a.example.com").same_site(&o("http://a.example.com")));
        assert!(!o("https://a.github.io").same_site(&o("https://b.github.io")));
        assert!(o("https://x.a.github.io").same_site(&o("https://a.github.io")));
        assert!(o("https://a.example.co.uk").same_site(&o("https://example.co.uk")));
        assert!(!o("http://127.0.0.1:1").same_site(&o("http://127.0.0.2:1")));
        assert!(o("http://127.0.0.1:1").same_site(&o("http://127.0.0.1:2")));
        assert!(!Origin::Opaque.same_site(&Origin::Opaque));
        assert_eq!(
            o("https://a.b.example.co.uk")
                .registrable_domain()
                .as_deref(),
            Some("example.co.uk")
        );
    }

    #[test]
    fn trustworthiness() {
        for (url, want) in [
            ("https://a.example", true),
            ("http://a.example", false),
            ("http://localhost:3000", true),
            ("http://app.localhost", true),
            ("http://127.0.0.2", true),
            ("http://[::1]", true),
            ("http://localhost.example", false),
            ("data:,x", false),
        ] {
            let o = Origin::from_url_str(url).unwrap();
            assert_eq!(o.is_potentially_trustworthy(), want, "{url}");
        }
    }
}
