// The resolver is consulted by the middleware: with `resolve` alone, its waiting half is unused.
#![cfg_attr(not(any(feature = "tower", feature = "actix")), allow(dead_code))]
//! Origins resolved on demand, for allowlists too large or too changeable to compile into the
//! policy: every tenant's own domains, in the application's database.
//!
//! The application implements [`OriginResolver`] (one async method: is this origin allowed, and
//! with which grant) and wraps it in a [`Resolver`], which the tower layer and the actix-web
//! middleware consult only for an origin the compiled policy does not list. The [`Resolver`] is
//! what makes asking a store safe:
//!
//! - **Refuse first.** An `Origin` that is not exactly what a browser sends (not canonical,
//!   `null`, a wildcard, too long) is refused before the store is asked; an origin the store
//!   allows must pass the rules a listed one would (no insecure origin with credentials unless
//!   the policy tolerates it), or it is refused.
//! - **Never allow on failure.** A lookup that fails, passes its timeout or finds too many
//!   lookups already running refuses the origin, and is counted ([`ResolverStats`]).
//! - **Ask once.** Answers are cached per origin, allowed and refused alike, for a set time, in a
//!   cache bounded in entries and in memory whose eviction resists floods of one-off origins
//!   (S3-FIFO); concurrent requests for one origin wait on a single lookup.
//!
//! Lookups are timed with tokio's timer, so the server runs on a tokio runtime with its time
//! driver enabled (axum's and actix-web's are); answers from the cache need no runtime.
//!
//! ```
//! use crossgate::policy::{BoxError, OriginResolver, Resolution, Resolver};
//! use crossgate::policy::Policy;
//!
//! struct Tenants; // in an application: a database pool
//!
//! impl OriginResolver for Tenants {
//!     async fn resolve(&self, origin: &str) -> Result<Resolution, BoxError> {
//!         // SELECT grant FROM tenant_origins WHERE origin = $1
//!         Ok(match origin {
//!             "https://shop.tenant-a.example" => Resolution::Allowed,
//!             "https://admin.tenant-a.example" => Resolution::Granted("admin".into()),
//!             _ => Resolution::Refused,
//!         })
//!     }
//! }
//!
//! let resolver = Resolver::builder(Tenants)
//!     .grant("admin", Policy::builder().allow_credentials(true).allow_methods(["PUT", "DELETE"]))
//!     .build()?;
//! # let _ = resolver;
//! # Ok::<(), crossgate::policy::InvalidConfig>(())
//! ```

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use coarsetime::Instant;
use quick_cache::Weighter;
use quick_cache::sync::{Cache, EntryAction, EntryResult};

use super::decide::log_refusal;
use super::pattern::{HostPattern, OriginPattern, PortPattern, parse_pattern};
use super::validate::insecure_with_credentials;
use super::{
    Actual, ActualAnswer, Decision, DenyReason, HeaderValues, InvalidConfig, MAX_ORIGIN_LEN,
    Policy, PolicyBuilder, PolicyConfig, Problem, ProblemCode, Refusal, RequestHead, log_warnings,
};
use crate::origin::Origin;

