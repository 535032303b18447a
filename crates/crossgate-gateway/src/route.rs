//! Routes (`[[routes]]`): a path prefix and optionally a host, the upstream it goes to, its own
//! CORS policy and its header hygiene. The longest matching prefix wins.
//!
//! Only configured upstreams are ever contacted: a request that no route matches is answered
//! 404 by the gateway itself. There is no open-proxy mode.

use crossgate::policy::ProblemCode;
use crossgate::policy::document::Fields;
use crossgate::policy::{PolicyConfig, Problem};
use serde_json::Value;

use crate::upstream::Upstream;

/// What the upstream is told about the client (`Forwarded`, `X-Forwarded-For/-Proto/-Host`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ForwardedMode {
    /// Keep the chain earlier proxies wrote and append this hop (the default). The client's
    /// claims are passed on as claims: `X-Forwarded-Proto` and `-Host` are always replaced, and
    /// the gateway itself never trusts any of them.
    #[default]
    Append,
    /// Drop whatever the client sent and write only this hop: for a gateway that faces clients
    /// directly, so the upstream never sees a forged chain.
    Replace,
    /// Send none of these headers (the client's removed too): the upstream learns nothing
    /// about the client's address.
    Off,
}

impl ForwardedMode {
    fn parse(s: &str) -> Option<ForwardedMode> {
        match s {
            "append" => Some(ForwardedMode::Append),
            "replace" => Some(ForwardedMode::Replace),
            "off" => Some(ForwardedMode::Off),
            _ => None,
        }
    }

    /// The mode as written in the `forwarded` key: `append`, `replace` or `off`.
    pub fn as_str(self) -> &'static str {
        match self {
            ForwardedMode::Append => "append",
            ForwardedMode::Replace => "replace",
            ForwardedMode::Off => "off",
        }
    }
}

/// One `[[routes]]` table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouteConfig {
    /// The name in metrics and logs; by default the host (if any) and the prefix.
    pub name: String,
    /// The path prefix, matched segment by segment: `/api` matches `/api` and `/api/items`,
    /// not `/apis`.
    pub prefix: String,
    /// The host the request must be addressed to (`Host`, or `:authority` in HTTP/2),
    /// compared case-insensitively; without a port it matches any port.
    pub host: Option<String>,
    /// Where the route's requests go (`upstream`): an `http://` origin server, with an optional
    /// base path, or the built-in echo upstream.
    pub upstream: Upstream,
    /// Remove the prefix before joining the path onto the upstream's base path.
    pub strip_prefix: bool,
    /// The route's own policy; `None` falls back to the top-level `[cors]`. Once loaded, its
    /// `allow_origins` include those of its `allow_origins_file`.
    pub cors: Option<PolicyConfig>,
    /// `[routes.cors] allow_origins_file`, as written.
    pub cors_origins_file: Option<String>,
    /// Pass the upstream's own CORS answers through: preflights go to the upstream, and its
    /// `Access-Control-*` headers are kept. The route's policy then only speaks for the
    /// gateway's own answers (413, 502, 504, ...).
    pub keep_upstream_cors: bool,
    /// What the upstream is told about the client (`forwarded`: `"append"`, the default,
    /// `"replace"` or `"off"`).
    pub forwarded: ForwardedMode,
    /// Remove `Cookie` from requests.
    pub strip_cookie: bool,
    /// Remove `Set-Cookie` from responses.
    pub strip_set_cookie: bool,
}

