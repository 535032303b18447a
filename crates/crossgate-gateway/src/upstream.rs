//! Where the gateway sends what it does not answer itself.

use std::fmt;
use std::str::FromStr;

use http::uri::{Authority, Uri};

use crate::ValueError;

/// The gateway's upstream: the built-in echo service or an `http://` origin server.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub enum Upstream {
    /// The built-in echo upstream (in-process, no network hop): answers every request with a
    /// JSON description of what an upstream would have received. The default, so that
    /// `crossgate serve` with no arguments shows a policy at work.
    #[default]
    Echo,
    /// An origin server reached over plain HTTP/1.1.
    Http(HttpUpstream),
}

/// An `http://host[:port][/base/path]` upstream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpUpstream {
    authority: Authority,
    /// The base path without a trailing slash: empty, or `/api`.
    base_path: String,
}

fn refuse(message: impl Into<String>, fix: impl Into<String>) -> ValueError {
    ValueError {
        message: message.into(),
        fix: fix.into(),
    }
}

impl Upstream {
    /// The word that names the built-in echo upstream where a URL is expected
    /// (`--upstream echo`, `upstream = "echo"`).
    pub const ECHO: &'static str = "echo";

    /// Parses `echo` or an absolute `http://` URL with an optional base path.
    ///
    /// Refused: other schemes (`https` is not supported yet, since the gateway has no TLS
    /// client), userinfo (credentials in a URL end up in logs; send them as headers), a query or
    /// a fragment (a base URL has no meaningful place for them).
    pub fn parse(input: &str) -> Result<Upstream, ValueError> {
        if input == Self::ECHO {
            return Ok(Upstream::Echo);
        }
        let Some((scheme, rest)) = input.split_once("://") else {
            return Err(refuse(
                "not an absolute URL",
                format!("write it as http://{input}, or \"echo\" for the built-in echo upstream"),
            ));
        };
        if scheme.eq_ignore_ascii_case("https") {
            return Err(refuse(
                "https upstreams are not supported yet (the gateway has no TLS client)",
                format!(
                    "use a plain http:// upstream, e.g. http://{rest}, or a local TLS-terminating proxy in front of the real server"
                ),
            ));
        }
        if !scheme.eq_ignore_ascii_case("http") {
            return Err(refuse(
                format!("unsupported scheme `{scheme}`"),
                format!("write it as http://{rest}"),
            ));
        }
        let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(authority_end);
        if let Some((_, host)) = authority.rsplit_once('@') {
            return Err(refuse(
                "an upstream URL may not carry userinfo (credentials in a URL end up in logs)",
                format!("write it as http://{host}{tail} and send credentials as headers"),
            ));
        }
        if tail.contains('#') {
            return Err(refuse(
                "an upstream URL may not have a fragment",
                format!("remove it: http://{}", strip_after(rest, '#')),
            ));
        }
        if tail.contains('?') {
            return Err(refuse(
                "an upstream URL may not have a query (each request brings its own)",
                format!("remove it: http://{}", strip_after(rest, '?')),
            ));
        }
        if authority.is_empty() {
            return Err(refuse(
                "the URL has no host",
                "write it as http://HOST[:PORT], e.g. http://127.0.0.1:3000",
            ));
        }
        let uri: Uri = format!("http://{rest}").parse().map_err(|e| {
            refuse(
                format!("not a valid URL: {e}"),
                "write it as http://HOST[:PORT][/PATH], e.g. http://127.0.0.1:3000",
            )
        })?;
        let authority = uri
            .authority()
            .cloned()
            .filter(|a| !a.host().is_empty())
            .ok_or_else(|| {
                refuse(
                    "the URL has no host",
                    "write it as http://HOST[:PORT], e.g. http://127.0.0.1:3000",
                )
            })?;
        if let Some(port) = authority.port()
            && port.as_u16() == 0
        {
            return Err(refuse(
                "port 0 cannot be connected to",
                "write the port the upstream listens on",
            ));
        }
        let base_path = uri.path().trim_end_matches('/').to_owned();
        Ok(Upstream::Http(HttpUpstream {
            authority,
            base_path,
        }))
    }

    /// Whether this is the built-in echo upstream.
    pub fn is_echo(&self) -> bool {
        matches!(self, Upstream::Echo)
    }