/// The error a store's lookup may fail with.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The application's answer to "may this origin read our responses?", asked only for origins the
/// compiled policy does not list, and only once per origin per cache time.
///
/// `origin` is always a well-formed origin in the exact form browsers send
/// (`https://shop.example.com`, `http://localhost:8080`): compare it byte for byte with what the
/// store holds, normalised the same way (lowercase, no default port, no trailing slash).
/// [`Resolver::asks_about`] says whether an origin is in that form.
///
/// A minimal resolver, over a set of origins in memory (an application would query its
/// database), wrapped in a [`Resolver`] with the builder:
///
/// ```
/// use std::collections::HashSet;
/// use std::time::Duration;
///
/// use crossgate::policy::{BoxError, OriginResolver, Policy, Resolution, Resolver};
///
/// struct Tenants {
///     origins: HashSet<String>,
/// }
///
/// impl OriginResolver for Tenants {
///     async fn resolve(&self, origin: &str) -> Result<Resolution, BoxError> {
///         Ok(if self.origins.contains(origin) {
///             Resolution::Allowed
///         } else {
///             Resolution::Refused
///         })
///     }
/// }
///
/// #[tokio::main(flavor = "current_thread")]
/// async fn main() -> Result<(), crossgate::policy::InvalidConfig> {
///     let tenants = Tenants {
///         origins: HashSet::from(["https://shop.tenant-a.example".to_owned()]),
///     };
///     // The store answers for origins in the form browsers send.
///     assert_eq!(
///         tenants.resolve("https://shop.tenant-a.example").await.unwrap(),
///         Resolution::Allowed,
///     );
///     assert_eq!(tenants.resolve("https://evil.example").await.unwrap(), Resolution::Refused);
///
///     let resolver = Resolver::builder(tenants)
///         .allowed_ttl(Duration::from_secs(300))
///         .timeout(Duration::from_millis(200))
///         .build()?;
///     // The middleware takes both: `crossgate::tower::CorsLayer::new(policy).resolver(resolver)`.
///     let policy = Policy::builder().allow_origins(["https://app.example.com"]).build()?;
///     // The resolver never asks about what a browser would not send.
///     assert!(Resolver::asks_about("https://shop.tenant-a.example"));
///     assert!(!Resolver::asks_about("https://Shop.tenant-a.example"));
///     assert!(!Resolver::asks_about("null"));
///     assert_eq!(resolver.stats().lookups, 0); // nothing asked until a request comes
///     # let _ = policy;
///     Ok(())
/// }
/// ```
pub trait OriginResolver: Send + Sync + 'static {
    /// Looks `origin` up in the store. Called only when the cache has no fresh answer, and once
    /// for all the requests of that origin that arrive meanwhile. A lookup that outlasts the
    /// [timeout](ResolverBuilder::timeout) is abandoned (its future dropped) and the origin
    /// refused; an `Err` refuses it too, for the [failure time](ResolverBuilder::failure_ttl).
    fn resolve(&self, origin: &str) -> impl Future<Output = Result<Resolution, BoxError>> + Send;
}

/// What an [`OriginResolver`] says about one origin.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Resolution {
    /// Not allowed: the responses carry no `Access-Control-Allow-Origin` for it.
    Refused,
    /// Allowed, with the settings (methods, headers, credentials, ...) of the policy the layer
    /// was built with.
    Allowed,
    /// Allowed, with the settings of the grant of this name (see [`ResolverBuilder::grant`]).
    /// A name the resolver was not built with refuses the origin.
    Granted(String),
}

/// What a request for a resolved origin is decided with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    Refused,
    /// Allowed with grant `grant` (0: the base policy); `secure` says whether the origin is
    /// potentially trustworthy, for the credentials rule.
    Allowed {
        grant: u16,
        secure: bool,
    },
}

/// A verdict now (cached, or refused before asking), or a lookup to wait for.
pub(crate) enum Pending {
    Ready(Verdict),
    Wait(PendingVerdict),
}

/// A lookup in progress. Owns what it needs, so a response future can hold it.
pub(crate) type PendingVerdict = Pin<Box<dyn Future<Output = Verdict> + Send>>;

/// A request whose origin needs a lookup: the lookup, and whether the request is a preflight
/// (the decision that sent it here said so; the adapters never judge that again).
pub(crate) struct Wait {
    pub(crate) lookup: PendingVerdict,
    pub(crate) preflight: bool,
}

/// A request waiting for its origin's lookup, and what it is decided with when the lookup ends
/// (held by the tower layer's and the actix-web middleware's response futures).
pub(crate) struct Deferred {
    lookup: PendingVerdict,
    base: Policy,
    resolver: Resolver,
}

impl Deferred {
    pub(crate) fn new(lookup: PendingVerdict, base: &Policy, resolver: &Resolver) -> Deferred {
        Deferred {
            lookup,
            base: base.clone(),
            resolver: resolver.clone(),
        }
    }

    /// The decision for `head` once the lookup ends (logged if a refusal).
    pub(crate) fn poll_decision<'d, 'r, R: RequestHead>(
        &'d mut self,
        cx: &mut Context<'_>,
        head: &'r R,
    ) -> Poll<(&'d Policy, Decision<'r>)> {
        let verdict = std::task::ready!(self.lookup.as_mut().poll(cx));
        Poll::Ready(self.resolver.decide_after(&self.base, verdict, head))
    }