impl RouteConfig {
    /// The keys of a `[[routes]]` table; any other key is an unknown-field problem.
    pub const FIELDS: &'static [&'static str] = &[
        "name",
        "prefix",
        "host",
        "upstream",
        "strip_prefix",
        "cors",
        "keep_upstream_cors",
        "forwarded",
        "strip_cookie",
        "strip_set_cookie",
    ];

    /// A route for every path to `upstream`, under the top-level policy.
    pub fn catch_all(upstream: Upstream) -> RouteConfig {
        RouteConfig {
            name: "/".to_owned(),
            prefix: "/".to_owned(),
            host: None,
            upstream,
            strip_prefix: false,
            cors: None,
            cors_origins_file: None,
            keep_upstream_cors: false,
            forwarded: ForwardedMode::Append,
            strip_cookie: false,
            strip_set_cookie: false,
        }
    }

    /// Reads `routes[index]`; `None` when it is not a table or lacks `prefix` or `upstream`
    /// (each a problem).
    pub(crate) fn from_value(
        value: &Value,
        path: &str,
        problems: &mut Vec<Problem>,
    ) -> Option<RouteConfig> {
        let fields = Fields::new(value, path, Self::FIELDS, problems)?;
        let missing = |key: &str, example: &str| {
            Problem::error(
                ProblemCode::InvalidValue,
                fields.path_of(key),
                "",
                format!("a route needs `{key}`"),
                format!("add {key} = {example}"),
            )
        };
        let mut ok = true;
        let prefix = match fields.string("prefix", problems) {
            Some(p) => match check_prefix(p) {
                Ok(()) => Some(p.to_owned()),
                Err((message, fix)) => {
                    problems.push(Problem::error(
                        ProblemCode::InvalidValue,
                        fields.path_of("prefix"),
                        p,
                        message,
                        fix,
                    ));
                    None
                }
            },
            None => {
                if fields.raw("prefix").is_none() {
                    problems.push(missing("prefix", "\"/api\""));
                }
                None
            }
        };
        ok &= prefix.is_some();
        let upstream = match fields.string("upstream", problems) {
            Some(text) => match Upstream::parse(text) {
                Ok(u) => Some(u),
                Err(e) => {
                    problems.push(Problem::error(
                        ProblemCode::InvalidValue,
                        fields.path_of("upstream"),
                        text,
                        e.message,
                        e.fix,
                    ));
                    None
                }
            },
            None => {
                if fields.raw("upstream").is_none() {
                    problems.push(missing("upstream", "\"http://127.0.0.1:3000\""));
                }
                None
            }
        };
        ok &= upstream.is_some();
        let host = fields.string("host", problems).and_then(|h| {
            let lower = h.trim().to_ascii_lowercase();
            let valid = !lower.is_empty()
                && http::uri::Authority::try_from(lower.as_str())
                    .is_ok_and(|a| a.as_str() == lower && !a.as_str().contains('@'));
            if valid {
                Some(lower)
            } else {
                problems.push(Problem::error(
                    ProblemCode::InvalidValue,
                    fields.path_of("host"),
                    h,
                    "not a host name (with an optional port)",
                    "write the host clients address, e.g. \"api.example.com\" or \"api.example.com:8443\"",
                ));
                ok = false;
                None
            }
        });
        let forwarded = match fields.string("forwarded", problems) {
            Some(s) => match ForwardedMode::parse(s) {
                Some(m) => m,
                None => {
                    problems.push(Problem::error(
                        ProblemCode::InvalidValue,
                        fields.path_of("forwarded"),
                        s,
                        "unknown mode",
                        "write \"append\" (keep the chain, add this hop), \"replace\" (only this hop) or \"off\" (none)",
                    ));
                    ForwardedMode::Append
                }
            },
            None => ForwardedMode::Append,
        };
        let (cors, cors_origins_file) = match fields.raw("cors") {
            Some(v) => {
                let (cors, file) =
                    crate::origins_file::read_policy_table(v, &fields.path_of("cors"), problems);
                (Some(cors), file)
            }
            None => (None, None),
        };
        let strip_prefix = fields.bool("strip_prefix", problems).unwrap_or(false);
        let keep_upstream_cors = fields.bool("keep_upstream_cors", problems).unwrap_or(false);
        let strip_cookie = fields.bool("strip_cookie", problems).unwrap_or(false);
        let strip_set_cookie = fields.bool("strip_set_cookie", problems).unwrap_or(false);
        let name = fields.string("name", problems).map(str::to_owned);
        fields.finish(problems);
        let prefix = prefix?;
        if !ok {
            return None;
        }
        Some(RouteConfig {
            name: name.unwrap_or_else(|| format!("{}{prefix}", host.as_deref().unwrap_or(""))),
            prefix,
            host,
            upstream: upstream?,
            strip_prefix,
            cors,
            cors_origins_file,
            keep_upstream_cors,
            forwarded,
            strip_cookie,
            strip_set_cookie,
        })
    }
}

