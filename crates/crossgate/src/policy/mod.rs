//! The server side: a validated CORS policy, its decision for each request, and the response
//! headers that carry the decision.
//!
//! Where to start:
//!
//! - **In code**: [`Policy::builder`], a setter per response header, then
//!   [`PolicyBuilder::build`].
//! - **From a file** (TOML, JSON or YAML): deserialise a [`PolicyConfig`] and compile it with
//!   [`Policy::new`], or with [`Policy::check`] to get every problem, warnings included, as
//!   values ([`PolicyConfig::from_value`] reports unknown keys and wrong types all at once too).
//! - **Origins that change while serving** (tenants' own domains, an admin endpoint): wrap the
//!   policy in a [`LivePolicy`] and add or remove origins in place; each change is validated
//!   first.
//! - **Origins kept in the application's store**, too many to list: `Resolver` (feature
//!   `resolve`) asks the application's `OriginResolver` for an origin the policy does not list,
//!   and caches the answer.
//!
//! A [`Policy`] is served by the tower layer (`crossgate::tower::CorsLayer`, feature `tower`:
//! axum, tonic, hyper) or the actix-web middleware (`crossgate::actix::Cors`, feature `actix`),
//! or by hand: [`Policy::decide`] for the decision, then [`Policy::write_preflight_allowed`],
//! [`Policy::write_preflight_denied`] or [`Policy::write_actual`] for the headers (the
//! [`Policy`] example shows how).
//!
//! Every rule follows the Fetch standard's CORS protocol:
//! <https://fetch.spec.whatwg.org/#http-cors-protocol>.
//!
//! ```
//! use crossgate::policy::Policy;
//!
//! let policy = Policy::builder()
//!     .allow_origins(["https://app.example.com", "https://*.example.com"])
//!     .allow_credentials(true)
//!     .allow_methods(["PUT", "DELETE"])
//!     .allow_headers(["content-type", "authorization"])
//!     .max_age(600)
//!     .build()
//!     .expect("a valid policy");
//! assert!(policy.allows_origin(b"https://app.example.com"));
//! assert!(!policy.allows_origin(b"https://example.com.evil.tld"));
//! ```

mod config;
mod decide;
pub mod document;
mod edit;
mod live;
mod matcher;
mod origin_list;
pub mod pattern;
mod problem;
#[cfg(feature = "resolve")]
mod resolve;
mod respond;
mod sharded;
mod validate;

use std::fmt;
use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use hashbrown::HashSet;

pub use config::PolicyConfig;
pub use decide::{
    Actual, AllowOrigin, CorsRequestHeader, Decision, Denied, DenyReason, PreflightAllowed,
    Refusal, RequestHead, is_preflight, limits,
};
pub use edit::OriginChanges;
pub use live::LivePolicy;
#[cfg(any(feature = "tower", feature = "actix"))]
pub(crate) use live::LiveReader;
pub use matcher::MAX_ORIGIN_LEN;
#[cfg(all(not(feature = "resolve"), any(feature = "tower", feature = "actix")))]
pub(crate) use no_resolver::{Deferred, Resolver, Wait};
pub use origin_list::{OriginLine, OriginList};
pub use problem::{InvalidConfig, Problem, ProblemCode, Severity};
#[cfg(feature = "resolve")]
pub use resolve::{BoxError, OriginResolver, Resolution, Resolver, ResolverBuilder, ResolverStats};
#[cfg(all(feature = "resolve", any(feature = "tower", feature = "actix")))]
pub(crate) use resolve::{Deferred, Wait};
#[cfg(feature = "tower")]
pub(crate) use respond::PreflightTemplate;
pub use respond::{ActualAnswer, CorsResponseHeader, HeaderValues, PreflightEcho, ResponseHeaders};
#[cfg(any(feature = "tower", feature = "actix"))]
pub(crate) use respond::{Answer, PreflightResponse, RequestLines};
pub use validate::MAX_HEADER_NAME_LEN;

use matcher::OriginMatcher;
use validate::Wild;

/// A validated, compiled CORS policy. Cheap to clone (one reference count); immutable.
///
/// Built with [`Policy::builder`] in code, or with [`Policy::new`] from a [`PolicyConfig`];
/// both refuse a configuration with an error and list every problem at once
/// ([`InvalidConfig`]). Once built, a policy cannot fail: [`Policy::decide`] answers each request
/// without allocating, and every constant header value was computed when it was built.
///
/// The tower layer and the actix-web middleware do the following for each request; a server on
/// another framework does it by hand: decide, then write the headers of the decision.
///
/// ```
/// use crossgate::policy::{Decision, Policy, PreflightEcho};
/// use http::HeaderMap;
///
/// let policy = Policy::builder()
///     .allow_origins(["https://app.example.com"])
///     .allow_methods(["PUT"])
///     .allow_headers(["content-type"])
///     .max_age(600)
///     .build()?;
///
/// // A preflight: the policy answers it (204, no body); the application never sees it.
/// let preflight = http::Request::builder()
///     .method("OPTIONS")
///     .header("origin", "https://app.example.com")
///     .header("access-control-request-method", "PUT")
///     .header("access-control-request-headers", "content-type")
///     .body(())?;
/// let Decision::PreflightAllowed(allowed) = policy.decide(&preflight) else {
///     panic!("refused: answer 403 with `write_preflight_denied`");
/// };
/// let field = |name: &str| preflight.headers().get(name).cloned();
/// let echo = PreflightEcho {
///     origin: field("origin"),
///     method: field("access-control-request-method"),
///     headers: preflight.headers().get_all("access-control-request-headers").iter().cloned(),
/// };
/// let mut headers = HeaderMap::new();
/// policy.write_preflight_allowed(policy.header_values(), &allowed, echo, &mut headers);
/// assert_eq!(headers["access-control-allow-origin"], "https://app.example.com");
/// assert_eq!(headers["access-control-allow-methods"], "PUT");
/// assert_eq!(headers["access-control-allow-headers"], "content-type");
/// assert_eq!(headers["access-control-max-age"], "600");
/// assert_eq!(
///     headers["vary"],
///     "Origin, Access-Control-Request-Method, Access-Control-Request-Headers"
/// );
///
/// // The actual request: the application answers, then the policy adds its headers.
/// let request = http::Request::builder()
///     .method("PUT")
///     .header("origin", "https://app.example.com")
///     .body(())?;
/// let Decision::Actual(actual) = policy.decide(&request) else { unreachable!() };
/// let answer = policy.actual_answer(policy.header_values(), &actual, || {
///     request.headers().get("origin").cloned()
/// });
/// let mut headers = HeaderMap::new(); // the application's response headers
/// policy.write_actual(policy.header_values(), answer, &mut headers);
/// assert_eq!(headers["access-control-allow-origin"], "https://app.example.com");
/// assert_eq!(headers["vary"], "Origin");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct Policy {
    inner: Arc<Compiled>,
}

pub(crate) struct Compiled {
    /// The policy in normal form without its origins, shared by edited copies.
    settings: Arc<PolicyConfig>,
    /// The normalised lists the header values are computed from, shared by edited copies.
    lists: Arc<Lists>,
    origins: OriginMatcher,
    /// `settings` with the origins, built when first asked for.
    normalized: OnceLock<PolicyConfig>,
    credentials: bool,
    methods: NameRule,
    headers: NameRule,
    /// With `headers == NameRule::Any`: `authorization` was listed as well.
    headers_authorization: bool,
    private_network: bool,
    /// Whether responses depend on the request's `Origin` (everything but `*`).
    vary_origin: bool,
    specs: HeaderValues<Bytes>,
    values: HeaderValues<http::HeaderValue>,
    /// The allowed-preflight headers as an `http` 1 map (see [`PreflightTemplate`]), built by
    /// the first preflight.
    #[cfg(feature = "tower")]
    preflight: OnceLock<PreflightTemplate<http::HeaderMap>>,
    /// The header values as actix-web's (`http` 0.2) values, converted by the first request.
    #[cfg(feature = "actix")]
    actix_values: OnceLock<HeaderValues<actix_web::http::header::HeaderValue>>,
}