    /// An actual request's answer once the lookup ends, and its refusal if it is one: `origin`
    /// is its `Origin` (`bytes`), `values` the framework's header values of a policy.
    pub(crate) fn poll_actual<V: Clone>(
        &mut self,
        cx: &mut Context<'_>,
        origin: &V,
        bytes: &[u8],
        values: impl FnOnce(&Policy) -> &HeaderValues<V>,
    ) -> Poll<(Policy, ActualAnswer<V>, Option<Refusal>)> {
        let verdict = std::task::ready!(self.lookup.as_mut().poll(cx));
        let (policy, actual) = self.resolver.actual_after(&self.base, verdict, bytes);
        let answer = policy.actual_answer(values(policy), &actual, || Some(origin.clone()));
        let refusal = Refusal::of(&Decision::Actual(actual));
        Poll::Ready((policy.clone(), answer, refusal))
    }
}

type Lookup<'a> = Pin<Box<dyn Future<Output = Result<Resolution, BoxError>> + Send + 'a>>;

/// [`OriginResolver`] as an object (its method returns an unnamed future).
trait ErasedResolver: Send + Sync {
    fn resolve_erased<'a>(&'a self, origin: &'a str) -> Lookup<'a>;
}

impl<R: OriginResolver> ErasedResolver for R {
    fn resolve_erased<'a>(&'a self, origin: &'a str) -> Lookup<'a> {
        Box::pin(self.resolve(origin))
    }
}

/// An [`OriginResolver`] with its cache, single flight, timeout and grants. Cheap to clone (one
/// reference count): clones share the cache.
#[derive(Clone)]
pub struct Resolver {
    shared: Arc<Shared>,
}

struct Shared {
    store: Box<dyn ErasedResolver>,
    grants: Box<[Grant]>,
    cache: Cache<Vec<u8>, Entry, EntryWeight>,
    settings: Settings,
    /// Lookups of the store running now.
    in_flight: AtomicUsize,
    counters: Counters,
}

struct Grant {
    name: String,
    policy: Policy,
}

#[derive(Clone, Copy)]
struct Entry {
    verdict: Verdict,
    expires: Instant,
}

/// Bookkeeping per cached entry besides its key's bytes: its slot and index in the cache, its
/// share of the slots that remember evicted keys' hashes (S3-FIFO's ghosts, at most half as many
/// as the entries), and the room the tables keep free as they grow by doubling (quick_cache sizes
/// them on demand): three slots of about 64 bytes and their index. Measured with a counting
/// allocator by `tests/resolve_flood.rs` over several origin lengths and bounds, which fails if
/// the heap outgrows the bound.
const ENTRY_OVERHEAD: u64 = 224;

/// Each entry weighs its bytes, and at least `floor`: with the cache's capacity set to the memory
/// bound, the weights bound both memory (every entry weighs at least what it holds) and entries
/// (none weighs less than memory / entries).
#[derive(Clone)]
struct EntryWeight {
    floor: u64,
}

impl Weighter<Vec<u8>, Entry> for EntryWeight {
    fn weight(&self, key: &Vec<u8>, _: &Entry) -> u64 {
        (key.len() as u64 + ENTRY_OVERHEAD).max(self.floor)
    }
}

#[derive(Clone, Debug)]
struct Settings {
    allowed_ttl: Duration,
    refused_ttl: Duration,
    failure_ttl: Duration,
    timeout: Duration,
    max_lookups: usize,
    max_entries: u64,
    max_memory: u64,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            allowed_ttl: Duration::from_secs(60),
            refused_ttl: Duration::from_secs(30),
            failure_ttl: Duration::from_secs(1),
            timeout: Duration::from_millis(500),
            max_lookups: 64,
            max_entries: 100_000,
            max_memory: 32 << 20,
        }
    }
}

#[derive(Default)]
struct Counters {
    lookups: AtomicU64,
    allowed: AtomicU64,
    refused: AtomicU64,
    failures: AtomicU64,
    timeouts: AtomicU64,
    overloaded: AtomicU64,
    invalid: AtomicU64,
    malformed: AtomicU64,
}

fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

/// What a [`Resolver`] has done since it was built. Cache hits are not counted (that would put a
/// shared counter on every request).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ResolverStats {
    /// Times the store was asked.
    pub lookups: u64,
    /// Answers that allowed an origin.
    pub allowed: u64,
    /// Answers that refused an origin.
    pub refused: u64,
    /// Lookups that failed (the store's error): the origin was refused.
    pub failures: u64,
    /// Lookups, or waits for one, that passed the timeout: the origin was refused.
    pub timeouts: u64,
    /// Origins refused without asking because `max_lookups` lookups were running.
    pub overloaded: u64,
    /// Answers refused: an unknown grant, or an origin the grant may not allow (an insecure
    /// origin with credentials).
    pub invalid: u64,
    /// `Origin` values refused before asking: not an origin as browsers send it.
    pub malformed: u64,
    /// Answers in the cache now.
    pub entries: u64,
    /// The cache's weight now, in bytes (keys and bookkeeping).
    pub memory: u64,
}

