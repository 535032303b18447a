//! What is measured: one policy, expressed for each contender with the same semantics, and the
//! requests sent to it.
//!
//! The policy: credentials, methods `PUT` and `DELETE` (plus the safelisted ones), request
//! headers `content-type` and `authorization`, exposed header `x-request-id`, `max-age` 600, and
//! either N exact origins `https://app{i}.example.com` or 1,000 subdomain patterns
//! `https://*.tenant{i}.example.org`. The peers have no subdomain patterns: there they are the
//! origin predicate a user writes (a loop over the suffixes).

use bytes::Bytes;

/// The allowed origins of a policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Origins {
    /// `https://app{i}.example.com` for `i` in `0..n`.
    Exact(usize),
    /// `https://*.tenant{i}.example.org` for `i` in `0..n`.
    Subdomains(usize),
}

pub const METHODS: [&str; 2] = ["PUT", "DELETE"];
pub const HEADERS: [&str; 2] = ["content-type", "authorization"];
pub const EXPOSE: [&str; 1] = ["x-request-id"];
pub const MAX_AGE: u32 = 600;
/// The path of the application's one route (`GET`).
pub const PATH: &str = "/items";

impl Origins {
    pub fn label(self) -> String {
        match self {
            Origins::Exact(1) => "1 origin".to_owned(),
            Origins::Exact(n) => format!("{} origins", thousands(n)),
            Origins::Subdomains(n) => format!("{} `*.` patterns", thousands(n)),
        }
    }

    /// The patterns, as crossgate's configuration spells them.
    pub fn patterns(self) -> Vec<String> {
        match self {
            Origins::Exact(n) => (0..n)
                .map(|i| format!("https://app{i}.example.com"))
                .collect(),
            Origins::Subdomains(n) => (0..n)
                .map(|i| format!("https://*.tenant{i}.example.org"))
                .collect(),
        }
    }

    /// The exact origins (empty for patterns).
    pub fn exact(self) -> Vec<String> {
        match self {
            Origins::Exact(_) => self.patterns(),
            Origins::Subdomains(_) => Vec::new(),
        }
    }

    /// The suffixes a subdomain predicate looks for: `.tenant{i}.example.org` (empty for exact
    /// origins).
    pub fn suffixes(self) -> Vec<String> {
        match self {
            Origins::Exact(_) => Vec::new(),
            Origins::Subdomains(n) => (0..n).map(|i| format!(".tenant{i}.example.org")).collect(),
        }
    }

    /// An allowed origin: the middle entry of the list (what a linear scan pays on average).
    pub fn allowed(self) -> String {
        match self {
            Origins::Exact(n) => format!("https://app{}.example.com", n / 2),
            Origins::Subdomains(n) => format!("https://api.tenant{}.example.org", n / 2),
        }
    }
}

/// The origin every policy refuses.
pub const DISALLOWED: &str = "https://evil.example.net";

/// The user-written subdomain predicate the peers get: `https://` then a host with one of the
/// suffixes, and a non-empty subdomain part made of lowercase letters, digits, `-` and `.`.
pub fn matches_suffix(origin: &[u8], suffixes: &[String]) -> bool {
    let Some(host) = origin.strip_prefix(b"https://") else {
        return false;
    };
    suffixes.iter().any(|s| {
        host.len() > s.len()
            && host.ends_with(s.as_bytes())
            && host[..host.len() - s.len()]
                .iter()
                .all(|&b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.'))
    })
}

/// The kind of request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `GET` from an allowed origin.
    ActualAllowed,
    /// `GET` from a refused origin.
    ActualDisallowed,
    /// `GET` without `Origin` (same-origin, or server to server).
    NoOrigin,
    /// A preflight for `PUT` with `authorization,content-type`, from an allowed origin.
    PreflightAllowed,
    /// The same preflight from a refused origin.
    PreflightDenied,
    /// A preflight from an allowed origin whose `Access-Control-Request-Headers` is this many
    /// bytes: `authorization,content-type,x-h0,x-h1,...` (distinct names).
    HostilePreflight(usize),
}

impl Kind {
    pub fn label(self) -> String {
        match self {
            Kind::ActualAllowed => "GET, allowed origin".to_owned(),
            Kind::ActualDisallowed => "GET, refused origin".to_owned(),
            Kind::NoOrigin => "GET, no Origin".to_owned(),
            Kind::PreflightAllowed => "preflight, allowed".to_owned(),
            Kind::PreflightDenied => "preflight, refused origin".to_owned(),
            Kind::HostilePreflight(n) if n >= 1 << 20 => {
                format!("preflight, {} MiB ACRH", n >> 20)
            }
            Kind::HostilePreflight(n) => format!("preflight, {} KiB ACRH", n >> 10),
        }
    }

