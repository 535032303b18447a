//! `crossgate audit`'s logic, without I/O: which probe origins to send to a target, and which
//! responses a browser would really let an attacker's page read (judged with the agent's CORS
//! check, as Chromium reads it), classified and rated (`misconfigurations.md` §2-§4).
//!
//! An audit goes in four steps, and the caller does the sending:
//!
//! 1. [`parse_target`] (or [`parse_target_list`], [`har_endpoints`]) turns what the user gave
//!    into URLs, and [`Target::new`] into the origin to probe;
//! 2. [`probes`] makes the [`Probe`] origins to send as `Origin`, each a simple request and a
//!    preflight;
//! 3. each response goes into an [`Observation`];
//! 4. [`judge`] runs Chromium's CORS check on each one and returns the [`Finding`]s, one per
//!    [`Class`], rated by the [`severity`] model.

mod estate;
mod judge;
mod probe;
pub mod severity;

use std::fmt;

use serde::Serialize;
use url::{Host, Url};

pub use estate::{
    Ask, BadLine, Endpoint, har_endpoints, merge_endpoints, parse_target, parse_target_list,
};
pub use judge::{
    Context, Observation, PROBE_HEADER, PROBE_METHOD, SESSION_PROBE_COOKIE, judge, mask_cookie,
};
pub use probe::{Generator, Probe, probes};

use crate::origin::{Origin, host_is_loopback, registrable_domain};

crate::codes::code_enum! {
    /// A misconfiguration class (CONTRACTS §7), named after the server's flawed check.
    ///
    /// Each variant says how it is rated by the one model of [`severity`]: a read's severity is the
    /// reach of the admitted origin when the user's cookies come along (one step lower when every
    /// cookie seen is `SameSite=Lax`/`Strict`, critical for a high reach with a session given
    /// with `-H`), at most medium without credentials on a private-network target, and info without
    /// credentials on a public one.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
    #[serde(rename_all = "kebab-case")]
    pub enum Class {
        /// Any origin is echoed. Reach: anyone (high with credentials).
        OriginReflection = "origin-reflection",
        /// `null` is admitted (sandboxed iframes, `data:` documents). Reach: anyone.
        NullOrigin = "null-origin",
        /// `https://api.example.com.evil.tld` passes. Reach: anyone (it is the attacker's DNS).
        PrefixMatch = "prefix-match",
        /// `https://evilexample.com` passes. Reach: anyone where the name is registrable, nobody
        /// (info) where it is not, subdomain holders where it falls under the target's domain.
        SuffixMatch = "suffix-match",
        /// A part of the trusted origin passes (`https://example.co`). Rated as `SuffixMatch`.
        SubstringMatch = "substring-match",
        /// `apiaexample.com` passes a regex's unescaped dot. Rated as `SuffixMatch`.
        UnescapedDot = "unescaped-dot",
        /// Every subdomain is admitted. Reach: whoever controls one (XSS, takeover): medium.
        SubdomainTrust = "subdomain-trust",
        /// An `http` origin is admitted by an `https` resource. Reach: the network path: medium,
        /// low with HSTS on the target.
        InsecureOrigin = "insecure-origin",
        /// `api.example.com_.evil.tld` passes. Reach by the browsers that keep the character in a
        /// host: all (`_`, `-`: high), Firefox and Safari (medium), Safari only (low).
        SpecialCharacters = "special-characters",
        /// A host where anyone publishes (github.io, codepen) is admitted. Reach: anyone.
        ThirdPartyOrigin = "third-party-origin",
        /// `http://localhost:PORT` is admitted. Reach: a program on the visitor's machine: low.
        LocalhostOrigin = "localhost-origin",
        /// Another port of the trusted host is admitted. Reach: whoever runs a service there: low.
        PortTrust = "port-trust",
        /// A spelling browsers never send passes (upper case, a trailing slash). Reach: nobody:
        /// info, a loose check and no more.
        NonCanonicalOrigin = "non-canonical-origin",
        /// `*` with `Access-Control-Allow-Credentials: true`: browsers refuse credentialed reads,
        /// so it grants what `*` grants (below).
        WildcardWithCredentials = "wildcard-with-credentials",
        /// `*`: any page reads without credentials: info on a public target, medium on a private
        /// one (the browser is the way in).
        WildcardOrigin = "wildcard-origin",
        /// A dynamic `Access-Control-Allow-Origin` without `Vary: Origin`: a cache can serve one
        /// origin's answer to another. It grants nothing; low when the response is cacheable by a
        /// shared cache (denial), info otherwise.
        MissingVary = "missing-vary",
        /// Preflights echo any method or header. One step below the widest read granted to an
        /// attacker's origin by a preflight, at most medium; info when only trusted origins pass.
        PreflightReflection = "preflight-reflection",
        /// `Access-Control-Allow-Private-Network: true` to any origin: medium on a private target,
        /// info on a public one.
        PrivateNetworkReflection = "private-network-reflection",
    }
}