impl Resolver {
    /// A resolver asking `store`, with the default cache times (allowed 60 s, refused 30 s,
    /// failed 1 s), a 500 ms timeout, 64 lookups at once, and a cache of at most 100,000
    /// entries and 32 MiB.
    pub fn builder(store: impl OriginResolver) -> ResolverBuilder {
        ResolverBuilder {
            store: Box::new(store),
            grants: Vec::new(),
            settings: Settings::default(),
        }
    }

    /// What the resolver has done, and the size of its cache.
    pub fn stats(&self) -> ResolverStats {
        let c = &self.shared.counters;
        let read = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        ResolverStats {
            lookups: read(&c.lookups),
            allowed: read(&c.allowed),
            refused: read(&c.refused),
            failures: read(&c.failures),
            timeouts: read(&c.timeouts),
            overloaded: read(&c.overloaded),
            invalid: read(&c.invalid),
            malformed: read(&c.malformed),
            entries: self.shared.cache.len() as u64,
            memory: self.shared.cache.weight(),
        }
    }

    /// Forgets every cached answer (after a bulk change in the store, say): the next request of
    /// each origin asks again.
    pub fn clear(&self) {
        self.shared.cache.clear();
    }

    /// Forgets the cached answer for one origin (a lookup of it already running is abandoned
    /// by the cache: its answer is not kept).
    pub fn forget(&self, origin: &str) {
        self.shared.cache.remove(origin.as_bytes());
    }

    /// Whether the resolver would ask its store about `origin`: the exact serialisation a
    /// browser sends, not `null`, no wildcard, at most [`MAX_ORIGIN_LEN`] bytes. A store that
    /// records origins should accept only these (anything else could never be granted).
    pub fn asks_about(origin: &str) -> bool {
        WellFormed::check(origin.as_bytes()).is_some()
    }

    /// The names of the grants the store may answer with ([`Resolution::Granted`]).
    pub fn grants(&self) -> impl Iterator<Item = &str> {
        self.shared.grants.iter().map(|g| g.name.as_str())
    }

    /// The verdict for `origin`, which the policy does not list: from the cache, refused at once
    /// if malformed, or a lookup to wait for.
    #[inline]
    pub(crate) fn start(&self, origin: &[u8]) -> Pending {
        if let Some(entry) = self.shared.cache.get(origin)
            && entry.expires >= Instant::now_without_cache_update()
        {
            return Pending::Ready(entry.verdict);
        }
        self.miss(origin)
    }

    /// [`Resolver::start`] without a fresh cached answer.
    #[cold]
    #[inline(never)]
    fn miss(&self, origin: &[u8]) -> Pending {
        let Some(checked) = WellFormed::check(origin) else {
            bump(&self.shared.counters.malformed);
            tracing::debug!(target: "crossgate::resolve", origin = %String::from_utf8_lossy(origin), "not an origin a browser sends: refused without asking");
            return Pending::Ready(Verdict::Refused);
        };
        let shared = Arc::clone(&self.shared);
        let origin = origin.to_vec();
        Pending::Wait(Box::pin(
            async move { shared.verdict(&origin, checked).await },
        ))
    }

    /// For a request `base` decided: when it was refused for its origin alone, asks the
    /// resolver, and gives the decision again with the policy the resolver grants (or the
    /// same refusal); `Err` when the answer needs a lookup to wait for.
    /// `decision` is the base policy's, not yet logged: the decision returned is logged here
    /// (once, whoever made it); a deferred one is logged when its lookup ends.
    pub(crate) fn consult<'p, 'r, R: RequestHead>(
        &'p self,
        base: &'p Policy,
        decision: Decision<'r>,
        head: &'r R,
    ) -> Result<(&'p Policy, Decision<'r>), Wait> {
        let decided = self.consult_unlogged(base, decision, head);
        if let Ok((_, decision)) = &decided {
            log_refusal(decision);
        }
        decided
    }