/// A policy's validated lists other than the origins.
pub(crate) struct Lists {
    methods: Wild<Vec<Vec<u8>>>,
    headers: Wild<Vec<Vec<u8>>>,
    headers_authorization: bool,
    expose: Wild<Vec<Vec<u8>>>,
    max_age: Option<u32>,
}

/// Allowed methods or request-header names.
#[derive(Clone)]
pub(crate) enum NameRule {
    Any,
    /// A set of names (methods case-sensitive; header names lowercase) and the longest one.
    List {
        names: NameSet,
        longest: usize,
    },
}

impl NameRule {
    fn new(list: &Wild<Vec<Vec<u8>>>) -> NameRule {
        match list {
            Wild::Any => NameRule::Any,
            Wild::List(items) => NameRule::List {
                longest: items.iter().map(Vec::len).max().unwrap_or(0),
                names: NameSet::new(items.clone()),
            },
        }
    }

    fn len(&self) -> usize {
        match self {
            NameRule::Any => usize::MAX,
            NameRule::List { names, .. } => names.len(),
        }
    }
}

/// A set of distinct names. A few are compared one by one (a length check rules out most, and
/// nothing is hashed); more are hashed, so the cost never grows with the list.
#[derive(Clone)]
pub(crate) enum NameSet {
    Few(Box<[Box<[u8]>]>),
    Many(HashSet<Box<[u8]>>),
}

impl NameSet {
    /// Up to this many names are compared one by one.
    const FEW: usize = 8;

    fn new(items: Vec<Vec<u8>>) -> NameSet {
        let items = items.into_iter().map(Vec::into_boxed_slice);
        let set: HashSet<Box<[u8]>> = items.collect();
        if set.len() <= NameSet::FEW {
            NameSet::Few(set.into_iter().collect())
        } else {
            NameSet::Many(set)
        }
    }

    fn len(&self) -> usize {
        match self {
            NameSet::Few(names) => names.len(),
            NameSet::Many(names) => names.len(),
        }
    }

    /// Whether `name` is in the set, byte for byte.
    #[inline]
    pub(crate) fn contains(&self, name: &[u8]) -> bool {
        match self {
            NameSet::Few(names) => names.iter().any(|n| **n == *name),
            NameSet::Many(names) => names.contains(name),
        }
    }

    /// Whether `name`, ASCII-lowercased, is in the set (of lowercase names). `name` is at most
    /// [`MAX_HEADER_NAME_LEN`] bytes long.
    #[inline]
    pub(crate) fn contains_lowercase_of(&self, name: &[u8]) -> bool {
        match self {
            // Browsers send lowercase names: byte for byte first, then case-insensitively.
            NameSet::Few(names) => names
                .iter()
                .any(|n| n.len() == name.len() && (**n == *name || n.eq_ignore_ascii_case(name))),
            NameSet::Many(names) if !name.iter().any(u8::is_ascii_uppercase) => {
                names.contains(name)
            }
            NameSet::Many(names) => {
                let mut lower = [0u8; MAX_HEADER_NAME_LEN];
                let lower = &mut lower[..name.len()];
                lower.copy_from_slice(name);
                lower.make_ascii_lowercase();
                names.contains(&*lower)
            }
        }
    }
}

/// The outcome of checking a configuration: the policy (when there is no error) and every
/// problem, errors and warnings alike.
///
/// ```
/// use crossgate::policy::{Policy, PolicyConfig};
///
/// let config: PolicyConfig = toml::from_str(r#"
///     allow_origins = ["https://app.example.com", "http://app.example.com"]
///     allow_credentials = true
/// "#).unwrap();
/// let checked = Policy::check(&config);
/// assert!(checked.policy().is_none()); // refused: an insecure origin with credentials
/// assert_eq!(checked.errors().count(), 1);
/// for problem in checked.errors() {
///     println!("{problem}"); // the path, what is wrong and the fix
/// }
/// ```
#[derive(Clone)]
#[must_use = "a Checked holds the policy and its problems; read them, or call into_result"]
pub struct Checked {
    pub(crate) policy: Option<Policy>,
    pub(crate) problems: Vec<Problem>,
}

impl Checked {
    /// The compiled policy, or `None` when the configuration has an error.
    pub fn policy(&self) -> Option<&Policy> {
        self.policy.as_ref()
    }

    /// Every problem found, errors and warnings alike, in the order of the configuration.
    pub fn problems(&self) -> &[Problem] {
        &self.problems
    }

    /// The problems that refuse the configuration.
    pub fn errors(&self) -> impl Iterator<Item = &Problem> {
        self.problems.iter().filter(|p| p.is_error())
    }

    /// The problems that do not refuse it, but probably do not do what was meant.
    pub fn warnings(&self) -> impl Iterator<Item = &Problem> {
        self.problems.iter().filter(|p| !p.is_error())
    }

    /// The policy and every problem, taken apart.
    pub fn into_parts(self) -> (Option<Policy>, Vec<Problem>) {
        (self.policy, self.problems)
    }

    /// The policy, or every problem as an [`InvalidConfig`] when there is an error. Warnings are
    /// dropped from the `Ok` side: read them with [`Checked::warnings`] first.
    pub fn into_result(self) -> Result<Policy, InvalidConfig> {
        self.policy.ok_or(InvalidConfig {
            problems: self.problems,
        })
    }
}

impl Policy {
    /// Validates `config` and compiles it. With any error, refuses with every problem at once:
    /// [`InvalidConfig::errors`] lists them, and its `Display` prints each with a fix. Warnings do
    /// not refuse; they are emitted as `tracing` warn events, target `crossgate::policy` (use
    /// [`Policy::check`] to get them as values).
    pub fn new(config: &PolicyConfig) -> Result<Policy, InvalidConfig> {
        let checked = Policy::check(config);
        log_warnings(&checked.problems);
        checked.policy.ok_or(InvalidConfig {
            problems: checked.problems,
        })
    }

    /// Validates `config`, returning the policy (if valid) and every problem found, errors and
    /// warnings alike; logs nothing. What `crossgate lint` and a configuration editor use.
    pub fn check(config: &PolicyConfig) -> Checked {
        let v = validate::validate(config);
        if v.problems.iter().any(Problem::is_error) {
            return Checked {
                policy: None,
                problems: v.problems,
            };
        }
        let settings = PolicyConfig {
            allow_methods: wild_text(&v.methods, &[]),
            allow_headers: wild_text(
                &v.headers,
                if v.headers_authorization {
                    &["authorization"]
                } else {
                    &[]
                },
            ),
            expose_headers: wild_text(&v.expose, &[]),
            max_age: v.max_age.map(i64::from),
            ..config.clone_without_origins()
        };
        let lists = Lists {
            methods: v.methods,
            headers: v.headers,
            headers_authorization: v.headers_authorization,
            expose: v.expose,
            max_age: v.max_age,
        };
        let policy = Policy::compile(Arc::new(settings), Arc::new(lists), v.origins);
        Checked {
            policy: Some(policy),
            problems: v.problems,
        }
    }

    /// Checks a policy read from a document with [`PolicyConfig::from_value`]: `read` holds the
    /// problems found while reading (the whole document's, paths included), `prefix` is where the
    /// policy sits in it (`""` or `"cors"`). The rules' problems are added under `prefix`, except
    /// on fields that failed to read. The policy is `None` if any problem is an error.
    pub fn check_document(config: &PolicyConfig, read: Vec<Problem>, prefix: &str) -> Checked {
        let checked = Policy::check(config);
        let mut problems = read;
        document::merge_checked(
            &mut problems,
            checked.problems.into_iter().map(|p| p.within(prefix)),
        );
        let valid = !problems.iter().any(Problem::is_error);
        Checked {
            policy: checked.policy.filter(|_| valid),
            problems,
        }
    }