    pub fn is_preflight(self) -> bool {
        !matches!(
            self,
            Kind::ActualAllowed | Kind::ActualDisallowed | Kind::NoOrigin
        )
    }

    /// Whether the origin is one the policy allows.
    pub fn origin_allowed(self) -> bool {
        matches!(
            self,
            Kind::ActualAllowed | Kind::PreflightAllowed | Kind::HostilePreflight(_)
        )
    }
}

/// A request as it arrives: method, path and header lines, the values slices of one buffer as
/// hyper's parser makes them (so cloning a value is a reference count).
#[derive(Clone, Debug)]
pub struct RequestSpec {
    pub method: &'static str,
    pub path: &'static str,
    /// Header names (lowercase) and their values, slices of one shared buffer.
    pub headers: Vec<(&'static str, Bytes)>,
}

const USER_AGENT: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:135.0) Gecko/20100101 Firefox/135.0";

impl RequestSpec {
    /// The request a browser sends for `kind` to a policy allowing `origins`.
    pub fn new(kind: Kind, origins: Origins) -> RequestSpec {
        let origin = match kind {
            Kind::ActualDisallowed | Kind::PreflightDenied => Some(DISALLOWED.to_owned()),
            Kind::NoOrigin => None,
            _ => Some(origins.allowed()),
        };
        let mut lines: Vec<(&'static str, Vec<u8>)> = vec![
            ("host", b"api.example.com".to_vec()),
            ("user-agent", USER_AGENT.into()),
            (
                "accept",
                if kind.is_preflight() {
                    b"*/*".to_vec()
                } else {
                    b"application/json".to_vec()
                },
            ),
            ("accept-language", b"en-US,en;q=0.5".to_vec()),
            ("accept-encoding", b"gzip, deflate, br, zstd".to_vec()),
        ];
        if kind.is_preflight() {
            lines.push(("access-control-request-method", b"PUT".to_vec()));
            let acrh = match kind {
                Kind::HostilePreflight(len) => hostile_acrh(len),
                _ => b"authorization,content-type".to_vec(),
            };
            lines.push(("access-control-request-headers", acrh));
        }
        if let Some(origin) = &origin {
            lines.push(("origin", origin.as_bytes().to_vec()));
            lines.push(("referer", format!("{origin}/").into_bytes()));
        }
        lines.extend([
            ("sec-fetch-dest", b"empty".to_vec()),
            ("sec-fetch-mode", b"cors".to_vec()),
            (
                "sec-fetch-site",
                if origin.is_some() {
                    b"cross-site".to_vec()
                } else {
                    b"same-origin".to_vec()
                },
            ),
            ("connection", b"keep-alive".to_vec()),
        ]);
        let mut buffer = Vec::new();
        let mut spans = Vec::new();
        for (_, value) in &lines {
            spans.push(buffer.len()..buffer.len() + value.len());
            buffer.extend_from_slice(value);
        }
        let shared = Bytes::from(buffer);
        RequestSpec {
            method: if kind.is_preflight() {
                "OPTIONS"
            } else {
                "GET"
            },
            path: PATH,
            headers: lines
                .iter()
                .zip(spans)
                .map(|((name, _), span)| (*name, shared.slice(span)))
                .collect(),
        }
    }

    pub fn header(&self, name: &str) -> Option<&Bytes> {
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v)
    }
}

/// `authorization,content-type,x-h0,x-h1,...`, exactly `len` bytes (the last name cut short).
pub fn hostile_acrh(len: usize) -> Vec<u8> {
    let mut out = b"authorization,content-type".to_vec();
    let mut i = 0usize;
    while out.len() < len {
        out.extend_from_slice(format!(",x-h{i}").as_bytes());
        i += 1;
    }
    out.truncate(len);
    if out.last() == Some(&b',') {
        out.pop();
        out.push(b'x');
    }
    out
}

/// One measured situation: a policy and a request.
#[derive(Clone, Debug)]
pub struct Case {
    pub kind: Kind,
    pub origins: Origins,
    pub request: RequestSpec,
}

impl Case {
    pub fn new(kind: Kind, origins: Origins) -> Case {
        Case {
            kind,
            origins,
            request: RequestSpec::new(kind, origins),
        }
    }

    /// `GET, allowed origin / 10,000 origins`
    pub fn label(&self) -> String {
        format!("{} / {}", self.kind.label(), self.origins.label())
    }

    /// A short identifier for criterion (no spaces, no slashes).
    pub fn id(&self) -> String {
        let kind = match self.kind {
            Kind::ActualAllowed => "get-allowed".to_owned(),
            Kind::ActualDisallowed => "get-refused".to_owned(),
            Kind::NoOrigin => "get-no-origin".to_owned(),
            Kind::PreflightAllowed => "preflight-allowed".to_owned(),
            Kind::PreflightDenied => "preflight-refused".to_owned(),
            Kind::HostilePreflight(n) => format!("preflight-acrh-{}k", n >> 10),
        };
        let origins = match self.origins {
            Origins::Exact(n) => format!("{n}-origins"),
            Origins::Subdomains(n) => format!("{n}-patterns"),
        };
        format!("{kind}.{origins}")
    }
}