    #[inline]
    fn consult_unlogged<'p, 'r, R: RequestHead>(
        &'p self,
        base: &'p Policy,
        decision: Decision<'r>,
        head: &'r R,
    ) -> Result<(&'p Policy, Decision<'r>), Wait> {
        let (Decision::Actual(Actual::Denied(denied)) | Decision::PreflightDenied(denied)) =
            decision
        else {
            return Ok((base, decision));
        };
        if denied.reason != DenyReason::OriginNotAllowed {
            return Ok((base, decision));
        }
        match self.start(denied.value) {
            Pending::Ready(verdict) => Ok(match self.policy(base, verdict) {
                // An actual request's decision rests on its origin alone: decided from the
                // origin already read, without reading the request again.
                Some(granted) if matches!(decision, Decision::Actual(_)) => (
                    granted,
                    Decision::Actual(granted.decide_actual_from(denied.value, true)),
                ),
                // A preflight goes on from its origin to its method and headers.
                Some(granted) => (
                    granted,
                    granted.decide_preflight_granted(head, denied.value),
                ),
                None => (base, decision),
            }),
            Pending::Wait(lookup) => Err(Wait {
                lookup,
                preflight: matches!(decision, Decision::PreflightDenied(_)),
            }),
        }
    }

    /// The decision for a request whose lookup ended with `verdict`.
    pub(crate) fn decide_after<'p, 'r, R: RequestHead>(
        &'p self,
        base: &'p Policy,
        verdict: Verdict,
        head: &'r R,
    ) -> (&'p Policy, Decision<'r>) {
        let (policy, decision) = match self.policy(base, verdict) {
            Some(granted) => (granted, granted.decide_granted(head)),
            None => (base, base.decide(head)),
        };
        log_refusal(&decision);
        (policy, decision)
    }

    /// [`Resolver::decide_after`] for an actual request, of which only the origin matters.
    pub(crate) fn actual_after<'p, 'r>(
        &'p self,
        base: &'p Policy,
        verdict: Verdict,
        origin: &'r [u8],
    ) -> (&'p Policy, Actual<'r>) {
        let (policy, actual) = match self.policy(base, verdict) {
            Some(granted) => (granted, granted.decide_actual_from(origin, true)),
            None => (base, base.decide_actual_from(origin, false)),
        };
        log_refusal(&Decision::Actual(actual));
        (policy, actual)
    }

    /// The policy a request is decided with under `verdict`: `None` when the origin is refused.
    /// The base policy's credentials rule is applied here, as the base may change while the
    /// verdict is cached.
    pub(crate) fn policy<'p>(&'p self, base: &'p Policy, verdict: Verdict) -> Option<&'p Policy> {
        let Verdict::Allowed { grant, secure } = verdict else {
            return None;
        };
        let policy = match grant {
            0 => base,
            g => &self.shared.grants[usize::from(g) - 1].policy,
        };
        (!insecure_with_credentials(policy.settings(), secure)).then_some(policy)
    }
}

impl fmt::Debug for Resolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Resolver")
            .field(
                "grants",
                &self
                    .shared
                    .grants
                    .iter()
                    .map(|g| &g.name)
                    .collect::<Vec<_>>(),
            )
            .field("settings", &self.shared.settings)
            .field("stats", &self.stats())
            .finish()
    }
}

/// An `Origin` value fit to ask a store about.
#[derive(Clone, Copy)]
struct WellFormed {
    secure: bool,
}

impl WellFormed {
    /// The same rules as a listed origin: the canonical serialisation of a tuple origin (Fetch
    /// §3.2 `origin-or-null`, without `null`), which parses as an exact origin pattern already in
    /// normal form (no `*` host, which URL parsing would otherwise let through).
    fn check(origin: &[u8]) -> Option<WellFormed> {
        if origin.len() > MAX_ORIGIN_LEN {
            return None;
        }
        let Ok(Origin::Tuple { .. }) = Origin::parse_header(origin) else {
            return None;
        };
        let parsed = parse_pattern(std::str::from_utf8(origin).ok()?).ok()?;
        match parsed.pattern {
            OriginPattern::Origins {
                host: HostPattern::Exact(_),
                port: PortPattern::Default | PortPattern::Port(_),
                ..
            } if parsed.normalized.is_empty() => Some(WellFormed {
                secure: parsed.pattern.is_secure(),
            }),
            _ => None,
        }
    }
}

/// Frees its lookup slot when the lookup ends, however it ends (a request dropped mid-lookup
/// included).
struct LookupSlot<'a>(&'a AtomicUsize);

