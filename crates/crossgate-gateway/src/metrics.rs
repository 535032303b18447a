//! Prometheus metrics, written by hand in the text exposition format (version 0.0.4).
//!
//! Why not a metrics crate: every counter here is known when a configuration is loaded (routes,
//! statuses, the library's refusal reasons), so each route gets fixed arrays of atomics, and the
//! request path increments one by index: no label hashing, no lock, no allocation. A route's
//! metrics are kept by name across reloads, so counters never go backwards while a route exists.
//!
//! Measured against the maintained `prometheus-client` crate (0.24) on the same families, 10
//! routes (issue 24; the figures are in the closing note): a request's counters cost 23 ns here
//! against 73-109 ns through its `Family` (a hash of the labels and a read lock per request),
//! and about 21 ns only if every label set's handle is kept; it writes OpenMetrics, whose
//! counters `promtool check metrics` reports as having no help text, with series in hash order.
//! A scrape here allocates a fixed handful (the output sized from the last one), none per
//! series. `tests/ops.rs` has promtool parse and lint a live gateway's /metrics.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crossgate::policy::DenyReason;

/// Every refusal reason of the library, in a fixed order (the index into the counters).
const REASONS: [DenyReason; 6] = [
    DenyReason::OriginNotAllowed,
    DenyReason::OriginMalformed,
    DenyReason::MethodNotAllowed,
    DenyReason::MethodMalformed,
    DenyReason::HeaderNotAllowed,
    DenyReason::HeadersMalformed,
];

fn reason_index(reason: DenyReason) -> usize {
    match reason {
        DenyReason::OriginNotAllowed => 0,
        DenyReason::OriginMalformed => 1,
        DenyReason::MethodNotAllowed => 2,
        DenyReason::MethodMalformed => 3,
        DenyReason::HeaderNotAllowed => 4,
        DenyReason::HeadersMalformed => 5,
    }
}

/// Upper bounds of the upstream latency buckets, in seconds.
const BUCKETS: [f64; 14] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// Statuses 100 to 599, one counter each.
const STATUSES: usize = 500;

/// The counters of one route.
pub(crate) struct RouteMetrics {
    name: String,
    statuses: Box<[AtomicU64]>,
    preflights_allowed: AtomicU64,
    preflights_denied: [AtomicU64; 6],
    actual_denied: [AtomicU64; 6],
    latency_buckets: [AtomicU64; BUCKETS.len()],
    latency_count: AtomicU64,
    latency_micros: AtomicU64,
}

