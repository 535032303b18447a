//! The gateway's configuration file (CONTRACTS §5): `listen`, `upstream`, the `[cors]` policy,
//! `[[routes]]`, `[limits]`, `[timeouts]`, `[tls]` and `[admin]`.
//!
//! Read like the policy itself: parsed into a generic document, then walked field by field so
//! that every problem (a typo'd key, a wrong type, an address that does not parse, a policy
//! error) is reported at once, each with its path and a fix.

use std::fmt;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, SocketAddrV4};
use std::path::{Path, PathBuf};

use crossgate::policy::document::{Fields, Format, parse_document};
use crossgate::policy::{Policy, PolicyConfig, Problem};
use crossgate::policy::{ProblemCode, Severity};
use serde_json::Value;

use crate::ValueError;
use crate::limits::{self, Limits, Timeouts};
use crate::origins_file;
use crate::route::{self, RouteConfig};
use crate::upstream::Upstream;

/// Everything `crossgate serve` needs to start.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GatewayConfig {
    /// Where the gateway listens; port 0 picks a free port.
    pub listen: SocketAddr,
    /// The top-level upstream: without routes, where every request goes (the built-in echo
    /// upstream when `None`); with routes, where requests that no route matches go (answered
    /// 404 when `None`).
    pub upstream: Option<Upstream>,
    /// The top-level policy: every route without its own `[routes.cors]` uses it. Once loaded,
    /// its `allow_origins` include those of its `allow_origins_file`.
    pub cors: PolicyConfig,
    /// `[cors] allow_origins_file`, as written (relative to the configuration file).
    pub cors_origins_file: Option<String>,
    /// Every origin list file read for this configuration, resolved (the loader's record of
    /// what to watch: see [`GatewayConfig::origin_files`]).
    pub(crate) origin_files: Vec<PathBuf>,
    /// The `[[routes]]`, in file order.
    pub routes: Vec<RouteConfig>,
    /// `[limits]`: request sizes and the number of open connections; each key left out keeps
    /// its default ([`Limits::default`]).
    pub limits: Limits,
    /// `[timeouts]`: the upstream's, the client's and shutdown's; each key left out keeps its
    /// default ([`Timeouts::default`]).
    pub timeouts: Timeouts,
    /// `[tls]`: terminate TLS with this certificate chain and key.
    pub tls: Option<TlsFiles>,
    /// `[admin] listen`: where `/metrics`, `/healthz` and `/readyz` are served (off when
    /// `None`).
    pub admin: Option<SocketAddr>,
}

/// `[tls]`: PEM files, read when the gateway starts and again on every reload. Relative paths
/// are relative to the configuration file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsFiles {
    /// The certificate chain, leaf first.
    pub cert: PathBuf,
    /// The private key (PKCS #8, PKCS #1 or SEC1).
    pub key: PathBuf,
}

impl Default for GatewayConfig {
    /// Listen on `127.0.0.1:8080`, the built-in echo upstream, a policy that allows nothing.
    fn default() -> Self {
        GatewayConfig {
            listen: GatewayConfig::DEFAULT_LISTEN,
            upstream: None,
            cors: PolicyConfig::default(),
            cors_origins_file: None,
            origin_files: Vec::new(),
            routes: Vec::new(),
            limits: Limits::default(),
            timeouts: Timeouts::default(),
            tls: None,
            admin: None,
        }
    }
}

impl GatewayConfig {
    /// Every origin list file read for this configuration, resolved against the configuration
    /// file's directory: a reload watches them for changes.
    pub fn origin_files(&self) -> &[PathBuf] {
        &self.origin_files
    }

