//! The server side: a validated CORS policy, its decision for each request, and the response
//! headers that carry the decision.
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
pub use validate::MAX_HEADER_NAME_LEN;

use matcher::OriginMatcher;
use validate::Wild;

/// A validated, compiled CORS policy. Cheap to clone (one reference count); immutable.
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
    /// Validates `config` and compiles it. Refuses with every error at once; warnings are
    /// emitted as `tracing` events (use [`Policy::check`] to get them as values).
    pub fn new(config: &PolicyConfig) -> Result<Policy, InvalidConfig> {
        let checked = Policy::check(config);
        log_warnings(&checked.problems);
        checked.policy.ok_or(InvalidConfig {
            problems: checked.problems,
        })
    }

    /// Validates `config`, returning the policy (if valid) and every problem found.
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
    /// lowercased). Building a policy from it gives the same policy.
    pub fn config(&self) -> &PolicyConfig {
        self.inner.normalized.get_or_init(|| PolicyConfig {
            allow_origins: self.inner.origins.patterns(),
            ..self.inner.settings.clone_without_origins()
        })
    }

    /// Whether a request `Origin` (its exact bytes) is allowed.
    pub fn allows_origin(&self, origin: &[u8]) -> bool {
        self.inner.origins.matches(origin)
    }

    pub fn allows_credentials(&self) -> bool {
        self.inner.credentials
    }

    /// Whether CORS responses depend on the request's `Origin` (false only for `*`), and so
    /// carry `Vary: Origin`.
    pub fn varies_by_origin(&self) -> bool {
        self.inner.vary_origin
    }

    /// The precomputed header values as `http` 1 values.
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

    /// The precomputed header values converted once to another header-value type (for
    /// frameworks on other `http` versions).
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

/// Builds a [`Policy`] in code; the same validation as configuration files.
#[derive(Clone, Debug, Default)]
#[must_use = "a PolicyBuilder does nothing until `build` is called; each setter returns the builder"]
pub struct PolicyBuilder {
    config: PolicyConfig,
}

fn strings<I: IntoIterator<Item = S>, S: Into<String>>(items: I) -> Vec<String> {
    items.into_iter().map(Into::into).collect()
}

impl PolicyBuilder {
    pub fn allow_origins<I: IntoIterator<Item = S>, S: Into<String>>(mut self, origins: I) -> Self {
        self.config.allow_origins = strings(origins);
        self
    }

    pub fn allow_credentials(mut self, yes: bool) -> Self {
        self.config.allow_credentials = yes;
        self
    }

    pub fn allow_methods<I: IntoIterator<Item = S>, S: Into<String>>(mut self, methods: I) -> Self {
        self.config.allow_methods = strings(methods);
        self
    }

    pub fn allow_headers<I: IntoIterator<Item = S>, S: Into<String>>(mut self, names: I) -> Self {
        self.config.allow_headers = strings(names);
        self
    }

    pub fn expose_headers<I: IntoIterator<Item = S>, S: Into<String>>(mut self, names: I) -> Self {
        self.config.expose_headers = strings(names);
        self
    }

    pub fn max_age(mut self, seconds: u32) -> Self {
        self.config.max_age = Some(i64::from(seconds));
        self
    }

    pub fn allow_private_network(mut self, yes: bool) -> Self {
        self.config.allow_private_network = yes;
        self
    }

    pub fn dangerously_tolerate_insecure_origins(mut self, yes: bool) -> Self {
        self.config.dangerously_tolerate_insecure_origins = yes;
        self
    }

    pub fn dangerously_tolerate_public_suffix_subdomains(mut self, yes: bool) -> Self {
        self.config.dangerously_tolerate_public_suffix_subdomains = yes;
        self
    }

    pub fn config(&self) -> &PolicyConfig {
        &self.config
    }

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