impl RouteMetrics {
    fn new(name: &str) -> RouteMetrics {
        RouteMetrics {
            name: name.to_owned(),
            statuses: (0..STATUSES).map(|_| AtomicU64::new(0)).collect(),
            preflights_allowed: AtomicU64::new(0),
            preflights_denied: Default::default(),
            actual_denied: Default::default(),
            latency_buckets: Default::default(),
            latency_count: AtomicU64::new(0),
            latency_micros: AtomicU64::new(0),
        }
    }

    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    pub(crate) fn response(&self, status: u16) {
        if let Some(c) = self.statuses.get(usize::from(status).wrapping_sub(100)) {
            c.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub(crate) fn preflight_allowed(&self) {
        self.preflights_allowed.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn preflight_denied(&self, reason: DenyReason) {
        self.preflights_denied[reason_index(reason)].fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn actual_denied(&self, reason: DenyReason) {
        self.actual_denied[reason_index(reason)].fetch_add(1, Ordering::Relaxed);
    }

    /// Time from sending a request to the upstream to its response head.
    pub(crate) fn upstream_latency(&self, elapsed: Duration) {
        let secs = elapsed.as_secs_f64();
        if let Some(i) = BUCKETS.iter().position(|le| secs <= *le) {
            self.latency_buckets[i].fetch_add(1, Ordering::Relaxed);
        }
        self.latency_count.fetch_add(1, Ordering::Relaxed);
        self.latency_micros
            .fetch_add(elapsed.as_micros() as u64, Ordering::Relaxed);
    }
}

/// Every metric of one gateway. Shared by the server, the reloader and the admin listener.
#[derive(Default)]
pub(crate) struct Metrics {
    routes: Mutex<Vec<Arc<RouteMetrics>>>,
    reloads_ok: AtomicU64,
    reloads_failed: AtomicU64,
    pub(crate) connections_open: AtomicI64,
    connections_refused: AtomicU64,
    pub(crate) requests_in_flight: AtomicI64,
    /// Ready to serve (false before serving and while draining).
    pub(crate) ready: AtomicBool,
    /// The length of the last scrape, the next one's starting capacity.
    last_scrape: AtomicUsize,
}

impl Metrics {
    /// The counters of the route called `name`, created on first use and kept across reloads.
    pub(crate) fn route(&self, name: &str) -> Arc<RouteMetrics> {
        let mut routes = self.routes.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(r) = routes.iter().find(|r| r.name == name) {
            return Arc::clone(r);
        }
        let r = Arc::new(RouteMetrics::new(name));
        routes.push(Arc::clone(&r));
        r
    }

    pub(crate) fn reloaded(&self, ok: bool) {
        let counter = if ok {
            &self.reloads_ok
        } else {
            &self.reloads_failed
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn connection_refused(&self) {
        self.connections_refused.fetch_add(1, Ordering::Relaxed);
    }

    /// The text exposition of every metric.
    pub(crate) fn render(&self) -> String {
        let routes: Vec<Arc<RouteMetrics>> = self
            .routes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let mut out = String::with_capacity(self.last_scrape.load(Ordering::Relaxed) + 1024);
        let load = |c: &AtomicU64| c.load(Ordering::Relaxed);

        family(
            &mut out,
            "crossgate_requests_total",
            "counter",
            "Requests answered, by route and status (preflights included).",
        );
        for r in &routes {
            for (i, c) in r.statuses.iter().enumerate() {
                let n = load(c);
                if n > 0 {
                    let _ = writeln!(
                        out,
                        "crossgate_requests_total{{route=\"{}\",status=\"{}\"}} {n}",
                        escape(&r.name),
                        i + 100
                    );
                }
            }
        }

        family(
            &mut out,
            "crossgate_preflights_allowed_total",
            "counter",
            "CORS preflights answered 204, by route.",
        );
        for r in &routes {
            let _ = writeln!(
                out,
                "crossgate_preflights_allowed_total{{route=\"{}\"}} {}",
                escape(&r.name),
                load(&r.preflights_allowed)
            );
        }

        family(
            &mut out,
            "crossgate_preflights_denied_total",
            "counter",
            "CORS preflights answered 403, by route and reason.",
        );
        for r in &routes {
            for (reason, c) in REASONS.iter().zip(&r.preflights_denied) {
                let _ = writeln!(
                    out,
                    "crossgate_preflights_denied_total{{route=\"{}\",reason=\"{}\"}} {}",
                    escape(&r.name),
                    reason.as_str(),
                    load(c)
                );
            }
        }

        family(
            &mut out,
            "crossgate_disallowed_origin_requests_total",
            "counter",
            "Actual (non-preflight) requests whose Origin the policy refuses, by route and reason.",
        );
        for r in &routes {
            for (reason, c) in REASONS.iter().zip(&r.actual_denied).take(2) {
                let _ = writeln!(
                    out,
                    "crossgate_disallowed_origin_requests_total{{route=\"{}\",reason=\"{}\"}} {}",
                    escape(&r.name),
                    reason.as_str(),
                    load(c)
                );
            }
        }

        family(
            &mut out,
            "crossgate_upstream_response_seconds",
            "histogram",
            "Time from sending a request to the upstream to its response head, by route.",
        );
        for r in &routes {
            let name = escape(&r.name);
            let mut cumulative = 0;
            for (le, c) in BUCKETS.iter().zip(&r.latency_buckets) {
                cumulative += load(c);
                let _ = writeln!(
                    out,
                    "crossgate_upstream_response_seconds_bucket{{route=\"{name}\",le=\"{le}\"}} {cumulative}"
                );
            }
            let count = load(&r.latency_count);
            let _ = writeln!(
                out,
                "crossgate_upstream_response_seconds_bucket{{route=\"{name}\",le=\"+Inf\"}} {count}"
            );
            let _ = writeln!(
                out,
                "crossgate_upstream_response_seconds_sum{{route=\"{name}\"}} {}",
                load(&r.latency_micros) as f64 / 1e6
            );
            let _ = writeln!(
                out,
                "crossgate_upstream_response_seconds_count{{route=\"{name}\"}} {count}"
            );
        }

        family(
            &mut out,
            "crossgate_config_reloads_total",
            "counter",
            "Configuration reloads, by result (a failed one keeps the configuration in force).",
        );
        let _ = writeln!(
            out,
            "crossgate_config_reloads_total{{result=\"ok\"}} {}",
            load(&self.reloads_ok)
        );
        let _ = writeln!(
            out,
            "crossgate_config_reloads_total{{result=\"failed\"}} {}",
            load(&self.reloads_failed)
        );

        family(
            &mut out,
            "crossgate_connections_open",
            "gauge",
            "Client connections open.",
        );
        let _ = writeln!(
            out,
            "crossgate_connections_open {}",
            self.connections_open.load(Ordering::Relaxed)
        );
        family(
            &mut out,
            "crossgate_connections_refused_total",
            "counter",
            "Client connections answered 503 because max_connections were open.",
        );
        let _ = writeln!(
            out,
            "crossgate_connections_refused_total {}",
            load(&self.connections_refused)
        );
        family(
            &mut out,
            "crossgate_requests_in_flight",
            "gauge",
            "Requests being handled, their response bodies included.",
        );
        let _ = writeln!(
            out,
            "crossgate_requests_in_flight {}",
            self.requests_in_flight.load(Ordering::Relaxed)
        );
        family(
            &mut out,
            "crossgate_build_info",
            "gauge",
            "Always 1; the version of the running binary as a label.",
        );
        let _ = writeln!(
            out,
            "crossgate_build_info{{version=\"{}\"}} 1",
            env!("CARGO_PKG_VERSION")
        );
        crate::process::render(&mut out);
        self.last_scrape.store(out.len(), Ordering::Relaxed);
        out
    }
}

pub(crate) fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// A label value as the text format writes it: backslash, double quote and line feed escaped,
/// straight into the output (no string per series).
fn escape(value: &str) -> Escaped<'_> {
    Escaped(value)
}

struct Escaped<'a>(&'a str);

impl std::fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut rest = self.0;
        while let Some(at) = rest.find(['\\', '"', '\n']) {
            f.write_str(&rest[..at])?;
            f.write_str(match rest.as_bytes()[at] {
                b'\\' => "\\\\",
                b'"' => "\\\"",
                _ => "\\n",
            })?;
            rest = &rest[at + 1..];
        }
        f.write_str(rest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_histograms_and_escapes_labels() {
        let metrics = Metrics::default();
        let r = metrics.route("a\"b");
        r.response(200);
        r.response(200);
        r.response(504);
        r.response(42); // out of range: ignored
        r.preflight_denied(DenyReason::HeaderNotAllowed);
        r.actual_denied(DenyReason::OriginNotAllowed);
        r.upstream_latency(Duration::from_millis(3));
        r.upstream_latency(Duration::from_secs(60));
        metrics.reloaded(true);
        metrics.reloaded(false);
        metrics.reloaded(false);
        assert!(Arc::ptr_eq(&r, &metrics.route("a\"b")), "kept by name");
        let text = metrics.render();
        for line in [
            "crossgate_requests_total{route=\"a\\\"b\",status=\"200\"} 2",
            "crossgate_requests_total{route=\"a\\\"b\",status=\"504\"} 1",
            "crossgate_preflights_denied_total{route=\"a\\\"b\",reason=\"header-not-allowed\"} 1",
            "crossgate_disallowed_origin_requests_total{route=\"a\\\"b\",reason=\"origin-not-allowed\"} 1",
            "crossgate_upstream_response_seconds_bucket{route=\"a\\\"b\",le=\"0.0025\"} 0",
            "crossgate_upstream_response_seconds_bucket{route=\"a\\\"b\",le=\"0.005\"} 1",
            "crossgate_upstream_response_seconds_bucket{route=\"a\\\"b\",le=\"30\"} 1",
            "crossgate_upstream_response_seconds_bucket{route=\"a\\\"b\",le=\"+Inf\"} 2",
            "crossgate_upstream_response_seconds_count{route=\"a\\\"b\"} 2",
            "crossgate_config_reloads_total{result=\"ok\"} 1",
            "crossgate_config_reloads_total{result=\"failed\"} 2",
            "# TYPE crossgate_upstream_response_seconds histogram",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} not in\n{text}");
        }
        assert!(!text.contains("status=\"142\""), "{text}");
    }

    /// Counts this thread's allocations (the unit tests' allocator).
    mod counting {
        use std::alloc::{GlobalAlloc, Layout, System};
        use std::cell::Cell;

        thread_local! {
            static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
        }

        struct Counting;

        // SAFETY: every call is passed to the system allocator unchanged.
        unsafe impl GlobalAlloc for Counting {
            unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
                ALLOCATIONS.with(|n| n.set(n.get() + 1));
                unsafe { System.alloc(layout) }
            }
            unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
                unsafe { System.dealloc(ptr, layout) }
            }
            unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, size: usize) -> *mut u8 {
                ALLOCATIONS.with(|n| n.set(n.get() + 1));
                unsafe { System.realloc(ptr, layout, size) }
            }
        }

        #[global_allocator]
        static COUNTING: Counting = Counting;

        pub(super) fn during(f: impl FnOnce()) -> u64 {
            let before = ALLOCATIONS.with(Cell::get);
            f();
            ALLOCATIONS.with(Cell::get) - before
        }
    }