    /// The top-level keys of a gateway configuration file.
    pub const FIELDS: &'static [&'static str] = &[
        "listen", "upstream", "cors", "routes", "limits", "timeouts", "tls", "admin",
    ];

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

    /// A configuration with one upstream for every path under one policy (what
    /// [`crate::Gateway::bind`] serves).
    pub fn single(listen: SocketAddr, upstream: Upstream, cors: PolicyConfig) -> GatewayConfig {
        GatewayConfig {
            listen,
            upstream: Some(upstream),
            cors,
            ..GatewayConfig::default()
        }
    }

    /// The routes in force: the configured ones, then a catch-all `/` route to the top-level
    /// upstream unless a route already covers every path of every host. Without routes and
    /// without an upstream, the catch-all goes to the built-in echo upstream.
    pub fn routes_in_force(&self) -> Vec<RouteConfig> {
        let mut routes = self.routes.clone();
        let covered = routes.iter().any(|r| r.prefix == "/" && r.host.is_none());
        let fallback = match (&self.upstream, routes.is_empty()) {
            (Some(upstream), _) => Some(upstream.clone()),
            (None, true) => Some(Upstream::Echo),
            (None, false) => None,
        };
        if let Some(upstream) = fallback.filter(|_| !covered) {
            routes.push(RouteConfig::catch_all(upstream));
        }
        routes
    }

    /// Reads a parsed configuration document, recording every problem in `problems` (paths such
    /// as `listen`, `cors.allow_origins[1]` or `routes[2].cors.max_age`). Fields with a problem
    /// keep their defaults; a route with a problem in its `prefix`, `host` or `upstream` is
    /// left out.
    ///
    /// The policies are only read here, not validated: see [`GatewayConfig::check`] or
    /// [`GatewayConfig::load`].
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
                Ok(upstream) => config.upstream = Some(upstream),
                Err(e) => problems.push(invalid("upstream", text, e)),
            }
        }
        if let Some(cors) = fields.raw("cors") {
            (config.cors, config.cors_origins_file) =
                origins_file::read_policy_table(cors, "cors", problems);
        }
        config.routes = route::read(&fields, problems);
        let (limits, timeouts) = limits::read(&fields, problems);
        config.limits = limits.unwrap_or_default();
        config.timeouts = timeouts.unwrap_or_default();
        if let Some(tls) = fields.raw("tls") {
            config.tls = read_tls(tls, problems);
        }
        if let Some(admin) = fields.raw("admin")
            && let Some(admin) = Fields::new(admin, "admin", &["listen"], problems)
        {
            if let Some(text) = admin.string("listen", problems) {
                match parse_listen(text) {
                    Ok(addr) => config.admin = Some(addr),
                    Err(e) => problems.push(invalid("admin.listen", text, e)),
                }
            }
            admin.finish(problems);
        }
        fields.finish(problems);
        config
    }

    /// Reads a document and checks every policy in it (the top-level `[cors]` and each route's
    /// `[routes.cors]`), each problem under its own path. The configuration is usable when no
    /// problem is an error. Origin list files are read relative to the current directory (see
    /// [`GatewayConfig::check_in`]).
    pub fn check(value: &Value) -> (GatewayConfig, Vec<Problem>) {
        GatewayConfig::check_in(value, Path::new(""))
    }

    /// [`GatewayConfig::check`], reading origin list files (`allow_origins_file`) relative to
    /// `dir`: their patterns are appended to their policy's `allow_origins`, and a problem on
    /// one of them is named `{file}:{line}`.
    pub fn check_in(value: &Value, dir: &Path) -> (GatewayConfig, Vec<Problem>) {
        let mut problems = Vec::new();
        let mut config = GatewayConfig::from_value(value, &mut problems);
        let mut merged = Vec::new();
        if let Some(name) = config.cors_origins_file.clone() {
            merged.extend(origins_file::merge(
                &mut config.cors,
                "cors",
                &name,
                dir,
                &mut problems,
            ));
            config.origin_files.push(dir.join(&name));
        }
        for (i, route) in config.routes.iter_mut().enumerate() {
            if let (Some(cors), Some(name)) = (&mut route.cors, route.cors_origins_file.clone()) {
                let prefix = format!("routes[{i}].cors");
                merged.extend(origins_file::merge(
                    cors,
                    &prefix,
                    &name,
                    dir,
                    &mut problems,
                ));
                config.origin_files.push(dir.join(&name));
            }
        }
        let mut problems = config.check_policies(problems);
        for m in &merged {
            m.locate(&mut problems);
        }
        (config, problems)
    }

    /// Adds the problems of every policy of the configuration to `read`.
    pub fn check_policies(&self, read: Vec<Problem>) -> Vec<Problem> {
        let mut problems = Policy::check_document(&self.cors, read, "cors")
            .into_parts()
            .1;
        for (i, route) in self.routes.iter().enumerate() {
            if let Some(cors) = &route.cors {
                problems = Policy::check_document(cors, problems, &format!("routes[{i}].cors"))
                    .into_parts()
                    .1;
            }
        }
        problems
    }

    /// Reads, parses and validates a configuration file: TOML, JSON or YAML by its extension
    /// (any other extension is read as TOML, the documented format). TLS file paths are made
    /// relative to the file's directory (the files themselves are read when the gateway starts
    /// or reloads).
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
        let dir = path.parent().unwrap_or(Path::new(""));
        let (mut config, problems) = GatewayConfig::check_in(&value, dir);
        if problems.iter().any(Problem::is_error) {
            return Err(invalid(problems));
        }
        if let (Some(tls), Some(dir)) = (&mut config.tls, path.parent()) {
            tls.cert = dir.join(&tls.cert);
            tls.key = dir.join(&tls.key);
        }
        Ok((config, problems))
    }
}

fn read_tls(value: &Value, problems: &mut Vec<Problem>) -> Option<TlsFiles> {
    let fields = Fields::new(value, "tls", &["cert", "key"], problems)?;
    let mut path = |key: &str| {
        let p = fields.string(key, problems);
        if p.is_none() && fields.raw(key).is_none() {
            problems.push(Problem::error(
                ProblemCode::InvalidValue,
                fields.path_of(key),
                "",
                format!("[tls] needs `{key}`"),
                format!("add {key} = \"{key}.pem\" (a PEM file)"),
            ));
        }
        p.map(PathBuf::from)
    };
    let cert = path("cert");
    let key = path("key");
    fields.finish(problems);
    Some(TlsFiles {
        cert: cert?,
        key: key?,
    })
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
    Read {
        /// The file, as given.
        path: PathBuf,
        /// Why reading it failed.
        source: io::Error,
    },
    /// The file was read and is not a valid configuration: every problem found, errors and
    /// warnings alike (at least one error).
    Invalid {
        /// The file, as given.
        path: PathBuf,
        /// Every problem, in the order of the file, each with its path in the file (such as
        /// `cors.allow_origins[1]`) and a fix.
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
        assert_eq!(config.upstream, None);
        assert_eq!(config.routes_in_force()[0].upstream, Upstream::Echo);
        let checked = Policy::check(&config.cors);
        assert!(checked.problems().is_empty(), "{:#?}", checked.problems());
        let policy = checked.policy().unwrap();
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
