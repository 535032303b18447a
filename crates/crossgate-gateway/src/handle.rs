//! What the server, the admin listener and reloads share: the configuration in force (one
//! snapshot, swapped atomically) and the metrics, and [`GatewayHandle`], which changes the one
//! and reads the other. The server, `admin` and `reload` depend on this module; it depends on
//! none of them.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;
use crossgate::policy::Problem;

use crate::config::GatewayConfig;
use crate::metrics::Metrics;
use crate::runtime::Snapshot;

const TARGET: &str = "crossgate::gateway";

/// What the server, the reloads and the admin listener share.
pub(crate) struct Shared {
    pub(crate) current: ArcSwap<Snapshot>,
    pub(crate) metrics: Metrics,
    reloading: Mutex<()>,
    generation: AtomicU64,
}

impl Shared {
    pub(crate) fn new(snapshot: Snapshot, metrics: Metrics) -> Shared {
        Shared {
            current: ArcSwap::from_pointee(snapshot),
            metrics,
            reloading: Mutex::new(()),
            generation: AtomicU64::new(1),
        }
    }
}

/// Changes the configuration of a running gateway, and reads its metrics. Cheap to clone.
#[derive(Clone)]
pub struct GatewayHandle {
    pub(crate) shared: Arc<Shared>,
}

impl fmt::Debug for GatewayHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GatewayHandle")
            .field("generation", &self.generation())
            .finish()
    }
}

impl GatewayHandle {
    /// Replaces the configuration in force, after compiling the new one (every policy, the TLS
    /// files). Requests already in flight finish on the configuration they started with; new
    /// requests and connections use the new one. On `Err` (every problem, errors and warnings)
    /// nothing changes. `Ok` holds the new configuration's warnings.
    ///
    /// `listen` and `admin` cannot change while serving: a new value is logged and ignored until
    /// a restart.
    pub fn reload(&self, config: GatewayConfig) -> Result<Vec<Problem>, Vec<Problem>> {
        let shared = &self.shared;
        let _one_at_a_time = shared.reloading.lock().unwrap_or_else(|e| e.into_inner());
        let previous = shared.current.load_full();
        let mut config = config;
        if config.listen != previous.config.listen {
            tracing::warn!(
                target: TARGET,
                from = %previous.config.listen, to = %config.listen,
                "listen cannot change while serving: restart to apply it"
            );
            config.listen = previous.config.listen;
        }
        if config.admin != previous.config.admin {
            tracing::warn!(target: TARGET, "admin.listen cannot change while serving: restart to apply it");
            config.admin = previous.config.admin;
        }
        match Snapshot::build(config, &shared.metrics, Some(&previous)) {
            Ok((snapshot, warnings)) => {
                let routes = snapshot.routes.len();
                shared.current.store(Arc::new(snapshot));
                let generation = shared.generation.fetch_add(1, Ordering::AcqRel) + 1;
                shared.metrics.reloaded(true);
                for w in &warnings {
                    tracing::warn!(target: TARGET, "{w}");
                }
                tracing::info!(target: TARGET, generation, routes, "configuration reloaded");
                Ok(warnings)
            }
            Err(problems) => {
                shared.metrics.reloaded(false);
                log_refused(&problems);
                Err(problems)
            }
        }
    }

    /// How many configurations have been in force (1 before any reload).
    pub fn generation(&self) -> u64 {
        self.shared.generation.load(Ordering::Acquire)
    }

    /// The configuration in force.
    pub fn config(&self) -> GatewayConfig {
        self.shared.current.load().config.clone()
    }

    /// The Prometheus text exposition served at the admin listener's `/metrics`.
    pub fn metrics(&self) -> String {
        self.shared.metrics.render()
    }
}

/// Logs a refused configuration: one line per problem, then what happens.
pub(crate) fn log_refused(problems: &[Problem]) {
    for p in problems {
        if p.is_error() {
            tracing::error!(target: TARGET, "{p}");
        } else {
            tracing::warn!(target: TARGET, "{p}");
        }
    }
    let errors = problems.iter().filter(|p| p.is_error()).count();
    tracing::error!(
        target: TARGET,
        errors,
        "configuration reload refused: the configuration in force keeps serving"
    );
}
