//! Fetch §4.9 "CORS-preflight cache", with an injectable clock.
//!
//! Two models: the standard's per-method and per-header entries (Firefox), and one result per
//! (origin, URL) replaced by each preflight (Chromium, WebKit). In both, a `*` stored from a
//! credentialed preflight is taken literally (the standard leaves this gap open;
//! `cors-fetch-rules.md` §1.9), and `*` covers `Authorization` from the cache only where the
//! profile says so (WebKit). How a
//! result is matched follows the profile (Firefox: by credentials mode exactly, `*` literal,
//! `HEAD` checked like any other method).

use std::cell::Cell;
use std::collections::HashMap;
use std::time::{Duration, Instant};

use super::preflight::PreflightGrant;
use super::profile::{CacheModel, Profile};
use crate::fetch::header::is_cors_non_wildcard_request_header_name;
use crate::fetch::method;

/// Where the cache reads the time.
///
/// An [`Agent`](super::Agent) reads it when it looks in its preflight cache and when it stores
/// a preflight's result; an entry lives until `now` reaches the time it was stored plus its
/// max-age. A shared reference to a clock is a clock too, so a test can keep a [`FakeClock`]
/// and move it while an agent holds `&clock`.
pub trait Clock {
    /// The time elapsed since the clock's own start: monotonic, never going back. Only
    /// differences between readings matter.
    fn now(&self) -> Duration;
}

/// The system's monotonic clock ([`Instant`]), reading zero when made: the default clock of
/// [`Agent::new`](super::Agent::new).
#[derive(Clone, Copy, Debug)]
pub struct SystemClock {
    start: Instant,
}

impl Default for SystemClock {
    fn default() -> Self {
        SystemClock {
            start: Instant::now(),
        }
    }
}

impl Clock for SystemClock {
    fn now(&self) -> Duration {
        self.start.elapsed()
    }
}

/// A clock tests move by hand: it reads zero when made (`FakeClock::default()`) and moves
/// only by [`FakeClock::advance`]. `crossgate simulate` runs a [`Sequence`](super::Sequence) on
/// one, moved by each step's `after_ms`. It is not `Sync`: share it by reference within one
/// thread.
#[derive(Debug, Default)]
pub struct FakeClock {
    now: Cell<Duration>,
}

impl FakeClock {
    /// Moves the clock forward by `by`, so that entries whose max-age has run out expire at
    /// the next lookup. Takes `&self`, so the clock can move while an agent borrows it.
    pub fn advance(&self, by: Duration) {
        self.now.set(self.now.get() + by);
    }
}

impl Clock for FakeClock {
    fn now(&self) -> Duration {
        self.now.get()
    }
}

impl<C: Clock + ?Sized> Clock for &C {
    fn now(&self) -> Duration {
        (**self).now()
    }
}

/// What a cache lookup is about: the request about to be preflighted, as
/// [`PreflightCache::covers`] judges it (Fetch §4.4 step 1).
#[derive(Clone, Copy, Debug)]
pub struct Lookup<'a> {
    /// The byte-serialized request origin (`null` when tainted).
    pub origin: &'a str,
    /// The request's current URL, whole (query included).
    pub url: &'a str,
    /// Whether the request's credentials mode is `include`.
    pub include: bool,
    /// The request's method, normalised. A cached method matches byte for byte (`patch` is not
    /// `PATCH`), or through a cached `*` where the profile reads it as a wildcard.
    pub method: &'a str,
    /// The request's use-CORS-preflight flag: when set, even a CORS-safelisted method must be
    /// in the cache.
    pub use_cors_preflight: bool,
    /// The CORS-unsafe request-header names, lowercase.
    pub unsafe_headers: &'a [String],
}

#[derive(Clone, Debug)]
enum Grant {
    Method(String),
    Header(String),
    Whole {
        methods: Vec<String>,
        headers: Vec<String>,
    },
}

#[derive(Clone, Debug)]
struct Entry {
    origin: String,
    url: String,
    credentials: bool,
    expires: Duration,
    grant: Grant,
}

impl Entry {
    /// Fetch §4.9 "cache entry match": same origin and URL, and a credentialed entry serves
    /// both kinds of request (unless the agent keys by credentials mode), a non-credentialed one
    /// only requests without credentials.
    fn matches(&self, p: &Profile, lookup: &Lookup<'_>) -> bool {
        self.origin == lookup.origin
            && self.url == lookup.url
            && if p.cache_credentialed_serves_all {
                self.credentials || !lookup.include
            } else {
                self.credentials == lookup.include
            }
    }

    /// A cached `*` is a wildcard only without credentials, and only where the agent reads it
    /// as one.
    fn wildcard(&self, p: &Profile, names: &[String]) -> bool {
        p.cache_wildcards && !self.credentials && names.iter().any(|x| x == "*")
    }

