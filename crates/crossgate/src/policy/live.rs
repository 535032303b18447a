//! A policy that can be replaced, or have its origins edited, while requests are served.

use std::fmt;
use std::ops::Deref;
use std::sync::{Arc, Mutex, PoisonError};

use arc_swap::ArcSwap;
use arc_swap::cache::Cache;

use super::edit::OriginChanges;
use super::problem::{InvalidConfig, Problem};
use super::{Checked, Policy, PolicyConfig};

/// A handle on the policy in force, shared by the middleware that serves with it and the code
/// that changes it (an admin endpoint, a job that syncs tenants' domains, a file watcher).
///
/// Each request reads the policy once, when it starts, and finishes on that policy; requests
/// that start after a change see the new one at once. Reading is one atomic load, with no lock
/// that readers contend on and no allocation ([`arc_swap`]). A change is validated first: an
/// invalid one is refused with every problem listed, and the policy in force keeps serving.
/// Changes are applied one at a time, so two edits made at once never lose each other's work.
///
/// ```
/// use crossgate::policy::{LivePolicy, Policy};
///
/// let live = LivePolicy::new(
///     Policy::builder()
///         .allow_origins(["https://app.example.com"])
///         .allow_credentials(true)
///         .build()?,
/// );
/// // A tenant brings its own domain: allowed from the next request on.
/// live.add_origins(["https://shop.customer.example"])?;
/// assert!(live.current().allows_origin(b"https://shop.customer.example"));
/// // An insecure origin with credentials is refused, and nothing changes.
/// let refused = live.add_origins(["http://shop.other.example"]).unwrap_err();
/// assert_eq!(refused.problems()[0].code.as_str(), "insecure-origin-with-credentials");
/// assert!(!live.current().allows_origin(b"http://shop.other.example"));
/// # Ok::<(), crossgate::policy::InvalidConfig>(())
/// ```
///
/// Build the tower layer with `CorsLayer::live(live.clone())` and the actix-web middleware with
/// `Cors::live(live.clone())`; keep a clone to make changes.
#[derive(Clone)]
pub struct LivePolicy {
    shared: Arc<Shared>,
}

struct Shared {
    current: ArcSwap<Policy>,
    /// Held by whoever is changing the policy: changes read the policy in force and replace it.
    changing: Mutex<()>,
}

impl LivePolicy {
    /// A handle with `policy` in force. Clone the handle to share it; every clone sees and
    /// makes the same changes.
    pub fn new(policy: Policy) -> LivePolicy {
        LivePolicy {
            shared: Arc::new(Shared {
                current: ArcSwap::from_pointee(policy),
                changing: Mutex::new(()),
            }),
        }
    }

    /// The policy in force now. Later changes do not affect the value returned.
    pub fn current(&self) -> Policy {
        Policy::clone(&self.shared.current.load())
    }

    /// A reader for one middleware instance (see [`LiveReader`]).
    #[cfg_attr(not(any(feature = "tower", feature = "actix")), allow(dead_code))]
    pub(crate) fn reader(&self) -> LiveReader {
        LiveReader(Cache::new(SharedRef(Arc::clone(&self.shared))))
    }

    /// Puts `policy` in force (it was validated when it was built).
    pub fn replace(&self, policy: Policy) {
        let _changing = self.lock();
        self.shared.current.store(Arc::new(policy));
    }

    /// Validates `config` and, if it has no error, puts it in force. Returns the warnings (also
    /// emitted as `tracing` events); on error nothing changes.
    pub fn update(&self, config: &PolicyConfig) -> Result<Vec<Problem>, InvalidConfig> {
        self.change(|_| Policy::check(config))
    }

    /// Replaces the allowed origins with `origins`, validated with the rest of the policy in
    /// force, which is kept. The whole list is checked, so prefer
    /// [`change_origins`](Self::change_origins) for a few changes to a long list.
    pub fn set_origins<I, S>(&self, origins: I) -> Result<Vec<Problem>, InvalidConfig>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let origins: Vec<String> = origins.into_iter().map(Into::into).collect();
        self.change(|current| {
            Policy::check(&PolicyConfig {
                allow_origins: origins,
                ..current.settings().clone_without_origins()
            })
        })
    }

    /// Adds and removes origin patterns (see [`Policy::with_origin_changes`]): the cost grows
    /// with the number of changes, not with the number of origins allowed.
    pub fn change_origins(&self, changes: &OriginChanges) -> Result<Vec<Problem>, InvalidConfig> {
        self.change(|current| current.with_origin_changes(changes))
    }

    /// Adds origin patterns; see [`change_origins`](Self::change_origins).
    pub fn add_origins<I, S>(&self, patterns: I) -> Result<Vec<Problem>, InvalidConfig>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.change_origins(&OriginChanges::new().add_all(patterns))
    }

    /// Removes origin patterns; see [`change_origins`](Self::change_origins).
    pub fn remove_origins<I, S>(&self, patterns: I) -> Result<Vec<Problem>, InvalidConfig>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.change_origins(&OriginChanges::new().remove_all(patterns))
    }

    /// Checks a change made to the policy in force and, if it has no error, puts the result in
    /// force; all under the change lock.
    fn change(&self, make: impl FnOnce(&Policy) -> Checked) -> Result<Vec<Problem>, InvalidConfig> {
        let _changing = self.lock();
        let current = self.shared.current.load_full();
        let checked = make(&current);
        let Some(policy) = checked.policy else {
            return Err(InvalidConfig {
                problems: checked.problems,
            });
        };
        super::log_warnings(&checked.problems);
        self.shared.current.store(Arc::new(policy));
        Ok(checked.problems)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ()> {
        // The lock guards no data: a panic while it was held left nothing half-done.
        self.shared
            .changing
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

/// Reads the policy in force for one middleware instance: while the policy is unchanged, a read
/// is one relaxed atomic load and a pointer comparison (the instance keeps a reference to the
/// policy it last saw); after a change, the first read takes the new policy.
#[derive(Clone)]
#[cfg_attr(not(any(feature = "tower", feature = "actix")), allow(dead_code))]
pub(crate) struct LiveReader(Cache<SharedRef, Arc<Policy>>);

#[cfg_attr(not(any(feature = "tower", feature = "actix")), allow(dead_code))]
impl LiveReader {
    #[inline]
    pub(crate) fn load(&mut self) -> &Policy {
        self.0.load()
    }

    /// The policy in force now, without touching the cache (the tower service's `policy()`).
    #[cfg_attr(not(feature = "tower"), allow(dead_code))]
    pub(crate) fn current(&self) -> Policy {
        Policy::clone(&self.0.arc_swap().load())
    }
}

impl fmt::Debug for LiveReader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("LiveReader")
            .field(&*self.0.arc_swap().load())
            .finish()
    }
}

/// The shared state, seen as the `ArcSwap` the cache reads.
#[derive(Clone)]
struct SharedRef(Arc<Shared>);

impl Deref for SharedRef {
    type Target = ArcSwap<Policy>;

    fn deref(&self) -> &ArcSwap<Policy> {
        &self.0.current
    }
}

impl From<Policy> for LivePolicy {
    fn from(policy: Policy) -> LivePolicy {
        LivePolicy::new(policy)
    }
}

impl fmt::Debug for LivePolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("LivePolicy")
            .field(&*self.shared.current.load())
            .finish()
    }
}