impl<'a> LookupSlot<'a> {
    fn take(in_flight: &'a AtomicUsize, max: usize) -> Option<LookupSlot<'a>> {
        let mut now = in_flight.load(Ordering::Relaxed);
        loop {
            if now >= max {
                return None;
            }
            match in_flight.compare_exchange_weak(now, now + 1, Ordering::AcqRel, Ordering::Relaxed)
            {
                Ok(_) => return Some(LookupSlot(in_flight)),
                Err(actual) => now = actual,
            }
        }
    }
}

impl Drop for LookupSlot<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Shared {
    /// The verdict for a well-formed origin missing from the cache: one lookup per origin at a
    /// time (the others wait for its answer), each request bounded by the timeout.
    async fn verdict(&self, origin: &[u8], checked: WellFormed) -> Verdict {
        let started = Instant::now_without_cache_update();
        let deadline = tokio::time::Instant::now() + self.settings.timeout;
        // An answer cached since this request started (by the lookup it waited for) is taken;
        // an older, expired one is replaced, and this request runs the lookup. Waiting for
        // another request's lookup is bounded by this request's deadline.
        let entry = tokio::time::timeout_at(
            deadline,
            self.cache.entry_async(origin, |_, e| {
                if e.expires >= started {
                    EntryAction::Retain(e.verdict)
                } else {
                    EntryAction::ReplaceWithGuard
                }
            }),
        )
        .await;
        let guard = match entry {
            Ok(EntryResult::Retained(verdict)) => return verdict,
            Ok(EntryResult::Vacant(guard) | EntryResult::Replaced(guard, _)) => guard,
            Ok(EntryResult::Removed(..) | EntryResult::Timeout) => return Verdict::Refused,
            Err(_) => {
                bump(&self.counters.timeouts);
                return Verdict::Refused;
            }
        };
        // Dropping the guard unanswered lets a waiting request try in turn.
        let Some(_slot) = LookupSlot::take(&self.in_flight, self.settings.max_lookups) else {
            bump(&self.counters.overloaded);
            tracing::warn!(target: "crossgate::resolve", max_lookups = self.settings.max_lookups, "too many origin lookups running: origin refused without asking");
            return Verdict::Refused;
        };
        bump(&self.counters.lookups);
        // The origin is ASCII: `WellFormed::check` parsed it as a canonical origin.
        let text = std::str::from_utf8(origin).unwrap_or_default();
        // A request that took the lookup over after waiting has less than the whole timeout
        // left: its running out says nothing about the store, so it is not remembered.
        let full_time = deadline.saturating_duration_since(tokio::time::Instant::now()) * 10
            >= self.settings.timeout * 9;
        let answer = tokio::time::timeout_at(deadline, self.store.resolve_erased(text)).await;
        let (verdict, ttl) = match answer {
            Ok(Ok(resolution)) => self.judge(text, resolution, checked),
            Ok(Err(error)) => {
                bump(&self.counters.failures);
                tracing::warn!(target: "crossgate::resolve", origin = text, %error, "origin lookup failed: origin refused");
                (Verdict::Refused, self.settings.failure_ttl)
            }
            Err(_) => {
                bump(&self.counters.timeouts);
                tracing::warn!(target: "crossgate::resolve", origin = text, timeout_ms = self.settings.timeout.as_millis() as u64, "origin lookup timed out: origin refused");
                if !full_time {
                    return Verdict::Refused;
                }
                (Verdict::Refused, self.settings.failure_ttl)
            }
        };
        let expires = Instant::now_without_cache_update() + ttl.into();
        // An entry heavier than 97% of a cache shard is not kept (the bounds are checked so that
        // none is); the answer stands either way.
        let _ = guard.insert(Entry { verdict, expires });
        verdict
    }

