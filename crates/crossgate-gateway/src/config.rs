//! The gateway's configuration file (CONTRACTS §5): `listen`, `upstream` and the `[cors]` policy.
//!
//! Read like the policy itself: parsed into a generic document, then walked field by field so
//! that every problem (a typo'd key, a wrong type, an address that does not parse, a policy
//! error) is reported at once, each with its path and a fix.

use std::fmt;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, SocketAddrV4};
use std::path::{Path, PathBuf};

use crossgate::policy::document::{Fields, Format, parse_document};
use crossgate::policy::{ProblemCode, Severity};
use crossgate::{Policy, PolicyConfig, Problem};
use serde_json::Value;

use crate::ValueError;
use crate::upstream::Upstream;

/// Everything `crossgate serve` needs to start.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GatewayConfig {
    /// Where the gateway listens; port 0 picks a free port.
    pub listen: SocketAddr,
    /// Where requests that are not preflights go.
    pub upstream: Upstream,
    /// The policy as written (validate it with `crossgate::Policy::new`).
    pub cors: PolicyConfig,
}

impl Default for GatewayConfig {
    /// Listen on `127.0.0.1:8080`, the built-in echo upstream, a policy that allows nothing.
    fn default() -> Self {
        GatewayConfig {
            listen: GatewayConfig::DEFAULT_LISTEN,
            upstream: Upstream::Echo,
            cors: PolicyConfig::default(),
        }
    }
}

impl GatewayConfig {
    /// The top-level keys of a gateway configuration file.
    pub const FIELDS: &'static [&'static str] = &["listen", "upstream", "cors"];

    /// `127.0.0.1:8080`: loopback only, so a gateway started without thinking is not reachable
    /// from the network.
    pub const DEFAULT_LISTEN: SocketAddr =
        SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 8080));

    /// What `crossgate serve` runs with no arguments (CONTRACTS §5): the default listen address
    /// and echo upstream, and a development policy for front ends on this machine:
    /// `http://localhost:*` and `http://127.0.0.1:*` with credentials, methods GET, HEAD, POST,
    /// PUT, PATCH, DELETE, headers `content-type` and `authorization`.
    pub fn development() -> GatewayConfig {
        let strings = |items: &[&str]| items.iter().map(|s| (*s).to_owned()).collect();
        GatewayConfig {
            cors: PolicyConfig {
                allow_origins: strings(&["http://localhost:*", "http://127.0.0.1:*"]),
                allow_credentials: true,
                allow_methods: strings(&["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]),
                allow_headers: strings(&["content-type", "authorization"]),
                ..PolicyConfig::default()
            },
            ..GatewayConfig::default()
        }
    }

    /// Reads a parsed configuration document, recording every problem in `problems` (paths such
    /// as `listen` or `cors.allow_origins[1]`). Fields with a problem keep their defaults.
    ///
    /// The policy is only read here, not validated: see [`GatewayConfig::load`], or validate
    /// `cors` with `crossgate::Policy::check`.
    pub fn from_value(value: &Value, problems: &mut Vec<Problem>) -> GatewayConfig {
        let mut config = GatewayConfig::default();
        // An empty YAML document (or one of only comments) is null: nothing is configured.
        if value.is_null() {
            return config;
        }
        let Some(fields) = Fields::new(value, "", Self::FIELDS, problems) else {
            return config;
        };
        if let Some(text) = fields.string("listen", problems) {
            match parse_listen(text) {
                Ok(addr) => config.listen = addr,
                Err(e) => problems.push(invalid("listen", text, e)),
            }
        }
        if let Some(text) = fields.string("upstream", problems) {
            match Upstream::parse(text) {
                Ok(upstream) => config.upstream = upstream,
                Err(e) => problems.push(invalid("upstream", text, e)),
            }
        }
        if let Some(cors) = fields.raw("cors") {
            config.cors = PolicyConfig::from_value(cors, "cors", problems);
        }
        fields.finish(problems);
        config
    }

    /// Reads, parses and validates a configuration file: TOML, JSON or YAML by its extension
    /// (any other extension is read as TOML, the documented format).
    ///
    /// On success, the configuration and its warnings (e.g. a `max_age` above a browser's cap);
    /// with any error, [`LoadError::Invalid`] with every problem, errors and warnings alike.
    pub fn load(path: &Path) -> Result<(GatewayConfig, Vec<Problem>), LoadError> {
        let bytes = std::fs::read(path).map_err(|source| LoadError::Read {
            path: path.to_owned(),
            source,
        })?;
        let invalid = |problems| LoadError::Invalid {
            path: path.to_owned(),
            problems,
        };
        let Ok(text) = String::from_utf8(bytes) else {
            return Err(invalid(vec![Problem::error(
                ProblemCode::Syntax,
                "",
                "",
                "the file is not UTF-8 text",
                "save it as UTF-8",
            )]));
        };
        let format = Format::from_path(path).unwrap_or(Format::Toml);
        let value = parse_document(&text, format).map_err(|p| invalid(vec![p]))?;
        let mut problems = Vec::new();
        let config = GatewayConfig::from_value(&value, &mut problems);
        let problems = Policy::check_document(&config.cors, problems, "cors").problems;
        if problems.iter().any(Problem::is_error) {
            Err(invalid(problems))
        } else {
            Ok((config, problems))
        }
    }
}

fn invalid(field: &str, value: &str, e: ValueError) -> Problem {
    Problem::error(ProblemCode::InvalidValue, field, value, e.message, e.fix)
}

/// Parses a listen address: an IP address and a port (`127.0.0.1:8080`, `[::1]:0`). Host names
/// are refused rather than resolved, so the address printed on start is the one bound.
pub fn parse_listen(input: &str) -> Result<SocketAddr, ValueError> {
    if let Ok(addr) = input.parse::<SocketAddr>() {
        return Ok(addr);
    }
    let (message, fix) = if let Ok(ip) = input.parse::<IpAddr>() {
        (
            "the address has no port".to_owned(),
            format!("add one: {}", SocketAddr::new(ip, 8080)),
        )
    } else if let Ok(port) = input.trim_start_matches(':').parse::<u16>() {
        (
            "the address has no IP address".to_owned(),
            format!(
                "write {} (loopback only) or 0.0.0.0:{port} (every interface)",
                SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port)
            ),
        )
    } else {
        let port = input
            .rsplit_once(':')
            .and_then(|(_, p)| p.parse::<u16>().ok())
            .unwrap_or(8080);
        (
            "expected an IP address and a port (host names are not resolved)".to_owned(),
            format!("write it as 127.0.0.1:{port} or [::1]:{port}"),
        )
    };
    Err(ValueError { message, fix })
}