    /// Starts a [`PolicyBuilder`] from [`PolicyConfig::default`]: no origin allowed, no
    /// credentials, only the CORS-safelisted methods (`GET`, `HEAD`, `POST`), no request or
    /// exposed header, no `Access-Control-Max-Age`, no Private Network Access.
    pub fn builder() -> PolicyBuilder {
        PolicyBuilder::default()
    }

    /// Compiles validated parts; the cost does not depend on the number of origins.
    fn compile(settings: Arc<PolicyConfig>, lists: Arc<Lists>, origins: OriginMatcher) -> Policy {
        let credentials = settings.allow_credentials;
        let private_network = settings.allow_private_network;
        let vary_origin = !origins.is_any();
        let specs = HeaderValues::specs(
            &lists.methods,
            &lists.headers,
            lists.headers_authorization,
            &lists.expose,
            lists.max_age,
            credentials,
            vary_origin,
            private_network,
        );
        let values = specs.map(|b| {
            http::HeaderValue::from_maybe_shared(b.clone()).expect("precomputed values are valid")
        });
        Policy {
            inner: Arc::new(Compiled {
                methods: NameRule::new(&lists.methods),
                headers: NameRule::new(&lists.headers),
                headers_authorization: lists.headers_authorization,
                settings,
                lists,
                origins,
                normalized: OnceLock::new(),
                credentials,
                private_network,
                vary_origin,
                specs,
                values,
                #[cfg(feature = "tower")]
                preflight: OnceLock::new(),
                #[cfg(feature = "actix")]
                actix_values: OnceLock::new(),
            }),
        }
    }

    /// This policy with other origins (already validated), sharing everything else.
    pub(crate) fn sharing_settings(&self, origins: OriginMatcher) -> Policy {
        Policy::compile(
            Arc::clone(&self.inner.settings),
            Arc::clone(&self.inner.lists),
            origins,
        )
    }

    pub(crate) fn origins(&self) -> &OriginMatcher {
        &self.inner.origins
    }

    /// The policy in normal form without its origins.
    pub(crate) fn settings(&self) -> &PolicyConfig {
        &self.inner.settings
    }

    /// The policy in normal form (patterns normalised, safelisted methods dropped, names
    /// lowercased). Building a policy from it gives the same policy. Built on the first call,
    /// then kept.
    ///
    /// ```
    /// use crossgate::policy::Policy;
    ///
    /// let policy = Policy::builder()
    ///     .allow_origins(["HTTPS://App.Example.com:443/"])
    ///     .allow_methods(["GET", "put", "PATCH"])
    ///     .allow_headers(["X-Request-Id"])
    ///     .build()?;
    /// assert_eq!(policy.config().allow_origins, ["https://app.example.com"]);
    /// assert_eq!(policy.config().allow_methods, ["PUT", "PATCH"]);
    /// assert_eq!(policy.config().allow_headers, ["x-request-id"]);
    /// assert_eq!(Policy::new(policy.config())?.config(), policy.config());
    /// # Ok::<(), crossgate::policy::InvalidConfig>(())
    /// ```
    pub fn config(&self) -> &PolicyConfig {
        self.inner.normalized.get_or_init(|| PolicyConfig {
            allow_origins: self.inner.origins.patterns(),
            ..self.inner.settings.clone_without_origins()
        })
    }

    /// Whether a request's `Origin` value, its exact bytes, is allowed. Values are compared with
    /// the patterns' normal form, the serialisation browsers send, so a spelling no browser sends
    /// (upper case, a trailing `/`, an explicit default port) is not allowed. A policy of `*`
    /// allows any value. The cost does not grow with the number of origins listed.
    ///
    /// ```
    /// use crossgate::policy::Policy;
    ///
    /// let policy = Policy::builder().allow_origins(["https://*.example.com"]).build()?;
    /// assert!(policy.allows_origin(b"https://app.example.com"));
    /// assert!(policy.allows_origin(b"https://eu.shop.example.com"));
    /// assert!(!policy.allows_origin(b"https://example.com")); // `*.` never covers the apex
    /// assert!(!policy.allows_origin(b"http://app.example.com")); // another scheme
    /// assert!(!policy.allows_origin(b"https://app.example.com:8443")); // another port
    /// assert!(!policy.allows_origin(b"https://app.example.com/")); // not an origin
    /// assert!(!policy.allows_origin(b"https://example.com.evil.example"));
    /// # Ok::<(), crossgate::policy::InvalidConfig>(())
    /// ```
    pub fn allows_origin(&self, origin: &[u8]) -> bool {
        self.inner.origins.matches(origin)
    }

    /// Whether the policy allows credentials ([`PolicyBuilder::allow_credentials`]): allowed
    /// responses then carry `Access-Control-Allow-Credentials: true`.
    pub fn allows_credentials(&self) -> bool {
        self.inner.credentials
    }

    /// Whether CORS responses depend on the request's `Origin` (false only for `*`), and so
    /// carry `Vary: Origin`.
    pub fn varies_by_origin(&self) -> bool {
        self.inner.vary_origin
    }

    /// The policy's constant header values as `http` 1 values, computed when it was built: what
    /// the writers ([`Policy::write_actual`], [`Policy::write_preflight_allowed`],
    /// [`Policy::write_preflight_denied`]) take to fill an [`http::HeaderMap`].
    pub fn header_values(&self) -> &HeaderValues<http::HeaderValue> {
        &self.inner.values
    }

    /// The allowed-preflight headers as an `http` 1 map, built once (by the first call).
    #[cfg(feature = "tower")]
    pub(crate) fn preflight_headers(&self) -> &PreflightTemplate<http::HeaderMap> {
        self.inner
            .preflight
            .get_or_init(|| self.preflight_template(&self.inner.values))
    }

    /// The precomputed header values as actix-web's values, converted once per policy.
    #[cfg(feature = "actix")]
    pub(crate) fn actix_values(&self) -> &HeaderValues<actix_web::http::header::HeaderValue> {
        self.inner.actix_values.get_or_init(|| {
            self.header_values_as(|b| {
                actix_web::http::header::HeaderValue::from_maybe_shared(b.clone())
                    .expect("precomputed values are valid")
            })
        })
    }

    /// The precomputed header values converted to another header-value type, for a framework on
    /// another `http` version. Converts on every call: call it once per policy and keep the
    /// result.
    pub fn header_values_as<V>(&self, convert: impl Fn(&Bytes) -> V) -> HeaderValues<V> {
        self.inner.specs.map(convert)
    }
}

impl fmt::Debug for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Policy").field(self.config()).finish()
    }
}

/// Emits the warnings among `problems` as `tracing` events.
pub(crate) fn log_warnings(problems: &[Problem]) {
    for w in problems.iter().filter(|p| !p.is_error()) {
        tracing::warn!(target: "crossgate::policy", "{w}");
    }
}

/// A validated list as its normal-form text (`*` first, then `extra`).
fn wild_text(w: &Wild<Vec<Vec<u8>>>, extra: &[&str]) -> Vec<String> {
    match w {
        Wild::Any => std::iter::once("*")
            .chain(extra.iter().copied())
            .map(str::to_owned)
            .collect(),
        Wild::List(items) => items
            .iter()
            .map(|i| String::from_utf8_lossy(i).into_owned())
            .collect(),
    }
}