impl Class {
    /// The class named `name` (its kebab-case name in reports).
    pub fn parse(name: &str) -> Option<Class> {
        Class::ALL.iter().copied().find(|c| c.as_str() == name)
    }

    /// The broader flaws that already explain this one, so that a report naming them leaves
    /// it out: a server that reflects every origin also passes every narrower probe, one that
    /// accepts anything after the trusted origin also accepts special characters and other
    /// ports there, and one that accepts any prefix before its domain also accepts its
    /// subdomains and dotless look-alikes.
    pub fn explained_by(self) -> &'static [Class] {
        use Class::*;
        match self {
            SpecialCharacters | PortTrust | NonCanonicalOrigin => &[OriginReflection, PrefixMatch],
            SubdomainTrust | UnescapedDot => &[OriginReflection, SuffixMatch],
            NullOrigin | PrefixMatch | SuffixMatch | SubstringMatch | InsecureOrigin
            | ThirdPartyOrigin | LocalhostOrigin => &[OriginReflection],
            OriginReflection
            | WildcardWithCredentials
            | WildcardOrigin
            | MissingVary
            | PreflightReflection
            | PrivateNetworkReflection => &[],
        }
    }

    /// One line on what the server does wrong.
    pub fn title(self) -> &'static str {
        match self {
            Class::OriginReflection => "Any origin is reflected in Access-Control-Allow-Origin",
            Class::NullOrigin => "The `null` origin is trusted",
            Class::PrefixMatch => "Origins that merely start with a trusted origin are trusted",
            Class::SuffixMatch => "Origins that merely end with the trusted domain are trusted",
            Class::SubstringMatch => "Origins contained in a trusted origin are trusted",
            Class::UnescapedDot => "A dot in an origin regex is not escaped",
            Class::SubdomainTrust => "Every subdomain is trusted",
            Class::InsecureOrigin => "A plain-http origin is trusted by an https resource",
            Class::SpecialCharacters => "Origins with special characters in the host are trusted",
            Class::ThirdPartyOrigin => "A third-party host where anyone can publish is trusted",
            Class::LocalhostOrigin => "localhost origins are trusted",
            Class::PortTrust => "Other ports of the trusted host are trusted",
            Class::NonCanonicalOrigin => "Non-canonical spellings of the origin are accepted",
            Class::WildcardWithCredentials => "Access-Control-Allow-Origin: * with credentials",
            Class::WildcardOrigin => "Access-Control-Allow-Origin: * (any page may read)",
            Class::MissingVary => "A dynamic Access-Control-Allow-Origin without Vary: Origin",
            Class::PreflightReflection => "Preflights echo any requested method and headers",
            Class::PrivateNetworkReflection => {
                "Private-network access is granted to any origin that asks"
            }
        }
    }

    /// What to do instead.
    pub fn remediation(self) -> &'static str {
        match self {
            Class::OriginReflection
            | Class::PrefixMatch
            | Class::SuffixMatch
            | Class::SubstringMatch
            | Class::UnescapedDot
            | Class::SpecialCharacters => {
                "Compare the Origin byte for byte against an allowlist of exact origins (or \
                 anchored `*.` patterns on your own domain); never reflect it or match it with \
                 startsWith/endsWith/contains or an unanchored, unescaped regex."
            }
            Class::NullOrigin => {
                "Never allow `null`: sandboxed iframes, data: and file: documents and redirected \
                 requests of any site send it."
            }
            Class::SubdomainTrust => {
                "Trust only the subdomains that need access; an XSS or a takeover of any \
                 subdomain otherwise reads this resource."
            }
            Class::InsecureOrigin => {
                "Allow only https origins (and loopback); anyone on the network path can \
                 impersonate an http origin. Serve HSTS with includeSubDomains."
            }
            Class::ThirdPartyOrigin => {
                "Remove hosts where anyone can publish (code playgrounds, github.io, ...) from \
                 the allowlist."
            }
            Class::LocalhostOrigin => "Allow localhost origins only in development configurations.",
            Class::PortTrust | Class::NonCanonicalOrigin => {
                "Match the serialised origin exactly, port included; browsers always send the \
                 canonical form."
            }
            Class::WildcardWithCredentials => {
                "Browsers refuse `*` with credentials: send the exact allowed origin with \
                 Access-Control-Allow-Credentials: true and Vary: Origin, or drop credentials."
            }
            Class::WildcardOrigin => {
                "Use `*` only for public data; a host reachable only from an intranet, VPN or \
                 localhost needs an exact allowlist."
            }
            Class::MissingVary => {
                "Send Vary: Origin on every response whose CORS headers depend on the Origin, \
                 including responses without one."
            }
            Class::PreflightReflection => {
                "List the allowed methods and headers explicitly instead of echoing the \
                 preflight's Access-Control-Request-Method and -Headers."
            }
            Class::PrivateNetworkReflection => {
                "Answer Access-Control-Allow-Private-Network: true only for the origins that \
                 need to reach this private-network service."
            }
        }
    }
}