fn check_prefix(p: &str) -> Result<(), (String, String)> {
    if !p.starts_with('/') {
        return Err((
            "a prefix is a path and starts with `/`".to_owned(),
            format!("write \"/{}\"", p.trim_start_matches('/')),
        ));
    }
    if p.contains(['?', '#']) || p.bytes().any(|b| b <= b' ' || b >= 0x7f) {
        return Err((
            "a prefix is a plain path: no query, fragment, spaces or non-ASCII".to_owned(),
            "write only the path, percent-encoded as clients send it".to_owned(),
        ));
    }
    if has_dot_segment(p) || p.contains("//") {
        return Err((
            "a prefix may not have empty, `.` or `..` segments".to_owned(),
            "write the path as browsers send it, e.g. \"/api/v1\"".to_owned(),
        ));
    }
    Ok(())
}

/// Whether a request path has a `.` or `..` segment, written plainly or percent-encoded
/// (`%2e`). Browsers remove them before sending, and an upstream that resolves them could serve
/// `/public/../private` under the `/public` route's policy, so such requests are refused.
pub(crate) fn has_dot_segment(path: &str) -> bool {
    path.split('/').any(|segment| {
        let mut rest = segment.as_bytes();
        let mut dots = 0;
        while !rest.is_empty() {
            if rest[0] == b'.' {
                rest = &rest[1..];
            } else if rest.len() >= 3
                && rest[0] == b'%'
                && rest[1] == b'2'
                && rest[2] | 0x20 == b'e'
            {
                rest = &rest[3..];
            } else {
                return false;
            }
            dots += 1;
        }
        dots == 1 || dots == 2
    })
}

/// Whether `path` is under `prefix`, segment by segment.
pub(crate) fn prefix_matches(prefix: &str, path: &str) -> bool {
    if prefix == "/" {
        return true;
    }
    match path.strip_prefix(prefix) {
        Some(rest) => prefix.ends_with('/') || rest.is_empty() || rest.starts_with('/'),
        None => false,
    }
}

/// The path left after removing `prefix` (always starting with `/`).
pub(crate) fn strip<'p>(prefix: &str, path_and_query: &'p str) -> std::borrow::Cow<'p, str> {
    let prefix = prefix.trim_end_matches('/');
    let rest = &path_and_query[prefix.len().min(path_and_query.len())..];
    if rest.starts_with('/') {
        rest.into()
    } else {
        format!("/{rest}").into()
    }
}

/// Whether the request's host (`Host` or `:authority`, as sent) is `route_host`.
pub(crate) fn host_matches(route_host: &str, request_host: &[u8]) -> bool {
    if request_host.eq_ignore_ascii_case(route_host.as_bytes()) {
        return true;
    }
    // A route host without a port matches the host on any port.
    if has_port(route_host.as_bytes()) {
        return false;
    }
    let without_port = match request_host.iter().rposition(|b| *b == b':') {
        Some(colon) if has_port(request_host) => &request_host[..colon],
        _ => request_host,
    };
    without_port.eq_ignore_ascii_case(route_host.as_bytes())
}

fn has_port(authority: &[u8]) -> bool {
    match authority.iter().rposition(|b| *b == b':') {
        // `[::1]` has colons but no port; `[::1]:80` has one after the bracket.
        Some(colon) => !authority[colon..].contains(&b']'),
        None => false,
    }
}