/// Builds a [`Policy`] in code, with the same validation as a configuration file: each setter
/// sets one field of a [`PolicyConfig`] (replacing what was set before), and
/// [`build`](PolicyBuilder::build) checks them all at once.
///
/// Start from [`Policy::builder`] (or `PolicyBuilder::default()`, the same). Each setter's
/// documentation says which response header it controls, on which responses, its default, and
/// what validation refuses.
///
/// ```
/// use crossgate::policy::{Policy, ProblemCode};
///
/// let policy = Policy::builder()
///     .allow_origins(["https://app.example.com", "http://localhost:*"])
///     .allow_credentials(true)
///     .allow_methods(["PUT", "DELETE"])
///     .allow_headers(["content-type", "authorization"])
///     .expose_headers(["x-request-id"])
///     .max_age(600)
///     .build()?;
/// assert!(policy.allows_origin(b"http://localhost:5173"));
/// assert!(policy.allows_credentials());
///
/// // Every error at once, each with its field and a fix.
/// let refused = Policy::builder()
///     .allow_origins(["https://app.example.com/", "*"])
///     .allow_credentials(true)
///     .allow_methods(["GET, PUT"])
///     .build()
///     .unwrap_err();
/// let codes: Vec<ProblemCode> = refused.errors().map(|p| p.code).collect();
/// assert_eq!(
///     codes,
///     [
///         ProblemCode::WildcardMixed,
///         ProblemCode::WildcardOriginWithCredentials,
///         ProblemCode::MethodInvalid,
///     ]
/// );
/// # Ok::<(), crossgate::policy::InvalidConfig>(())
/// ```
#[derive(Clone, Debug, Default)]
#[must_use = "a PolicyBuilder does nothing until `build` is called; each setter returns the builder"]
pub struct PolicyBuilder {
    config: PolicyConfig,
}

fn strings<I: IntoIterator<Item = S>, S: Into<String>>(items: I) -> Vec<String> {
    items.into_iter().map(Into::into).collect()
}

impl PolicyBuilder {
    /// The origins whose scripts may read responses; replaces the list set before. Each item is a
    /// pattern:
    ///
    /// - `https://app.example.com`: exactly this origin (scheme, host and port);
    /// - `https://*.example.com`: any subdomain, at any depth, never `example.com` itself;
    /// - `http://localhost:*`: any port, or none;
    /// - `*` alone: any origin (not with credentials, nor beside other items).
    ///
    /// Patterns are brought into the form browsers send (scheme and host lowercase, Unicode hosts
    /// in punycode, no default port, no trailing `/`), each change reported as a warning.
    ///
    /// On the wire: `Access-Control-Allow-Origin` on allowed preflights and on the responses to
    /// actual requests from an allowed origin, with the request's own `Origin` echoed. A policy
    /// of `*` sends `*`, on every actual response (requests without `Origin` included). Every
    /// other policy adds `Vary: Origin` to every actual response, allowed, refused or without
    /// `Origin`, so that caches keep one origin's answer from another. A refused origin gets no
    /// `Access-Control-*` header, and its preflight is answered 403.
    ///
    /// Default: none, so browsers block every cross-origin read (a warning,
    /// [`ProblemCode::NoOriginAllowed`]).
    ///
    /// Refused (errors): a pattern that is not an origin ([`ProblemCode::OriginEmpty`],
    /// `OriginMissingScheme`, `OriginInvalidScheme`, `OriginHasUserinfo`, `OriginHasPath`,
    /// `OriginHasQuery`, `OriginInvalidHost`, `OriginInvalidPort`, `OriginTooLong` over 512
    /// bytes); `null` ([`ProblemCode::OriginNull`]: sandboxed frames and `file:` pages of every
    /// site share it); `file:`, `data:` and other opaque schemes (`OriginOpaqueScheme`); `*`
    /// anywhere but alone or as `*.` (`OriginMisplacedWildcard`), or before an IP address
    /// (`OriginWildcardIp`); `*` beside other items (`WildcardMixed`); `*` with credentials
    /// (`WildcardOriginWithCredentials`) or with Private Network Access
    /// (`PrivateNetworkWithWildcardOrigin`); with credentials, an insecure origin or a `*.`
    /// pattern on a public suffix (see [`PolicyBuilder::allow_credentials`]). Warnings:
    /// `OriginNormalized`, `Duplicate`, `OriginRedundant` (another pattern covers it),
    /// `PublicSuffixWildcard` (`https://*.github.io`: anyone can host a site there).
    ///
    /// Fetch: <https://fetch.spec.whatwg.org/#http-access-control-allow-origin>, and the CORS
    /// check that browsers run on it: <https://fetch.spec.whatwg.org/#cors-check>.
    ///
    /// ```
    /// use crossgate::policy::{Policy, ProblemCode};
    /// # use crossgate::policy::Decision;
    /// # fn actual(policy: &Policy, origin: &str) -> http::HeaderMap {
    /// #     let request = http::Request::builder().header("origin", origin).body(()).unwrap();
    /// #     let Decision::Actual(actual) = policy.decide(&request) else { unreachable!() };
    /// #     let values = policy.header_values();
    /// #     let answer = policy.actual_answer(values, &actual, || {
    /// #         request.headers().get("origin").cloned()
    /// #     });
    /// #     let mut headers = http::HeaderMap::new();
    /// #     policy.write_actual(values, answer, &mut headers);
    /// #     headers
    /// # }
    ///
    /// let policy = Policy::builder()
    ///     .allow_origins(["https://example.com", "https://*.example.com", "http://localhost:*"])
    ///     .build()?;
    /// assert!(policy.allows_origin(b"https://example.com"));
    /// assert!(policy.allows_origin(b"https://eu.shop.example.com"));
    /// assert!(policy.allows_origin(b"http://localhost:5173"));
    /// assert!(policy.allows_origin(b"http://localhost"));
    /// assert!(!policy.allows_origin(b"https://example.com.evil.example"));
    ///
    /// // `actual` decides a GET from `origin` and writes the headers of the decision, as in the
    /// // `Policy` example.
    /// let headers = actual(&policy, "https://eu.shop.example.com");
    /// assert_eq!(headers["access-control-allow-origin"], "https://eu.shop.example.com");
    /// assert_eq!(headers["vary"], "Origin");
    /// let headers = actual(&policy, "https://evil.example");
    /// assert!(!headers.contains_key("access-control-allow-origin"));
    /// assert_eq!(headers["vary"], "Origin");
    ///
    /// // Browsers send scheme://host[:port], never a path.
    /// let refused = Policy::builder().allow_origins(["https://example.com/app"]).build();
    /// assert_eq!(refused.unwrap_err().problems()[0].code, ProblemCode::OriginHasPath);
    /// # Ok::<(), crossgate::policy::InvalidConfig>(())
    /// ```
    pub fn allow_origins<I: IntoIterator<Item = S>, S: Into<String>>(mut self, origins: I) -> Self {
        self.config.allow_origins = strings(origins);
        self
    }