    /// The verdict on a store's answer, and how long to keep it.
    fn judge(
        &self,
        origin: &str,
        resolution: Resolution,
        checked: WellFormed,
    ) -> (Verdict, Duration) {
        let grant = match resolution {
            Resolution::Refused => {
                bump(&self.counters.refused);
                return (Verdict::Refused, self.settings.refused_ttl);
            }
            Resolution::Allowed => 0,
            Resolution::Granted(name) => {
                match self.grants.iter().position(|g| g.name == name) {
                    // At most u16::MAX grants (checked when built).
                    Some(i) => (i + 1) as u16,
                    None => {
                        bump(&self.counters.invalid);
                        tracing::error!(target: "crossgate::resolve", origin, grant = name, "the resolver named a grant it was not built with: origin refused");
                        return (Verdict::Refused, self.settings.failure_ttl);
                    }
                }
            }
        };
        // A named grant's credentials rule is known now; the base policy's is applied when the
        // answer is used (`Resolver::policy`), since a live base may change while it is cached.
        if grant > 0
            && insecure_with_credentials(
                self.grants[usize::from(grant) - 1].policy.settings(),
                checked.secure,
            )
        {
            bump(&self.counters.invalid);
            tracing::error!(target: "crossgate::resolve", origin, code = %ProblemCode::InsecureOriginWithCredentials.as_str(), "the resolver allowed an unencrypted origin with credentials: origin refused");
            return (Verdict::Refused, self.settings.refused_ttl);
        }
        bump(&self.counters.allowed);
        (
            Verdict::Allowed {
                grant,
                secure: checked.secure,
            },
            self.settings.allowed_ttl,
        )
    }
}

/// Builds a [`Resolver`]: its grants, cache times, timeout and bounds.
#[must_use = "a ResolverBuilder does nothing until `build` is called"]
pub struct ResolverBuilder {
    store: Box<dyn ErasedResolver>,
    grants: Vec<(String, PolicyConfig)>,
    settings: Settings,
}

/// The longest a cache time or the timeout may be.
const MAX_TIME: Duration = Duration::from_secs(24 * 60 * 60);

impl ResolverBuilder {
    /// Adds a grant: settings (methods, headers, credentials, exposed headers, max age, private
    /// network) that the resolver can give an origin by name with [`Resolution::Granted`]. The
    /// grant lists no origins (the resolver decides which origins get it) and is validated like
    /// any policy.
    pub fn grant(mut self, name: impl Into<String>, settings: PolicyBuilder) -> Self {
        self.grants.push((name.into(), settings.config().clone()));
        self
    }

    /// How long an origin the store allowed stays allowed without asking again (default 60 s):
    /// a deleted row stops granting access within this time (plus the timeout, for a lookup
    /// that read the row just before it went; [`Resolver::forget`] ends it at once).
    pub fn allowed_ttl(mut self, ttl: Duration) -> Self {
        self.settings.allowed_ttl = ttl;
        self
    }

    /// How long an origin the store refused stays refused without asking again (default 30 s):
    /// a new row takes effect within this time (plus the timeout; [`Resolver::forget`] at once).
    pub fn refused_ttl(mut self, ttl: Duration) -> Self {
        self.settings.refused_ttl = ttl;
        self
    }

    /// How long a failed or timed-out lookup keeps the origin refused before the store is asked
    /// again (default 1 s), so that a struggling store is not asked once per request.
    pub fn failure_ttl(mut self, ttl: Duration) -> Self {
        self.settings.failure_ttl = ttl;
        self
    }

    /// The longest a request waits for a lookup, its own or another's (default 500 ms); after
    /// it, the origin is refused.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.settings.timeout = timeout;
        self
    }

    /// How many lookups may run at once (default 64); an origin that needs one more is refused
    /// without asking (and asked again on its next request), so a flood of new origins cannot
    /// queue up on the store.
    pub fn max_lookups(mut self, lookups: usize) -> Self {
        self.settings.max_lookups = lookups;
        self
    }

    /// The most answers the cache keeps (default 100,000).
    pub fn max_entries(mut self, entries: u64) -> Self {
        self.settings.max_entries = entries;
        self
    }

    /// The most memory the cache's entries take, in bytes (default 32 MiB).
    pub fn max_memory(mut self, bytes: u64) -> Self {
        self.settings.max_memory = bytes;
        self
    }