/// The policy sizes every request kind is measured with.
pub const POLICIES: [Origins; 4] = [
    Origins::Exact(1),
    Origins::Exact(100),
    Origins::Exact(10_000),
    Origins::Subdomains(1_000),
];

/// Every case: each ordinary request kind with every policy size, then the hostile preflights
/// with one origin.
pub fn all() -> Vec<Case> {
    let mut cases = Vec::new();
    for kind in [
        Kind::ActualAllowed,
        Kind::ActualDisallowed,
        Kind::NoOrigin,
        Kind::PreflightAllowed,
        Kind::PreflightDenied,
    ] {
        for origins in POLICIES {
            cases.push(Case::new(kind, origins));
        }
    }
    for len in [64 << 10, 1 << 20] {
        cases.push(Case::new(Kind::HostilePreflight(len), Origins::Exact(1)));
    }
    cases
}

/// The policy sizes the service clone is measured with.
pub const CLONE_POLICIES: [Origins; 2] = [Origins::Exact(1), Origins::Exact(10_000)];

/// The cases measured with a live policy beside the fixed one.
pub fn live() -> Vec<Case> {
    vec![
        Case::new(Kind::ActualAllowed, Origins::Exact(1)),
        Case::new(Kind::PreflightAllowed, Origins::Exact(1)),
        Case::new(Kind::ActualAllowed, Origins::Exact(10_000)),
        Case::new(Kind::ActualDisallowed, Origins::Subdomains(1_000)),
    ]
}

/// The cases measured with the request's origin resolved on demand beside listed.
pub fn resolved() -> Vec<Case> {
    vec![
        Case::new(Kind::ActualAllowed, Origins::Exact(1)),
        Case::new(Kind::PreflightAllowed, Origins::Exact(1)),
        Case::new(Kind::ActualAllowed, Origins::Exact(10_000)),
        Case::new(Kind::PreflightAllowed, Origins::Exact(10_000)),
    ]
}

/// The policy sizes at which one origin edit is measured beside a rebuild.
pub const EDIT_POLICIES: [Origins; 2] = [Origins::Exact(1_000), Origins::Exact(100_000)];

fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_lists_have_the_exact_length_and_no_empty_element() {
        for len in [64 << 10, 1 << 20] {
            let v = hostile_acrh(len);
            assert_eq!(v.len(), len);
            assert!(!v.windows(2).any(|w| w == b",,"));
            assert!(v.starts_with(b"authorization,content-type,x-h0,x-h1,"));
        }
    }

    #[test]
    fn requests_share_one_buffer_and_carry_the_right_origin() {
        let r = RequestSpec::new(Kind::PreflightAllowed, Origins::Exact(10_000));
        assert_eq!(
            r.header("origin").unwrap(),
            &b"https://app5000.example.com"[..]
        );
        assert_eq!(
            r.header("access-control-request-method").unwrap(),
            &b"PUT"[..]
        );
        assert!(
            RequestSpec::new(Kind::NoOrigin, Origins::Exact(1))
                .header("origin")
                .is_none()
        );
        let r = RequestSpec::new(Kind::ActualAllowed, Origins::Subdomains(1000));
        assert_eq!(
            r.header("origin").unwrap(),
            &b"https://api.tenant500.example.org"[..]
        );
    }

    #[test]
    fn the_peers_subdomain_predicate_matches_what_crossgate_matches() {
        let s = Origins::Subdomains(3).suffixes();
        assert!(matches_suffix(b"https://a.tenant2.example.org", &s));
        assert!(matches_suffix(b"https://a.b.tenant0.example.org", &s));
        for o in [
            "https://tenant1.example.org",
            "https://.tenant1.example.org",
            "http://a.tenant1.example.org",
            "https://a.tenant3.example.org",
            "https://A.tenant1.example.org",
            "https://a.tenant1.example.org.evil",
        ] {
            assert!(!matches_suffix(o.as_bytes(), &s), "{o}");
        }
    }

    #[test]
    fn labels() {
        assert_eq!(Origins::Exact(10_000).label(), "10,000 origins");
        assert_eq!(Origins::Subdomains(1_000).label(), "1,000 `*.` patterns");
        assert_eq!(
            Kind::HostilePreflight(1 << 20).label(),
            "preflight, 1 MiB ACRH"
        );
        assert_eq!(
            Kind::HostilePreflight(64 << 10).label(),
            "preflight, 64 KiB ACRH"
        );
        assert_eq!(all().len(), 22);
    }
}