/// Reads `routes`, checking that no two routes share a host and prefix.
pub(crate) fn read(fields: &Fields<'_>, problems: &mut Vec<Problem>) -> Vec<RouteConfig> {
    let Some(raw) = fields.raw("routes") else {
        return Vec::new();
    };
    let Value::Array(items) = raw else {
        problems.push(Problem::error(
            ProblemCode::WrongType,
            "routes",
            crossgate::policy::document::render(raw),
            format!(
                "expected a list of route tables, found {}",
                crossgate::policy::document::type_name(raw)
            ),
            "write each route as a [[routes]] table",
        ));
        return Vec::new();
    };
    let mut routes: Vec<RouteConfig> = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let path = format!("routes[{i}]");
        let Some(route) = RouteConfig::from_value(item, &path, problems) else {
            continue;
        };
        if let Some(earlier) = routes
            .iter()
            .position(|r| r.prefix == route.prefix && r.host == route.host)
        {
            problems.push(Problem::error(
                ProblemCode::Duplicate,
                format!("{path}.prefix"),
                route.prefix.clone(),
                format!(
                    "another route has the same host and prefix (`{}`)",
                    routes[earlier].name
                ),
                "remove one of them, or give them different prefixes or hosts",
            ));
        }
        routes.push(route);
    }
    routes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_match_by_segment() {
        assert!(prefix_matches("/", "/anything"));
        assert!(prefix_matches("/api", "/api"));
        assert!(prefix_matches("/api", "/api/items"));
        assert!(!prefix_matches("/api", "/apis"));
        assert!(!prefix_matches("/api", "/ap"));
        assert!(prefix_matches("/api/", "/api/items"));
        assert!(!prefix_matches("/api/", "/api"));
    }

    #[test]
    fn stripping_a_prefix_keeps_a_path() {
        assert_eq!(strip("/api", "/api/items?x=1"), "/items?x=1");
        assert_eq!(strip("/api", "/api"), "/");
        assert_eq!(strip("/api", "/api?x"), "/?x");
        assert_eq!(strip("/api/", "/api/items"), "/items");
        assert_eq!(strip("/", "/items"), "/items");
    }

    #[test]
    fn hosts_match_with_or_without_port() {
        assert!(host_matches("api.example.com", b"API.example.com"));
        assert!(host_matches("api.example.com", b"api.example.com:8443"));
        assert!(!host_matches("api.example.com:8443", b"api.example.com"));
        assert!(host_matches(
            "api.example.com:8443",
            b"api.example.com:8443"
        ));
        assert!(!host_matches("api.example.com", b"api.example.com.evil"));
        assert!(host_matches("[::1]", b"[::1]:80"));
        assert!(host_matches("[::1]", b"[::1]"));
    }

    #[test]
    fn dot_segments_are_found_however_written() {
        for path in [
            "/a/../b",
            "/a/./b",
            "/a/%2e%2e/b",
            "/a/%2E./b",
            "/..",
            "/a/.%2e",
        ] {
            assert!(has_dot_segment(path), "{path}");
        }
        for path in ["/a/b", "/a/.well-known", "/a/...", "/a/b.c", "/"] {
            assert!(!has_dot_segment(path), "{path}");
        }
    }

    #[test]
    fn routes_report_every_problem() {
        let doc = serde_json::json!({ "routes": [
            {"prefix": "api", "upstream": "ftp://x", "forwarded": "sometimes", "hots": "a"},
            {"upstream": "echo"},
            {"prefix": "/a", "upstream": "echo", "host": "a b"},
            {"prefix": "/b", "upstream": "echo"},
            {"prefix": "/b", "upstream": "echo", "name": "again"},
            "not a table",
        ]});
        let mut problems = Vec::new();
        let fields = Fields::new(&doc, "", &["routes"], &mut problems).unwrap();
        let routes = read(&fields, &mut problems);
        let got: Vec<(&str, ProblemCode)> = problems
            .iter()
            .map(|p| (p.field.as_str(), p.code))
            .collect();
        assert_eq!(
            got,
            [
                ("routes[0].prefix", ProblemCode::InvalidValue),
                ("routes[0].upstream", ProblemCode::InvalidValue),
                ("routes[0].forwarded", ProblemCode::InvalidValue),
                ("routes[0].hots", ProblemCode::UnknownField),
                ("routes[1].prefix", ProblemCode::InvalidValue),
                ("routes[2].host", ProblemCode::InvalidValue),
                ("routes[4].prefix", ProblemCode::Duplicate),
                ("routes[5]", ProblemCode::WrongType),
            ],
            "{problems:#?}"
        );
        assert_eq!(problems[0].fix, "write \"/api\"");
        assert_eq!(problems[3].fix, "did you mean `host`?");
        let names: Vec<&str> = routes.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["/b", "again"]);
    }
}