/// Why a configuration file could not be used.
#[derive(Debug)]
pub enum LoadError {
    /// The file could not be read (missing, permissions): the command could not answer.
    Read { path: PathBuf, source: io::Error },
    /// The file was read and is not a valid configuration: every problem found, errors and
    /// warnings alike (at least one error).
    Invalid {
        path: PathBuf,
        problems: Vec<Problem>,
    },
}

impl LoadError {
    /// The problems of an invalid file; empty for a file that could not be read.
    pub fn problems(&self) -> &[Problem] {
        match self {
            LoadError::Read { .. } => &[],
            LoadError::Invalid { problems, .. } => problems,
        }
    }
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoadError::Read { path, source } => {
                write!(f, "cannot read {}: {source}", path.display())
            }
            LoadError::Invalid { path, problems } => {
                let n = problems
                    .iter()
                    .filter(|p| p.severity == Severity::Error)
                    .count();
                write!(
                    f,
                    "invalid configuration {} ({n} error{})",
                    path.display(),
                    if n == 1 { "" } else { "s" }
                )?;
                for p in problems {
                    write!(f, "\n  {p}")?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for LoadError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            LoadError::Read { source, .. } => Some(source),
            LoadError::Invalid { .. } => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listen_addresses() {
        assert_eq!(
            parse_listen("127.0.0.1:0").unwrap(),
            "127.0.0.1:0".parse().unwrap()
        );
        assert_eq!(parse_listen("[::1]:9").unwrap(), "[::1]:9".parse().unwrap());
        let e = parse_listen("127.0.0.1").unwrap_err();
        assert_eq!(e.fix, "add one: 127.0.0.1:8080");
        let e = parse_listen("3000").unwrap_err();
        assert!(e.fix.starts_with("write 127.0.0.1:3000"), "{e}");
        let e = parse_listen("localhost:3000").unwrap_err();
        assert!(e.message.contains("host names"), "{e}");
        assert_eq!(e.fix, "write it as 127.0.0.1:3000 or [::1]:3000");
    }

    #[test]
    fn the_development_config_is_a_valid_policy_without_warnings() {
        let config = GatewayConfig::development();
        assert_eq!(config.listen, GatewayConfig::DEFAULT_LISTEN);
        assert!(config.upstream.is_echo());
        let checked = Policy::check(&config.cors);
        assert!(checked.problems.is_empty(), "{:#?}", checked.problems);
        let policy = checked.policy.unwrap();
        assert!(policy.allows_origin(b"http://localhost:5173"));
        assert!(policy.allows_origin(b"http://127.0.0.1:3000"));
        assert!(!policy.allows_origin(b"http://example.com"));
        assert!(policy.allows_credentials());
    }

    #[test]
    fn an_empty_document_is_the_default() {
        let mut problems = Vec::new();
        let config = GatewayConfig::from_value(&Value::Null, &mut problems);
        assert!(problems.is_empty());
        assert_eq!(config, GatewayConfig::default());
        assert_eq!(config.listen.to_string(), "127.0.0.1:8080");
    }

    #[test]
    fn a_document_that_is_not_a_table_is_one_problem() {
        let mut problems = Vec::new();
        GatewayConfig::from_value(&serde_json::json!([1]), &mut problems);
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].code, ProblemCode::WrongType);
    }

    #[test]
    fn invalid_values_carry_the_value_and_the_fix() {
        let p = invalid(
            "listen",
            "x",
            ValueError {
                message: "m".into(),
                fix: "f".into(),
            },
        );
        assert_eq!(
            p.to_string(),
            "error[invalid-value]: listen = x: m (fix: f)"
        );
    }
}