    /// Whether scripts may read the responses to credentialed requests: those that carry the
    /// user's cookies, HTTP authentication or TLS client certificate (`fetch(url, { credentials:
    /// "include" })`). Default `false`.
    ///
    /// On the wire: `Access-Control-Allow-Credentials: true` on allowed preflights and on the
    /// actual responses that carry `Access-Control-Allow-Origin`. Without it, browsers fail a
    /// credentialed request's preflight and hide a credentialed response from script.
    ///
    /// With credentials, browsers read a `*` in `Access-Control-Allow-Methods`, `-Allow-Headers`
    /// and `-Expose-Headers` as a literal name, so `*` is never sent: `allow_methods(["*"])` and
    /// `allow_headers(["*"])` echo what the preflight asked for instead, and `*` origins or
    /// exposed headers are refused.
    ///
    /// Refused together with credentials: `*` origins
    /// ([`ProblemCode::WildcardOriginWithCredentials`]: list the origins instead); an origin that
    /// is not potentially trustworthy, `http:` or `ws:` other than loopback
    /// ([`ProblemCode::InsecureOriginWithCredentials`], unless
    /// [`PolicyBuilder::dangerously_tolerate_insecure_origins`]); a `*.` pattern on a public
    /// suffix ([`ProblemCode::PublicSuffixWildcardWithCredentials`], unless
    /// [`PolicyBuilder::dangerously_tolerate_public_suffix_subdomains`]);
    /// `expose_headers(["*"])` ([`ProblemCode::ExposeWildcardWithCredentials`]).
    ///
    /// Fetch: <https://fetch.spec.whatwg.org/#http-access-control-allow-credentials> and
    /// <https://fetch.spec.whatwg.org/#cors-protocol-and-credentials>.
    ///
    /// ```
    /// use crossgate::policy::{Policy, ProblemCode};
    /// # use crossgate::policy::{Decision, PreflightEcho};
    /// # fn preflight(policy: &Policy, fields: &[(&str, &str)]) -> Option<http::HeaderMap> {
    /// #     let mut request = http::Request::builder().method("OPTIONS");
    /// #     for (name, value) in fields {
    /// #         request = request.header(*name, *value);
    /// #     }
    /// #     let request = request.body(()).unwrap();
    /// #     let Decision::PreflightAllowed(allowed) = policy.decide(&request) else {
    /// #         return None;
    /// #     };
    /// #     let field = |name: &str| request.headers().get(name).cloned();
    /// #     let lines = request.headers().get_all("access-control-request-headers");
    /// #     let echo = PreflightEcho {
    /// #         origin: field("origin"),
    /// #         method: field("access-control-request-method"),
    /// #         headers: lines.iter().cloned(),
    /// #     };
    /// #     let mut headers = http::HeaderMap::new();
    /// #     policy.write_preflight_allowed(policy.header_values(), &allowed, echo, &mut headers);
    /// #     Some(headers)
    /// # }
    /// # fn actual(policy: &Policy, origin: &str) -> http::HeaderMap {
    /// #     let request = http::Request::builder().header("origin", origin).body(()).unwrap();
    /// #     let Decision::Actual(actual) = policy.decide(&request) else { unreachable!() };
    /// #     let values = policy.header_values();
    /// #     let answer = policy.actual_answer(values, &actual, || {
    /// #         request.headers().get("origin").cloned()
    /// #     });
    /// #     let mut headers = http::HeaderMap::new();
    /// #     policy.write_actual(values, answer, &mut headers);
    /// #     headers
    /// # }
    ///
    /// let policy = Policy::builder()
    ///     .allow_origins(["https://app.example.com"])
    ///     .allow_credentials(true)
    ///     .allow_methods(["*"])
    ///     .build()?;
    /// assert!(policy.allows_credentials());
    ///
    /// // `preflight` and `actual` decide a request and write the headers of the decision, as in
    /// // the `Policy` example; `preflight` gives `None` for a refused preflight (403).
    /// let headers = actual(&policy, "https://app.example.com");
    /// assert_eq!(headers["access-control-allow-origin"], "https://app.example.com");
    /// assert_eq!(headers["access-control-allow-credentials"], "true");
    /// let headers = preflight(&policy, &[
    ///     ("origin", "https://app.example.com"),
    ///     ("access-control-request-method", "PATCH"),
    /// ]);
    /// let headers = headers.expect("allowed");
    /// assert_eq!(headers["access-control-allow-credentials"], "true");
    /// // Not `*`, which would allow only a method named `*`.
    /// assert_eq!(headers["access-control-allow-methods"], "PATCH");
    ///
    /// let refused = Policy::builder().allow_origins(["*"]).allow_credentials(true).build();
    /// let code = refused.unwrap_err().problems()[0].code;
    /// assert_eq!(code, ProblemCode::WildcardOriginWithCredentials);
    /// # Ok::<(), crossgate::policy::InvalidConfig>(())
    /// ```
    pub fn allow_credentials(mut self, yes: bool) -> Self {
        self.config.allow_credentials = yes;
        self
    }

    /// The methods a preflight may ask for (`Access-Control-Request-Method`), or `["*"]` for any;
    /// replaces the list set before.
    ///
    /// `GET`, `HEAD` and `POST` are CORS-safelisted: a preflight never needs them allowed (it
    /// asks for one only because of its headers), so they are always allowed and dropped from
    /// the list. Methods are case-sensitive, except `DELETE`, `GET`, `HEAD`, `OPTIONS`, `POST`
    /// and `PUT`, which browsers upper-case and which are upper-cased here too: `patch` allows
    /// `patch`, not `PATCH`.
    ///
    /// On the wire: `Access-Control-Allow-Methods` on allowed preflights only, with every listed
    /// method joined by `, ` (not only the one asked for, so that the browser's preflight cache
    /// covers the next request too); no header when only safelisted methods are listed. `*` is
    /// sent as `*` without credentials, and any method (a token of at most 128 bytes) is
    /// allowed; with credentials, the requested method is echoed instead. A preflight asking
    /// for another method is answered 403.
    ///
    /// Default: `["GET", "HEAD", "POST"]`, all safelisted: no preflighted method is allowed.
    ///
    /// Refused: an empty name ([`ProblemCode::EmptyName`]); not a method token, such as
    /// `"GET, PUT"` (`MethodInvalid`: list each method as its own item); `CONNECT`, `TRACE` or
    /// `TRACK` (`MethodForbidden`: script can never send them); `*` beside other methods
    /// (`WildcardMixed`). Warnings: `MethodCase` (`patch` or `query`, which browsers send as
    /// written), `Duplicate`.
    ///
    /// Fetch: <https://fetch.spec.whatwg.org/#http-access-control-allow-methods>, and the
    /// CORS-safelisted methods: <https://fetch.spec.whatwg.org/#cors-safelisted-method>.
    ///
    /// ```
    /// use crossgate::policy::{Policy, ProblemCode};
    /// # use crossgate::policy::{Decision, PreflightEcho};
    /// # fn preflight(policy: &Policy, fields: &[(&str, &str)]) -> Option<http::HeaderMap> {
    /// #     let mut request = http::Request::builder().method("OPTIONS");
    /// #     for (name, value) in fields {
    /// #         request = request.header(*name, *value);
    /// #     }
    /// #     let request = request.body(()).unwrap();
    /// #     let Decision::PreflightAllowed(allowed) = policy.decide(&request) else {
    /// #         return None;
    /// #     };
    /// #     let field = |name: &str| request.headers().get(name).cloned();
    /// #     let lines = request.headers().get_all("access-control-request-headers");
    /// #     let echo = PreflightEcho {
    /// #         origin: field("origin"),
    /// #         method: field("access-control-request-method"),
    /// #         headers: lines.iter().cloned(),
    /// #     };
    /// #     let mut headers = http::HeaderMap::new();
    /// #     policy.write_preflight_allowed(policy.header_values(), &allowed, echo, &mut headers);
    /// #     Some(headers)
    /// # }
    ///
    /// let policy = Policy::builder()
    ///     .allow_origins(["https://app.example.com"])
    ///     .allow_methods(["PUT", "delete"])
    ///     .build()?;
    /// assert_eq!(policy.config().allow_methods, ["PUT", "DELETE"]);
    ///
    /// // `preflight` decides a preflight and writes the headers of the decision, as in the
    /// // `Policy` example; it gives `None` for a refused preflight (answered 403).
    /// let asking = |method| {
    ///     preflight(&policy, &[
    ///         ("origin", "https://app.example.com"),
    ///         ("access-control-request-method", method),
    ///     ])
    /// };
    /// let headers = asking("DELETE").expect("allowed");
    /// assert_eq!(headers["access-control-allow-methods"], "PUT, DELETE");
    /// assert!(asking("PATCH").is_none());
    ///
    /// let refused = Policy::builder().allow_methods(["GET, PUT"]).build().unwrap_err();
    /// let errors: Vec<ProblemCode> = refused.errors().map(|p| p.code).collect();
    /// assert_eq!(errors, [ProblemCode::MethodInvalid]);
    /// # Ok::<(), crossgate::policy::InvalidConfig>(())
    /// ```
    pub fn allow_methods<I: IntoIterator<Item = S>, S: Into<String>>(mut self, methods: I) -> Self {
        self.config.allow_methods = strings(methods);
        self
    }