    #[test]
    fn requests_allocate_nothing_and_a_scrape_a_few_whatever_the_series() {
        for routes in [10, 200] {
            let metrics = Metrics::default();
            let all: Vec<_> = (0..routes)
                .map(|i| metrics.route(&format!("/route\"{i}\\")))
                .collect();
            let per_request = counting::during(|| {
                for r in &all {
                    for status in [200, 204, 404, 502, 504] {
                        r.response(status);
                    }
                    r.preflight_allowed();
                    r.preflight_denied(DenyReason::MethodNotAllowed);
                    r.actual_denied(DenyReason::OriginNotAllowed);
                    r.upstream_latency(Duration::from_millis(7));
                }
            });
            assert_eq!(per_request, 0);
            let first = metrics.render();
            assert!(first.contains("route=\"/route\\\"1\\\\\""), "escaped");
            let mut again = String::new();
            let per_scrape = counting::during(|| again = metrics.render());
            // The route list's copy and the output, sized from the last scrape (which holds
            // unless a scrape outgrows the last by over 1 KiB: a new route, a new status).
            assert!(
                per_scrape <= 2,
                "{per_scrape} allocations for a scrape of {routes} routes"
            );
            // The same series (the process_* values move between scrapes).
            assert_eq!(again.lines().count(), first.lines().count());
        }
    }
}