impl fmt::Display for Class {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How bad a finding is, by what it grants an attacker (the [`severity`] model).
///
/// Ordered `Info < Low < Medium < High < Critical`: `crossgate audit --fail-on LEVEL` exits 1
/// on a finding at or above `LEVEL` (`high` by default).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Grants an attacker nothing a request from anywhere cannot get, or nothing yet (a
    /// spelling no browser sends, a grant to trusted origins only).
    Info,
    /// A credentialed read by few: a program on the visitor's machine, another port of the
    /// host, Safari users only, the network path to a host with HSTS. Also a cacheable answer
    /// without `Vary: Origin`.
    Low,
    /// A credentialed read by whoever controls a subdomain or the network path, or through
    /// Firefox and Safari only; a read without credentials of a private-network target; a
    /// high read that `SameSite` cookies hold back.
    Medium,
    /// Any web site can read the response with the visitor's cookies.
    High,
    /// As high, found while the audited requests carried the user's session (`-H Cookie` /
    /// `Authorization`, [`Context::authenticated`]).
    Critical,
}

impl Severity {
    /// The lowercase name (`info` ... `critical`) JSON reports and `--fail-on` use.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }

    /// The severity named `s` exactly as [`Severity::as_str`] writes it (lowercase), as read
    /// back from a `--baseline` report; `None` for any other text.
    pub fn parse(s: &str) -> Option<Severity> {
        [
            Severity::Info,
            Severity::Low,
            Severity::Medium,
            Severity::High,
            Severity::Critical,
        ]
        .into_iter()
        .find(|v| v.as_str() == s)
    }

    fn up(self) -> Severity {
        match self {
            Severity::Info => Severity::Low,
            Severity::Low => Severity::Medium,
            Severity::Medium => Severity::High,
            Severity::High | Severity::Critical => Severity::Critical,
        }
    }