    /// The request header names a preflight may ask for (`Access-Control-Request-Headers`), or
    /// `["*"]` for any; replaces the list set before. Names are compared case-insensitively and
    /// sent lowercase.
    ///
    /// Browsers ask for every header script set that is not CORS-safelisted: a JSON
    /// `Content-Type`, `Authorization`, any `X-` header. `*` never covers `Authorization` (a
    /// "CORS non-wildcard request-header name"): list it beside `*`, `["*", "authorization"]`,
    /// the only name allowed there.
    ///
    /// On the wire: `Access-Control-Allow-Headers` on allowed preflights only: every listed name
    /// joined by `, `; `*` (or `*, authorization`) without credentials; with credentials and
    /// `*`, the request's own `Access-Control-Request-Headers` echoed. No header when the list
    /// is empty. A preflight asking for a name not allowed is answered 403.
    ///
    /// Default: none; a preflight that asks for any header is refused.
    ///
    /// Refused: an empty name ([`ProblemCode::EmptyName`]); not a header name, such as
    /// `"x-a, x-b"` or `"x-token: abc"` (`HeaderInvalid`); a name over [`MAX_HEADER_NAME_LEN`]
    /// bytes (`HeaderNameTooLong`); a forbidden request header such as `Cookie` or `Host`, which
    /// script can never set (`HeaderForbidden`); a CORS response header such as
    /// `Access-Control-Allow-Origin` (`HeaderProhibited`); `*` beside any name but
    /// `authorization` (`WildcardMixed`). Warning: `Duplicate`.
    ///
    /// Fetch: <https://fetch.spec.whatwg.org/#http-access-control-allow-headers>, and the name
    /// `*` never covers: <https://fetch.spec.whatwg.org/#cors-non-wildcard-request-header-name>.
    ///
    /// ```
    /// use crossgate::policy::{Policy, ProblemCode};
    /// # use crossgate::policy::{Decision, PreflightEcho};
    /// # fn preflight(policy: &Policy, fields: &[(&str, &str)]) -> Option<http::HeaderMap> {
    /// #     let mut request = http::Request::builder().method("OPTIONS");
    /// #     for (name, value) in fields {
    /// #         request = request.header(*name, *value);
    /// #     }
    /// #     let request = request.body(()).unwrap();
    /// #     let Decision::PreflightAllowed(allowed) = policy.decide(&request) else {
    /// #         return None;
    /// #     };
    /// #     let field = |name: &str| request.headers().get(name).cloned();
    /// #     let lines = request.headers().get_all("access-control-request-headers");
    /// #     let echo = PreflightEcho {
    /// #         origin: field("origin"),
    /// #         method: field("access-control-request-method"),
    /// #         headers: lines.iter().cloned(),
    /// #     };
    /// #     let mut headers = http::HeaderMap::new();
    /// #     policy.write_preflight_allowed(policy.header_values(), &allowed, echo, &mut headers);
    /// #     Some(headers)
    /// # }
    ///
    /// let policy = Policy::builder()
    ///     .allow_origins(["https://app.example.com"])
    ///     .allow_headers(["Content-Type", "x-request-id"])
    ///     .build()?;
    ///
    /// // `preflight` decides a preflight and writes the headers of the decision, as in the
    /// // `Policy` example; it gives `None` for a refused preflight (answered 403).
    /// let asking = |policy: &Policy, names| {
    ///     preflight(policy, &[
    ///         ("origin", "https://app.example.com"),
    ///         ("access-control-request-method", "POST"),
    ///         ("access-control-request-headers", names),
    ///     ])
    /// };
    /// let headers = asking(&policy, "content-type").expect("allowed");
    /// assert_eq!(headers["access-control-allow-headers"], "content-type, x-request-id");
    /// assert!(asking(&policy, "authorization").is_none());
    ///
    /// // `*` covers every name but `authorization`, which must be listed as well.
    /// let any = Policy::builder()
    ///     .allow_origins(["https://app.example.com"])
    ///     .allow_headers(["*"])
    ///     .build()?;
    /// assert!(asking(&any, "content-type,x-trace-id").is_some());
    /// assert!(asking(&any, "authorization").is_none());
    /// let any = Policy::builder()
    ///     .allow_origins(["https://app.example.com"])
    ///     .allow_headers(["*", "authorization"])
    ///     .build()?;
    /// let headers = asking(&any, "authorization,x-trace-id").expect("allowed");
    /// assert_eq!(headers["access-control-allow-headers"], "*, authorization");
    ///
    /// let refused = Policy::builder().allow_headers(["cookie"]).build().unwrap_err();
    /// let errors: Vec<ProblemCode> = refused.errors().map(|p| p.code).collect();
    /// assert_eq!(errors, [ProblemCode::HeaderForbidden]);
    /// # Ok::<(), crossgate::policy::InvalidConfig>(())
    /// ```
    pub fn allow_headers<I: IntoIterator<Item = S>, S: Into<String>>(mut self, names: I) -> Self {
        self.config.allow_headers = strings(names);
        self
    }

    /// The response header names script may read beyond the CORS-safelisted ones
    /// (`Cache-Control`, `Content-Language`, `Content-Length`, `Content-Type`, `Expires`,
    /// `Last-Modified`, `Pragma`), or `["*"]` for any (not with credentials); replaces the list
    /// set before. Names are sent lowercase.
    ///
    /// On the wire: `Access-Control-Expose-Headers` on the responses to actual requests from an
    /// allowed origin, with every listed name joined by `, `, or `*`; never on preflights nor on
    /// refused requests. No header when the list is empty.
    ///
    /// Default: none; script reads only the safelisted headers.
    ///
    /// Refused: an empty name ([`ProblemCode::EmptyName`]); not a header name
    /// (`HeaderInvalid`); `Set-Cookie` or `Set-Cookie2`, which browsers never expose
    /// (`ExposeForbidden`); a CORS protocol header (`ExposeProhibited`); `*` beside other names
    /// (`WildcardMixed`); `*` with credentials, which browsers read as the literal name `*`
    /// (`ExposeWildcardWithCredentials`). Warnings: a safelisted name, always readable and
    /// dropped (`ExposeSafelisted`); `Duplicate`.
    ///
    /// Fetch: <https://fetch.spec.whatwg.org/#http-access-control-expose-headers>, and the names
    /// always readable: <https://fetch.spec.whatwg.org/#cors-safelisted-response-header-name>.
    ///
    /// ```
    /// use crossgate::policy::{Policy, ProblemCode};
    /// # use crossgate::policy::Decision;
    /// # fn actual(policy: &Policy, origin: &str) -> http::HeaderMap {
    /// #     let request = http::Request::builder().header("origin", origin).body(()).unwrap();
    /// #     let Decision::Actual(actual) = policy.decide(&request) else { unreachable!() };
    /// #     let values = policy.header_values();
    /// #     let answer = policy.actual_answer(values, &actual, || {
    /// #         request.headers().get("origin").cloned()
    /// #     });
    /// #     let mut headers = http::HeaderMap::new();
    /// #     policy.write_actual(values, answer, &mut headers);
    /// #     headers
    /// # }
    ///
    /// let policy = Policy::builder()
    ///     .allow_origins(["https://app.example.com"])
    ///     .expose_headers(["X-Request-Id", "x-ratelimit-remaining"])
    ///     .build()?;
    ///
    /// // `actual` decides a GET from `origin` and writes the headers of the decision, as in the
    /// // `Policy` example.
    /// let headers = actual(&policy, "https://app.example.com");
    /// assert_eq!(headers["access-control-expose-headers"], "x-request-id, x-ratelimit-remaining");
    /// let headers = actual(&policy, "https://other.example");
    /// assert!(!headers.contains_key("access-control-expose-headers"));
    ///
    /// let refused = Policy::builder().expose_headers(["set-cookie"]).build().unwrap_err();
    /// let errors: Vec<ProblemCode> = refused.errors().map(|p| p.code).collect();
    /// assert_eq!(errors, [ProblemCode::ExposeForbidden]);
    /// # Ok::<(), crossgate::policy::InvalidConfig>(())
    /// ```
    pub fn expose_headers<I: IntoIterator<Item = S>, S: Into<String>>(mut self, names: I) -> Self {
        self.config.expose_headers = strings(names);
        self
    }

