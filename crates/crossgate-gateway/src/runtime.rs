//! A configuration compiled for serving: one [`Snapshot`], swapped atomically on reload.
//!
//! Every request loads the snapshot current when it arrives and keeps what it needs of it (its
//! route's policy and proxy, reference-counted) until its response is finished, so a reload
//! never changes a request in flight, and a request never waits for a reload.

use std::sync::Arc;
use std::time::Duration;

use crossgate::policy::Policy;
use crossgate::tower::Cors;
use http::uri::Authority;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use hyper_util::server::conn::auto;
use tokio_rustls::TlsAcceptor;

use crate::config::GatewayConfig;
use crate::limits::{Limits, Timeouts};
use crate::metrics::{Metrics, RouteMetrics};
use crate::pool::Pool;
use crate::proxy::Forward;
use crate::route;
use crate::tls;
use crate::upstream::Upstream;
use crossgate::policy::Problem;

/// The name under which requests that no route matches are counted.
pub(crate) const NO_ROUTE: &str = "(no route)";

pub(crate) struct Snapshot {
    pub(crate) config: GatewayConfig,
    /// Most specific first: longer prefixes first, and on equal prefixes a route with a host
    /// before one without.
    pub(crate) routes: Vec<Route>,
    pub(crate) no_route: Route,
    /// The top-level policy.
    pub(crate) policy: Policy,
    pub(crate) limits: Limits,
    pub(crate) timeouts: Timeouts,
    pub(crate) tls: Option<TlsAcceptor>,
    pub(crate) builder: auto::Builder<TokioExecutor>,
    /// One connection pool per upstream authority, shared by the routes to it.
    pools: Pools,
}

pub(crate) struct Route {
    pub(crate) prefix: String,
    pub(crate) host: Option<String>,
    pub(crate) service: RouteService,
    pub(crate) metrics: Arc<RouteMetrics>,
}

/// The service of one route: the proxy inside the CORS layer, or (a route that keeps the
/// upstream's CORS answers) the proxy alone.
#[derive(Clone)]
pub(crate) enum RouteService {
    Cors(Cors<Forward>),
    Keep(Forward),
}

impl Snapshot {
    /// Compiles `config`: every policy, the TLS files, the routes. `Err` with every problem
    /// (errors and warnings) when anything is an error; `Ok` with the warnings otherwise.
    pub(crate) fn build(
        config: GatewayConfig,
        metrics: &Metrics,
        previous: Option<&Snapshot>,
    ) -> Result<(Snapshot, Vec<Problem>), Vec<Problem>> {
        let mut problems = config.check_policies(Vec::new());
        let tls = match &config.tls {
            Some(files) => match tls::acceptor(files) {
                Ok(acceptor) => Some(acceptor),
                Err(p) => {
                    problems.extend(p);
                    None
                }
            },
            None => None,
        };
        if problems.iter().any(Problem::is_error) {
            return Err(problems);
        }
        let compile = |cors| {
            Policy::check(cors)
                .into_result()
                .expect("checked above: a policy without errors compiles")
        };
        let policy = compile(&config.cors);
        let limits = config.limits;
        let timeouts = config.timeouts;
        let mut pools = Pools::default();
        let mut routes: Vec<Route> = Vec::new();
        let routes_in_force = config.routes_in_force();
        for r in &routes_in_force {
            let policy = r.cors.as_ref().map_or_else(|| policy.clone(), compile);
            let metrics = metrics.route(&r.name);
            let pool = match &r.upstream {
                Upstream::Http(upstream) => Some(pools.get_or_add(
                    upstream.authority(),
                    previous.map(|p| &p.pools),
                    timeouts.connect,
                )),
                Upstream::Echo => None,
            };
            let forward = Forward::new(r, &policy, limits, timeouts, pool, metrics.clone());
            let service = if r.keep_upstream_cors {
                RouteService::Keep(forward)
            } else {
                RouteService::Cors(Cors::new(forward, policy))
            };
            routes.push(Route {
                prefix: r.prefix.clone(),
                host: r.host.clone(),
                service,
                metrics,
            });
        }
        routes.sort_by_key(|r| std::cmp::Reverse((r.prefix.len(), r.host.is_some())));
        let no_route_metrics = metrics.route(NO_ROUTE);
        let no_route = Route {
            prefix: "/".to_owned(),
            host: None,
            service: RouteService::Cors(Cors::new(
                Forward::not_found(&policy, limits, timeouts, no_route_metrics.clone()),
                policy.clone(),
            )),
            metrics: no_route_metrics,
        };
        let mut builder = auto::Builder::new(TokioExecutor::new());
        let mut http1 = builder.http1();
        http1
            .timer(TokioTimer::new())
            .header_read_timeout(timeouts.client_header)
            .max_buf_size(limits.parser_buffer());
        if let Some(n) = limits.parser_headers() {
            http1.max_headers(n);
        }
        builder
            .http2()
            .timer(TokioTimer::new())
            .max_header_list_size(u32::try_from(limits.parser_buffer()).unwrap_or(u32::MAX));
        let snapshot = Snapshot {
            config,
            routes,
            no_route,
            policy,
            limits,
            timeouts,
            tls,
            builder,
            pools,
        };
        Ok((snapshot, problems))
    }

    /// The route for a request: the longest matching prefix, a host match winning a tie.
    pub(crate) fn route(&self, host: Option<&[u8]>, path: &str) -> &Route {
        self.routes
            .iter()
            .find(|r| {
                route::prefix_matches(&r.prefix, path)
                    && match (&r.host, host) {
                        (None, _) => true,
                        (Some(want), Some(got)) => route::host_matches(want, got),
                        (Some(_), None) => false,
                    }
            })
            .unwrap_or(&self.no_route)
    }
}

/// The connection pools of a snapshot, one per upstream authority (a handful: a list).
#[derive(Default)]
struct Pools(Vec<(Authority, Pool)>);

impl Pools {
    /// The pool for `authority`: this snapshot's if a route already made it, else the previous
    /// snapshot's (with its idle connections) if its connect timeout still holds, else a new one.
    fn get_or_add(
        &mut self,
        authority: &Authority,
        previous: Option<&Pools>,
        connect_timeout: Duration,
    ) -> Pool {
        if let Some(pool) = self.get(authority) {
            return pool.clone();
        }
        let pool = previous
            .and_then(|p| p.get(authority))
            .filter(|p| p.connect_timeout() == connect_timeout)
            .cloned()
            .unwrap_or_else(|| Pool::new(authority, connect_timeout));
        self.0.push((authority.clone(), pool.clone()));
        pool
    }

    fn get(&self, authority: &Authority) -> Option<&Pool> {
        self.0.iter().find(|(a, _)| a == authority).map(|(_, p)| p)
    }
}