    /// A line for humans: "built-in echo upstream" or the URL.
    pub fn describe(&self) -> String {
        self.to_string()
    }
}

fn strip_after(s: &str, c: char) -> &str {
    s.split_once(c).map_or(s, |(before, _)| before)
}

impl FromStr for Upstream {
    type Err = ValueError;

    fn from_str(s: &str) -> Result<Upstream, ValueError> {
        Upstream::parse(s)
    }
}

impl fmt::Display for Upstream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Upstream::Echo => f.write_str("built-in echo upstream"),
            Upstream::Http(http) => http.fmt(f),
        }
    }
}

impl HttpUpstream {
    /// `host[:port]`, as sent in `Host`.
    pub fn authority(&self) -> &Authority {
        &self.authority
    }

    /// The base path every request path is joined onto: empty or `/api` (no trailing slash).
    pub fn base_path(&self) -> &str {
        &self.base_path
    }

    /// The origin-form target sent upstream: a request target (`/items?x=1`) joined onto the
    /// base path (`/api/items?x=1`). `Host` carries the authority.
    pub(crate) fn target_for(&self, path_and_query: &str) -> Result<Uri, http::uri::InvalidUri> {
        if self.base_path.is_empty() {
            Uri::try_from(path_and_query)
        } else {
            Uri::try_from(format!("{}{path_and_query}", self.base_path))
        }
    }
}

impl fmt::Display for HttpUpstream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "http://{}{}", self.authority, self.base_path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn http(s: &str) -> HttpUpstream {
        match Upstream::parse(s).unwrap() {
            Upstream::Http(h) => h,
            Upstream::Echo => panic!("{s} parsed as echo"),
        }
    }

    #[test]
    fn accepts_http_urls_and_echo() {
        assert_eq!(Upstream::parse("echo").unwrap(), Upstream::Echo);
        let u = http("http://127.0.0.1:3000");
        assert_eq!(u.authority().as_str(), "127.0.0.1:3000");
        assert_eq!(u.base_path(), "");
        assert_eq!(u.to_string(), "http://127.0.0.1:3000");
        let u = http("HTTP://backend/api/");
        assert_eq!(u.base_path(), "/api");
        assert_eq!(u.to_string(), "http://backend/api");
        let u = http("http://[::1]:8000/v1");
        assert_eq!(u.authority().as_str(), "[::1]:8000");
    }

    #[test]
    fn joins_request_targets_onto_the_base_path() {
        let u = http("http://backend:81/api/");
        assert_eq!(
            u.target_for("/items?x=1").unwrap().to_string(),
            "/api/items?x=1"
        );
        assert_eq!(u.target_for("/").unwrap().to_string(), "/api/");
        let root = http("http://backend");
        assert_eq!(root.target_for("/a/b").unwrap().to_string(), "/a/b");
    }

    #[test]
    fn refuses_what_is_not_a_plain_http_base_url() {
        let cases = [
            ("https://backend", "https upstreams are not supported yet"),
            ("ftp://backend", "unsupported scheme"),
            ("backend:3000", "not an absolute URL"),
            ("http://user:pw@backend/", "userinfo"),
            ("http://backend/?a=1", "query"),
            ("http://backend/x#top", "fragment"),
            ("http://", "no host"),
            ("http:///path", "no host"),
            ("http://backend:0", "port 0"),
            ("http://back end", "not a valid URL"),
        ];
        for (input, why) in cases {
            let err = Upstream::parse(input).unwrap_err();
            assert!(err.message.contains(why), "{input}: {err}");
            assert!(!err.fix.is_empty(), "{input}");
        }
        let err = Upstream::parse("https://backend:8443/api").unwrap_err();
        assert_eq!(
            err.fix,
            "use a plain http:// upstream, e.g. http://backend:8443/api, or a local TLS-terminating proxy in front of the real server"
        );
        let err = Upstream::parse("http://u:p@backend/x").unwrap_err();
        assert!(err.fix.contains("http://backend/x"), "{err}");
    }

    #[test]
    fn describes_itself() {
        assert_eq!(Upstream::Echo.describe(), "built-in echo upstream");
        assert_eq!(
            Upstream::parse("http://localhost:3000/")
                .unwrap()
                .describe(),
            "http://localhost:3000"
        );
    }
}