    /// Validates the grants and settings: refuses with every problem at once.
    pub fn build(self) -> Result<Resolver, InvalidConfig> {
        let mut problems = Vec::new();
        let grants = self.check_grants(&mut problems);
        self.settings.check(&mut problems);
        if problems.iter().any(Problem::is_error) {
            return Err(InvalidConfig { problems });
        }
        log_warnings(&problems);
        let s = &self.settings;
        let floor = s.max_memory.div_ceil(s.max_entries).max(1);
        // The fewest entries a full cache holds: all of them the heaviest. Enough shards for
        // the cores, few enough that each holds several of the heaviest entries (a shard
        // refuses an entry above 97% of its capacity).
        let heaviest = (MAX_ORIGIN_LEN as u64 + ENTRY_OVERHEAD).max(floor);
        let fewest = (s.max_memory / heaviest).max(1);
        let shards = (s.max_memory / (4 * heaviest))
            .min(s.max_entries / 4)
            .clamp(1, 64);
        // A power of two, rounded down so that no shard gets smaller than planned.
        let shards = 1usize << (63 - shards.leading_zeros());
        let options = quick_cache::OptionsBuilder::new()
            // quick_cache keeps the hashes of evicted keys (S3-FIFO's ghosts) for half this
            // many: sized by the fewest entries a full cache holds, there are never more ghosts
            // than half the entries, which ENTRY_OVERHEAD accounts for.
            .estimated_items_capacity(fewest as usize)
            .weight_capacity(s.max_memory)
            .shards(shards)
            .build()
            .map_err(|e| InvalidConfig {
                problems: vec![Problem::error(
                    ProblemCode::InvalidValue,
                    "max_memory",
                    s.max_memory.to_string(),
                    format!("the cache cannot be built: {e}"),
                    "raise max_memory",
                )],
            })?;
        let cache = Cache::with_options(
            options,
            EntryWeight { floor },
            Default::default(),
            Default::default(),
        );
        Ok(Resolver {
            shared: Arc::new(Shared {
                store: self.store,
                grants,
                cache,
                settings: self.settings,
                in_flight: AtomicUsize::new(0),
                counters: Counters::default(),
            }),
        })
    }

    fn check_grants(&self, problems: &mut Vec<Problem>) -> Box<[Grant]> {
        let mut grants = Vec::with_capacity(self.grants.len());
        if self.grants.len() >= usize::from(u16::MAX) {
            problems.push(Problem::error(
                ProblemCode::InvalidValue,
                "grants",
                self.grants.len().to_string(),
                "too many grants",
                "give the resolver fewer than 65,535 grants",
            ));
        }
        for (i, (name, config)) in self.grants.iter().enumerate() {
            let field = format!("grants.{name}");
            if name.trim().is_empty() {
                problems.push(Problem::error(
                    ProblemCode::EmptyName,
                    format!("grants[{i}]"),
                    name.clone(),
                    "a grant needs a name for the resolver to give it by",
                    "name it, e.g. \"read-only\"",
                ));
            } else if self.grants[..i].iter().any(|(other, _)| other == name) {
                problems.push(Problem::error(
                    ProblemCode::Duplicate,
                    field.clone(),
                    name.clone(),
                    "two grants have this name, so the resolver could not tell them apart",
                    "rename one",
                ));
            }
            if !config.allow_origins.is_empty() {
                problems.push(Problem::error(
                    ProblemCode::InvalidValue,
                    format!("{field}.allow_origins"),
                    config.allow_origins.join(", "),
                    "a grant's origins are the ones the resolver gives it; origins listed here \
                     would never be consulted",
                    "list fixed origins in the base policy, and drop them from the grant",
                ));
            }
            let checked = Policy::check(config);
            problems.extend(
                checked
                    .problems
                    .into_iter()
                    .filter(|p| p.code != ProblemCode::NoOriginAllowed)
                    .map(|p| p.within(&field)),
            );
            if let Some(policy) = checked.policy {
                grants.push(Grant {
                    name: name.clone(),
                    policy,
                });
            }
        }
        grants.into_boxed_slice()
    }
}

impl Settings {
    fn check(&self, problems: &mut Vec<Problem>) {
        let times = [
            ("allowed_ttl", self.allowed_ttl, Duration::ZERO),
            ("refused_ttl", self.refused_ttl, Duration::ZERO),
            ("failure_ttl", self.failure_ttl, Duration::ZERO),
            ("timeout", self.timeout, Duration::from_millis(1)),
        ];
        for (field, value, least) in times {
            if value < least || value > MAX_TIME {
                problems.push(Problem::error(
                    ProblemCode::InvalidValue,
                    field,
                    format!("{value:?}"),
                    format!("must be between {least:?} and 24 hours"),
                    format!("set {field} within that range"),
                ));
            }
        }
        let counts = [
            ("max_lookups", self.max_lookups as u64, 1),
            ("max_entries", self.max_entries, 16),
            ("max_memory", self.max_memory, 64 << 10),
        ];
        for (field, value, least) in counts {
            if value < least {
                problems.push(Problem::error(
                    ProblemCode::InvalidValue,
                    field,
                    value.to_string(),
                    format!("must be at least {least}"),
                    format!("raise {field}"),
                ));
            }
        }
    }
}