    fn method_ok(&self, p: &Profile, methods: &[String], m: &str) -> bool {
        methods.iter().any(|x| x == m) || self.wildcard(p, methods)
    }

    fn header_ok(&self, p: &Profile, headers: &[String], name: &str) -> bool {
        headers.iter().any(|h| h.eq_ignore_ascii_case(name))
            || ((p.cached_wildcard_covers_authorization
                || !is_cors_non_wildcard_request_header_name(name.as_bytes()))
                && self.wildcard(p, headers))
    }
}

/// Whether the request's method must be found in the cache (Fetch §4.4 step 1: not for a
/// CORS-safelisted method unless the preflight is forced; Firefox spares only GET and POST).
fn needs_method(p: &Profile, lookup: &Lookup<'_>) -> bool {
    lookup.use_cors_preflight
        || !method::is_cors_safelisted(lookup.method.as_bytes())
        || (!p.cache_spares_head && lookup.method == "HEAD")
}

/// The preflight cache of one agent, matching entries by its profile's rules.
///
/// Fetch §4.9: a successful preflight's allowed methods and headers are kept for its max-age
/// (as [`Profile::max_age`] reads `Access-Control-Max-Age`), keyed by the request's origin and
/// URL, and spare later requests their preflight while they last. Times are those of a
/// [`Clock`], passed in by the caller.
///
/// <https://fetch.spec.whatwg.org/#cors-preflight-cache>
///
/// ```
/// use std::time::Duration;
///
/// use crossgate::agent::preflight::PreflightGrant;
/// use crossgate::agent::{Clock, FakeClock, Lookup, PreflightCache, Profile};
///
/// let profile = Profile::chromium();
/// let mut cache = PreflightCache::new(&profile);
/// let clock = FakeClock::default();
/// let (origin, url) = ("https://app.example", "https://api.example/items/1");
///
/// // The preflight answered `Access-Control-Allow-Methods: PUT`,
/// // `Access-Control-Allow-Headers: content-type` and `Access-Control-Max-Age: 60`.
/// let grant = PreflightGrant {
///     methods: vec!["PUT".to_owned()],
///     headers: vec!["content-type".to_owned()],
///     max_age: profile.max_age(Some(b"60".as_slice())),
///     credentials: false,
///     authorization_by_wildcard: false,
/// };
/// cache.store(clock.now(), origin, url, &grant);
/// assert_eq!(cache.len(), 1); // Chromium keeps one result per origin and URL.
///
/// // The same PUT a little later: no preflight needed.
/// let unsafe_headers = ["content-type".to_owned()];
/// let put = Lookup {
///     origin,
///     url,
///     include: false,
///     method: "PUT",
///     use_cors_preflight: false,
///     unsafe_headers: &unsafe_headers,
/// };
/// clock.advance(Duration::from_secs(59));
/// assert!(cache.covers(clock.now(), &put));
///
/// // 60 s after it was stored, the entry has expired: the PUT is preflighted again.
/// clock.advance(Duration::from_secs(1));
/// assert!(!cache.covers(clock.now(), &put));
/// assert!(cache.is_empty());
/// ```
#[derive(Clone, Debug)]
pub struct PreflightCache {
    profile: Profile,
    entries: Vec<Entry>,
}

impl PreflightCache {
    /// An empty cache that keeps and matches entries as `profile` says
    /// ([`Profile::cache_model`] and the other `cache_*` fields).
    pub fn new(profile: &Profile) -> PreflightCache {
        PreflightCache {
            profile: *profile,
            entries: Vec::new(),
        }
    }