    /// How long, in seconds, browsers may cache an allowed preflight's answer and send the
    /// following requests to the same URL without asking again. `0` asks them not to cache.
    ///
    /// On the wire: `Access-Control-Max-Age: <seconds>` on allowed preflights only.
    ///
    /// Default: none; no header is sent, and browsers cache the answer for 5 seconds.
    ///
    /// Browsers cap the duration, whatever the header says: WebKit at 600 seconds, Chromium at
    /// 7200, Firefox at 86400. A value above a cap is kept, with a warning
    /// ([`ProblemCode::MaxAgeAboveBrowserCap`]). Nothing this setter takes is refused; in a
    /// [`PolicyConfig`], a negative `max_age` (`MaxAgeNegative`) or one above `u32::MAX`
    /// (`MaxAgeOutOfRange`) is.
    ///
    /// Fetch: <https://fetch.spec.whatwg.org/#http-access-control-max-age>, and the cache it sets:
    /// <https://fetch.spec.whatwg.org/#cors-preflight-cache>.
    ///
    /// ```
    /// use crossgate::policy::{Policy, ProblemCode};
    /// # use crossgate::policy::{Decision, PreflightEcho};
    /// # fn preflight(policy: &Policy, fields: &[(&str, &str)]) -> Option<http::HeaderMap> {
    /// #     let mut request = http::Request::builder().method("OPTIONS");
    /// #     for (name, value) in fields {
    /// #         request = request.header(*name, *value);
    /// #     }
    /// #     let request = request.body(()).unwrap();
    /// #     let Decision::PreflightAllowed(allowed) = policy.decide(&request) else {
    /// #         return None;
    /// #     };
    /// #     let field = |name: &str| request.headers().get(name).cloned();
    /// #     let lines = request.headers().get_all("access-control-request-headers");
    /// #     let echo = PreflightEcho {
    /// #         origin: field("origin"),
    /// #         method: field("access-control-request-method"),
    /// #         headers: lines.iter().cloned(),
    /// #     };
    /// #     let mut headers = http::HeaderMap::new();
    /// #     policy.write_preflight_allowed(policy.header_values(), &allowed, echo, &mut headers);
    /// #     Some(headers)
    /// # }
    ///
    /// let builder = Policy::builder()
    ///     .allow_origins(["https://app.example.com"])
    ///     .allow_methods(["PUT"]);
    /// let policy = builder.clone().max_age(600).build()?;
    ///
    /// // `preflight` decides a preflight and writes the headers of the decision, as in the
    /// // `Policy` example; it gives `None` for a refused preflight (answered 403).
    /// let asking = |policy: &Policy| {
    ///     preflight(policy, &[
    ///         ("origin", "https://app.example.com"),
    ///         ("access-control-request-method", "PUT"),
    ///     ])
    /// };
    /// assert_eq!(asking(&policy).expect("allowed")["access-control-max-age"], "600");
    /// let default = builder.clone().build()?;
    /// assert!(!asking(&default).expect("allowed").contains_key("access-control-max-age"));
    ///
    /// // Above WebKit's cap: kept, with a warning.
    /// let checked = Policy::check(builder.max_age(86400).config());
    /// assert!(checked.policy().is_some());
    /// let code = checked.warnings().next().unwrap().code;
    /// assert_eq!(code, ProblemCode::MaxAgeAboveBrowserCap);
    /// # Ok::<(), crossgate::policy::InvalidConfig>(())
    /// ```
    pub fn max_age(mut self, seconds: u32) -> Self {
        self.config.max_age = Some(i64::from(seconds));
        self
    }