    fn down(self) -> Severity {
        match self {
            Severity::Critical => Severity::High,
            Severity::High => Severity::Medium,
            Severity::Medium => Severity::Low,
            Severity::Low | Severity::Info => Severity::Info,
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A simple request (the method) or its preflight.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RequestKind {
    /// The request itself, with the audit's method (`GET` unless `-X` says otherwise) and the
    /// probe's `Origin`; `crossgate audit` sends the user's `-H` headers with it. Sent without
    /// a preflight, even for a method that would need one.
    Simple,
    /// An `OPTIONS` request with `Access-Control-Request-Method` (and `-Headers`), as a
    /// browser sends before a request that is not simple (Fetch §4.8,
    /// <https://fetch.spec.whatwg.org/#cors-preflight-fetch>).
    Preflight,
}

/// What is audited: the origin probes are computed for (`scheme://HOST[:PORT]`, the host
/// possibly named by a `Host` header), and its registrable domain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// The URL as given: where the requests go, even when a `Host` header names another host.
    pub url: Url,
    /// `http` or `https` (other schemes are refused by [`Target::new`]).
    pub scheme: String,
    /// The audited host: the URL's, or the one the `Host` header names.
    pub host: Host<String>,
    /// The audited port; `None` for the scheme's default port (as in an origin) and for a
    /// `Host` header without one.
    pub port: Option<u16>,
    /// The target's own origin, serialised.
    pub origin: String,
    /// The host's registrable domain by the Public Suffix List (`example.co.uk` for
    /// `api.example.co.uk`); `None` for an IP address or a name that is itself a public
    /// suffix. Probes that imitate the target's domain are built on it.
    pub registrable: Option<String>,
}

impl Target {
    /// The target of `url`, or of `host_header` (as `Host: name[:port]` names it) reached at
    /// `url`'s address.
    pub fn new(url: &Url, host_header: Option<&str>) -> Result<Target, String> {
        let mut named = url.clone();
        if let Some(host) = host_header {
            let (name, port) = match host.rsplit_once(':') {
                Some((n, p)) if !n.ends_with(']') || host.starts_with('[') => {
                    match p.parse::<u16>() {
                        Ok(p) => (n, Some(p)),
                        Err(_) => (host, None),
                    }
                }
                _ => (host, None),
            };
            named
                .set_host(Some(name))
                .map_err(|e| format!("Host `{host}`: {e}"))?;
            named
                .set_port(port)
                .map_err(|()| format!("Host `{host}`: the port cannot be set"))?;
        }
        let origin = Origin::of_url(&named);
        let Origin::Tuple { scheme, host, port } = origin.clone() else {
            return Err(format!(
                "`{named}` has an opaque origin: only http(s) URLs are audited"
            ));
        };
        if !matches!(scheme.as_str(), "http" | "https") {
            return Err(format!("`{scheme}:` URLs are not audited: use http(s)"));
        }
        let registrable = match &host {
            Host::Domain(d) => registrable_domain(d),
            _ => None,
        };
        Ok(Target {
            url: url.clone(),
            scheme,
            host,
            port,
            origin: origin.serialize(),
            registrable,
        })
    }

    /// `host[:port]` as it appears in the target's origin.
    pub fn authority(&self) -> String {
        match self.port {
            Some(p) => format!("{}:{p}", self.host),
            None => self.host.to_string(),
        }
    }

    /// Whether the host is loopback or a private address (where `*` matters).
    pub fn is_private(&self) -> bool {
        // Loopback and localhost names by the same rule as the rest of crossgate.
        host_is_loopback(&self.host)
            || match &self.host {
                Host::Ipv4(ip) => ip.is_private() || ip.is_link_local(),
                Host::Ipv6(ip) => (ip.segments()[0] & 0xfe00) == 0xfc00,
                Host::Domain(d) => [".local", ".internal", ".lan"]
                    .iter()
                    .any(|suffix| d.ends_with(suffix)),
            }
    }
}

/// A finding: one per class, the most severe observation of it as evidence.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// The misconfiguration: which flawed check the server runs.
    pub class: Class,
    /// The worst rating among the responses that showed the class.
    pub severity: Severity,
    /// The `Origin` sent in the request whose response is the evidence (`null` included).
    pub probe_origin: String,
    /// Whether the evidence answers the simple request or its preflight.
    pub request_kind: RequestKind,
    /// The response that proves it.
    pub evidence: Evidence,
    /// For a person: who can read the response, with or without the user's cookies, and how
    /// an attacker comes to hold such an origin.
    pub explanation: String,
    /// What to do instead: [`Class::remediation`].
    pub remediation: String,
    /// How many responses (simple requests and preflights counted apart) showed this class.
    pub probes: usize,
}

/// The response that proves a finding: its status and CORS-relevant header lines.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Evidence {
    /// The HTTP status code of the response.
    pub status: u16,
    /// The response's `Access-Control-*` lines and those that bear on the rating (`Vary`,
    /// `Cache-Control`, `Age`, `X-Cache`, `CF-Cache-Status`, `Strict-Transport-Security`,
    /// `Set-Cookie`, `Location`, `Content-Type`), in the order received, names as received.
    /// Values are read as UTF-8 (lossily); a `Set-Cookie` value is masked by [`mask_cookie`].
    pub headers: Vec<(String, String)>,
}