    /// The number of entries, expired ones included until a lookup drops them. Under the
    /// standard's model (and Firefox's) a preflight makes one entry per allowed method and
    /// header name; under the whole-result model (Chromium, WebKit), one per origin and URL.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the cache holds no entry, expired ones counted as for [`PreflightCache::len`].
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Whether the cache spares `lookup` a preflight (Fetch §4.4 step 1's condition, negated).
    /// Expired entries go first; under the whole-result model a result that does not cover the
    /// request is dropped, as Chromium does, so the new preflight replaces it (not in WebKit).
    pub fn covers(&mut self, now: Duration, lookup: &Lookup<'_>) -> bool {
        self.entries.retain(|e| e.expires > now);
        let p = self.profile;
        let needs_method_entry = needs_method(&p, lookup);
        match p.cache_model {
            CacheModel::PerEntry => {
                // Some result for the URL is needed even when nothing in particular is asked
                // (a preflight Firefox repeats after a redirect, for a simple `GET`).
                let matching: Vec<&Entry> = self
                    .entries
                    .iter()
                    .filter(|e| e.matches(&p, lookup))
                    .collect();
                let method_ok = !needs_method_entry
                    || matching.iter().any(|e| {
                        matches!(&e.grant, Grant::Method(m) if e.method_ok(&p, std::slice::from_ref(m), lookup.method))
                    });
                // The granted names as a set, and whether a `*` entry serves as a wildcard:
                // `header_ok` over each entry, in time proportional to the entries.
                let mut names = std::collections::HashSet::new();
                let mut wildcard = false;
                for e in &matching {
                    if let Grant::Header(h) = &e.grant {
                        names.insert(h.to_ascii_lowercase());
                        wildcard |= e.wildcard(&p, std::slice::from_ref(h));
                    }
                }
                !matching.is_empty()
                    && method_ok
                    && lookup.unsafe_headers.iter().all(|name| {
                        names.contains(&name.to_ascii_lowercase())
                            || (wildcard
                                && (p.cached_wildcard_covers_authorization
                                    || !is_cors_non_wildcard_request_header_name(name.as_bytes())))
                    })
            }
            CacheModel::WholeResult => {
                let Some(i) = self
                    .entries
                    .iter()
                    .position(|e| e.origin == lookup.origin && e.url == lookup.url)
                else {
                    return false;
                };
                let e = &self.entries[i];
                let Grant::Whole { methods, headers } = &e.grant else {
                    return false;
                };
                let covered = e.matches(&p, lookup)
                    && (!needs_method_entry || e.method_ok(&p, methods, lookup.method))
                    && lookup
                        .unsafe_headers
                        .iter()
                        .all(|name| e.header_ok(&p, headers, name));
                // Chromium drops it, so the new preflight replaces it even if that one fails;
                // WebKit keeps it until a successful preflight replaces it.
                if !covered && p.preflight_failure_clears_cache {
                    self.entries.remove(i);
                }
                covered
            }
        }
    }

    /// Stores what a preflight allowed (Fetch §4.8 steps 7.11-7.12). A max age of 0 stores
    /// nothing.
    pub fn store(&mut self, now: Duration, origin: &str, url: &str, grant: &PreflightGrant) {
        if grant.max_age == 0 || (origin == "null" && !self.profile.caches_preflights_from_null) {
            return;
        }
        let expires = now + Duration::from_secs(grant.max_age);
        let make = |g: Grant| Entry {
            origin: origin.to_owned(),
            url: url.to_owned(),
            credentials: grant.credentials,
            expires,
            grant: g,
        };
        match self.profile.cache_model {
            CacheModel::WholeResult => {
                self.entries
                    .retain(|e| !(e.origin == origin && e.url == url));
                self.entries.push(make(Grant::Whole {
                    methods: grant.methods.clone(),
                    headers: grant.headers.clone(),
                }));
            }
            CacheModel::PerEntry => {
                // "A method/header-name cache entry match exists: set its max-age; otherwise
                // create one", through an index of the entries for this origin and URL.
                let key = |g: &Grant| match g {
                    Grant::Method(m) => Some((true, m.clone())),
                    Grant::Header(h) => Some((false, h.to_ascii_lowercase())),
                    Grant::Whole { .. } => None,
                };
                let mut index: HashMap<(bool, String), usize> = HashMap::new();
                for (i, e) in self.entries.iter().enumerate() {
                    if e.origin == origin
                        && e.url == url
                        && e.credentials == grant.credentials
                        && let Some(k) = key(&e.grant)
                    {
                        index.insert(k, i);
                    }
                }
                let grants = grant
                    .methods
                    .iter()
                    .map(|m| Grant::Method(m.clone()))
                    .chain(grant.headers.iter().map(|h| Grant::Header(h.clone())));
                for g in grants {
                    let Some(k) = key(&g) else { continue };
                    match index.get(&k) {
                        Some(i) => self.entries[*i].expires = expires,
                        None => {
                            index.insert(k, self.entries.len());
                            self.entries.push(make(g));
                        }
                    }
                }
            }
        }
    }

    /// Fetch §4.9 "clear cache entries": after a network error of a preflighted request.
    pub fn clear(&mut self, origin: &str, url: &str) {
        self.entries
            .retain(|e| !(e.origin == origin && e.url == url));
    }

    /// Moves `other`'s entries into this cache. With [`PreflightCache::into_keys`], a replay of
    /// a long log keeps one small cache per origin and URL and runs each fetch against the
    /// entries it could match only.
    pub(crate) fn absorb(&mut self, other: PreflightCache) {
        self.entries.extend(other.entries);
    }

    /// The cache split by what its entries match on: origin and URL.
    pub(crate) fn into_keys(self) -> Vec<((String, String), PreflightCache)> {
        let mut out: Vec<((String, String), PreflightCache)> = Vec::new();
        for e in self.entries {
            match out
                .iter_mut()
                .find(|((o, u), _)| *o == e.origin && *u == e.url)
            {
                Some((_, c)) => c.entries.push(e),
                None => out.push((
                    (e.origin.clone(), e.url.clone()),
                    PreflightCache {
                        profile: self.profile,
                        entries: vec![e],
                    },
                )),
            }
        }
        out
    }
}