    /// Whether to answer legacy Private Network Access preflights: those a browser sent from a
    /// public website to a server on a private network or on this machine. Default `false`.
    ///
    /// On the wire: an allowed preflight that carries `Access-Control-Request-Private-Network:
    /// true` (one line, exactly `true`) is answered `Access-Control-Allow-Private-Network:
    /// true`, and every preflight's `Vary` names `Access-Control-Request-Private-Network` too.
    /// Without it the header is never sent; the preflight may still be allowed, and a browser
    /// that enforces Private Network Access then fails it.
    ///
    /// This is not part of Fetch but of the WICG's draft
    /// (<https://wicg.github.io/private-network-access/>). Chromium's enforcement is on hold,
    /// replaced by Local Network Access, which asks the user and needs no header.
    ///
    /// Refused: with `allow_origins(["*"])`, since every website on the internet could then reach
    /// the private server ([`ProblemCode::PrivateNetworkWithWildcardOrigin`]).
    ///
    /// ```
    /// use crossgate::policy::{Policy, ProblemCode};
    /// # use crossgate::policy::{Decision, PreflightEcho};
    /// # fn preflight(policy: &Policy, fields: &[(&str, &str)]) -> Option<http::HeaderMap> {
    /// #     let mut request = http::Request::builder().method("OPTIONS");
    /// #     for (name, value) in fields {
    /// #         request = request.header(*name, *value);
    /// #     }
    /// #     let request = request.body(()).unwrap();
    /// #     let Decision::PreflightAllowed(allowed) = policy.decide(&request) else {
    /// #         return None;
    /// #     };
    /// #     let field = |name: &str| request.headers().get(name).cloned();
    /// #     let lines = request.headers().get_all("access-control-request-headers");
    /// #     let echo = PreflightEcho {
    /// #         origin: field("origin"),
    /// #         method: field("access-control-request-method"),
    /// #         headers: lines.iter().cloned(),
    /// #     };
    /// #     let mut headers = http::HeaderMap::new();
    /// #     policy.write_preflight_allowed(policy.header_values(), &allowed, echo, &mut headers);
    /// #     Some(headers)
    /// # }
    ///
    /// let policy = Policy::builder()
    ///     .allow_origins(["https://app.example.com"])
    ///     .allow_private_network(true)
    ///     .build()?;
    ///
    /// // `preflight` decides a preflight and writes the headers of the decision, as in the
    /// // `Policy` example; it gives `None` for a refused preflight (answered 403).
    /// let headers = preflight(&policy, &[
    ///     ("origin", "https://app.example.com"),
    ///     ("access-control-request-method", "GET"),
    ///     ("access-control-request-private-network", "true"),
    /// ]);
    /// let headers = headers.expect("allowed");
    /// assert_eq!(headers["access-control-allow-private-network"], "true");
    /// assert!(headers["vary"].to_str()?.ends_with("Access-Control-Request-Private-Network"));
    ///
    /// let refused = Policy::builder().allow_origins(["*"]).allow_private_network(true).build();
    /// let code = refused.unwrap_err().problems()[0].code;
    /// assert_eq!(code, ProblemCode::PrivateNetworkWithWildcardOrigin);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn allow_private_network(mut self, yes: bool) -> Self {
        self.config.allow_private_network = yes;
        self
    }

    /// Whether to allow, with credentials, origins that are not potentially trustworthy: any
    /// scheme but `https` and `wss` (`http:`, `ws:`) on a host other than loopback (`localhost`
    /// and its subdomains, `127.0.0.0/8`, `[::1]`). Default `false`: such a pattern, together
    /// with [`allow_credentials(true)`](PolicyBuilder::allow_credentials), is refused
    /// ([`ProblemCode::InsecureOriginWithCredentials`]).
    ///
    /// Anyone on the network path (a public Wi-Fi, a compromised router) can answer for such an
    /// origin, run script in it and read your users' credentialed responses. Nothing changes on
    /// the wire: the origin is echoed like any other. No effect without credentials, where
    /// insecure origins are always allowed. The same rule applies to the origins a `Resolver`
    /// (feature `resolve`) grants.
    ///
    /// Fetch: <https://fetch.spec.whatwg.org/#cors-protocol-and-credentials>.
    ///
    /// ```
    /// use crossgate::policy::{Policy, ProblemCode};
    ///
    /// let builder = Policy::builder()
    ///     .allow_origins(["http://intranet.example"])
    ///     .allow_credentials(true);
    /// let refused = builder.clone().build().unwrap_err();
    /// assert_eq!(refused.problems()[0].code, ProblemCode::InsecureOriginWithCredentials);
    /// let policy = builder.dangerously_tolerate_insecure_origins(true).build()?;
    /// assert!(policy.allows_origin(b"http://intranet.example"));
    ///
    /// // Loopback is potentially trustworthy: nothing to tolerate.
    /// let local = Policy::builder()
    ///     .allow_origins(["http://localhost:*", "http://127.0.0.1:*"])
    ///     .allow_credentials(true)
    ///     .build();
    /// assert!(local.is_ok());
    /// # Ok::<(), crossgate::policy::InvalidConfig>(())
    /// ```
    pub fn dangerously_tolerate_insecure_origins(mut self, yes: bool) -> Self {
        self.config.dangerously_tolerate_insecure_origins = yes;
        self
    }

    /// Whether to allow, with credentials, `*.` patterns whose base is a public suffix
    /// (`https://*.github.io`, `https://*.co.uk`: Public Suffix List, ICANN and private
    /// sections). Default `false`: such a pattern, together with
    /// [`allow_credentials(true)`](PolicyBuilder::allow_credentials), is refused
    /// ([`ProblemCode::PublicSuffixWildcardWithCredentials`]).
    ///
    /// Anyone can register a site under a public suffix and, from it, act as your users. Without
    /// credentials such a pattern is allowed with a warning
    /// ([`ProblemCode::PublicSuffixWildcard`]), fine for public data; with this set, it is
    /// allowed with credentials, and without a warning. Nothing changes on the wire.
    ///
    /// Fetch: <https://fetch.spec.whatwg.org/#cors-protocol-and-credentials>.
    ///
    /// ```
    /// use crossgate::policy::{Policy, ProblemCode};
    ///
    /// let builder = Policy::builder()
    ///     .allow_origins(["https://*.github.io"])
    ///     .allow_credentials(true);
    /// let refused = builder.clone().build().unwrap_err();
    /// assert_eq!(refused.problems()[0].code, ProblemCode::PublicSuffixWildcardWithCredentials);
    /// let policy = builder.dangerously_tolerate_public_suffix_subdomains(true).build()?;
    /// assert!(policy.allows_origin(b"https://anyone.github.io"));
    /// # Ok::<(), crossgate::policy::InvalidConfig>(())
    /// ```
    pub fn dangerously_tolerate_public_suffix_subdomains(mut self, yes: bool) -> Self {
        self.config.dangerously_tolerate_public_suffix_subdomains = yes;
        self
    }

    /// The configuration set so far, as written: neither validated nor normalised (see
    /// [`Policy::config`] for the normal form). `Policy::check(builder.config())` gives every
    /// problem, warnings included, without logging them.
    ///
    /// ```
    /// use crossgate::policy::{Policy, ProblemCode};
    ///
    /// let builder = Policy::builder().allow_origins(["https://App.example.com"]);
    /// assert_eq!(builder.config().allow_origins, ["https://App.example.com"]);
    /// let checked = Policy::check(builder.config());
    /// assert_eq!(checked.warnings().next().unwrap().code, ProblemCode::OriginNormalized);
    /// assert_eq!(checked.policy().unwrap().config().allow_origins, ["https://app.example.com"]);
    /// ```
    pub fn config(&self) -> &PolicyConfig {
        &self.config
    }

    /// Validates and compiles the policy ([`Policy::new`]). With any error, the `Err` holds every
    /// problem, warnings included, and its `Display` lists each error with a fix. Warnings do not
    /// refuse: they are emitted as `tracing` warn events (target `crossgate::policy`); to read
    /// them as values, use `Policy::check(builder.config())`.
    ///
    /// ```
    /// use crossgate::policy::Policy;
    ///
    /// let refused = Policy::builder()
    ///     .allow_origins(["app.example.com"])
    ///     .max_age(600)
    ///     .build()
    ///     .unwrap_err();
    /// assert_eq!(refused.errors().count(), 1);
    /// let shown = refused.to_string();
    /// assert!(shown.starts_with("invalid CORS configuration (1 error)"));
    /// assert!(shown.contains("allow_origins[0] = app.example.com"));
    /// assert!(shown.contains("fix: write https://app.example.com"));
    /// ```
    pub fn build(self) -> Result<Policy, InvalidConfig> {
        Policy::new(&self.config)
    }
}

#[cfg(any(feature = "tower", feature = "actix"))]
impl Policy {
    /// The middleware's decision for a request: this policy's, and, for an origin it does not
    /// list, the resolver's (`Err` when the answer needs a lookup). Refusals are logged once.
    #[inline]
    pub(crate) fn decide_with<'p, 'r, R: RequestHead>(
        &'p self,
        resolver: Option<&'p Resolver>,
        head: &'r R,
    ) -> Result<(&'p Policy, Decision<'r>), Wait> {
        match resolver {
            // The resolver logs the decision it ends with (this policy's refusal may be undone).
            #[cfg(feature = "resolve")]
            Some(resolver) => resolver.consult(self, self.decide(head), head),
            _ => Ok((self, self.decide_logged(head))),
        }
    }
}

/// Without the `resolve` feature nothing is ever deferred: the middleware's waiting states hold
/// this uninhabited stand-in, so their code needs no feature switches.
#[cfg(all(not(feature = "resolve"), any(feature = "tower", feature = "actix")))]
mod no_resolver {
    use std::task::{Context, Poll};

    use super::{ActualAnswer, Decision, HeaderValues, Policy, Refusal, RequestHead};

    /// No resolver can be given to the middleware, and no request waits for one.
    pub(crate) type Resolver = std::convert::Infallible;
    pub(crate) type Wait = std::convert::Infallible;

    pub(crate) struct Deferred {
        never: std::convert::Infallible,
    }

    impl Deferred {
        pub(crate) fn poll_decision<'d, 'r, R: RequestHead>(
            &'d mut self,
            _: &mut Context<'_>,
            _: &'r R,
        ) -> Poll<(&'d Policy, Decision<'r>)> {
            match self.never {}
        }

        pub(crate) fn poll_actual<V: Clone>(
            &mut self,
            _: &mut Context<'_>,
            _: &V,
            _: &[u8],
            _: impl FnOnce(&Policy) -> &HeaderValues<V>,
        ) -> Poll<(Policy, ActualAnswer<V>, Option<Refusal>)> {
            match self.never {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A few names and many names answer alike, byte for byte and case-insensitively.
    #[test]
    fn name_sets_few_and_many() {
        for n in [2, NameSet::FEW, NameSet::FEW + 1, 40] {
            let names: Vec<Vec<u8>> = (0..n).map(|i| format!("x-name-{i}").into_bytes()).collect();
            let set = NameSet::new(names.clone());
            assert_eq!(set.len(), n);
            assert_eq!(matches!(set, NameSet::Few(_)), n <= NameSet::FEW);
            for name in &names {
                assert!(set.contains(name));
                assert!(set.contains_lowercase_of(name));
                assert!(set.contains_lowercase_of(&name.to_ascii_uppercase()));
                assert!(!set.contains(&name.to_ascii_uppercase()));
            }
            for other in [
                &b"x-name"[..],
                b"x-name-",
                b"x-name-1000",
                b"",
                b"X-NAME-00",
            ] {
                assert!(!set.contains(other), "{other:?}");
                assert!(!set.contains_lowercase_of(other), "{other:?}");
            }
        }
    }
}
