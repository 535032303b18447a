//! A flood of 1,000,000 distinct, well-formed, hostile origins through the tower layer with a
//! resolver, then floods of short and long origins and one against the entry bound: the cache
//! stays within its bounds in entries and in bytes (measured by a counting global allocator,
//! which is why this test has a binary, and one test function, of its own), and the tenant that
//! kept coming back during each flood is still answered from the cache.
#![cfg(all(feature = "tower", feature = "resolve"))]

use std::alloc::{GlobalAlloc, Layout, System};
use std::convert::Infallible;
use std::sync::atomic::{AtomicIsize, AtomicUsize, Ordering};

use crossgate::policy::Policy;
use crossgate::policy::{BoxError, OriginResolver, Resolution, Resolver};
use crossgate::tower::CorsLayer;
use http::{Request, Response};
use tower::{Layer, Service, ServiceExt};

/// Bytes allocated and not yet freed, by every thread.
static LIVE: AtomicIsize = AtomicIsize::new(0);

struct Counting;

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(
            new_size as isize - layout.size() as isize,
            Ordering::Relaxed,
        );
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const TENANT: &str = "https://shop.tenant-a.example";

/// Allows one tenant, refuses everything else at once, and counts its lookups.
#[derive(Clone, Default)]
struct Tenants {
    lookups: std::sync::Arc<AtomicUsize>,
    tenant_lookups: std::sync::Arc<AtomicUsize>,
}

impl OriginResolver for Tenants {
    async fn resolve(&self, origin: &str) -> Result<Resolution, BoxError> {
        self.lookups.fetch_add(1, Ordering::Relaxed);
        if origin == TENANT {
            self.tenant_lookups.fetch_add(1, Ordering::Relaxed);
            return Ok(Resolution::Allowed);
        }
        Ok(Resolution::Refused)
    }
}

/// What a flood did: the resolver's stats, the heap's growth from before the resolver was built,
/// the lookups, and whether the regular stayed cached.
struct Flooded {
    entries: u64,
    memory: u64,
    grown: isize,
    lookups: usize,
    tenant_lookups: usize,
}

/// `count` distinct hostile origins made by `origin(i)`, with the regular tenant coming back
/// every 1,000, through the tower layer with a resolver of these bounds.
async fn flood(
    count: usize,
    max_entries: u64,
    max_memory: u64,
    origin: impl Fn(usize, &mut String),
) -> Flooded {
    let store = Tenants::default();
    let base = Policy::builder()
        .allow_origins(["https://app.example.com"])
        .build()
        .unwrap();
    let before = LIVE.load(Ordering::Relaxed);
    // TTLs far beyond the flood's length: on a loaded machine a flood has taken over 60 s, the
    // default TTL of an allowed origin, and the regular's refresh is not what is measured here.
    let resolver = Resolver::builder(store.clone())
        .allowed_ttl(std::time::Duration::from_secs(3600))
        .refused_ttl(std::time::Duration::from_secs(3600))
        .max_entries(max_entries)
        .max_memory(max_memory)
        .build()
        .unwrap();
    let mut service = CorsLayer::new(base)
        .resolver(resolver.clone())
        .layer(tower::service_fn(|_: Request<()>| async {
            Ok::<_, Infallible>(Response::new(()))
        }));
    let mut send = async |origin: &str| {
        let request = Request::get("/").header("origin", origin).body(()).unwrap();
        let response = service.ready().await.unwrap().call(request).await.unwrap();
        response
            .headers()
            .contains_key("access-control-allow-origin")
    };
    // The tenant is a regular: seen a few times before the flood ...
    for _ in 0..4 {
        assert!(send(TENANT).await);
    }
    let mut text = String::with_capacity(400);
    let mut peak = 0;
    for i in 0..count {
        text.clear();
        origin(i, &mut text);
        assert!(!send(&text).await, "{text} allowed");
        // ... and keeps coming back during it.
        if i % 1000 == 0 {
            assert!(
                send(TENANT).await,
                "the tenant was refused during the flood"
            );
            peak = peak.max(resolver.stats().entries);
        }
    }
    let stats = resolver.stats();
    assert!(peak <= max_entries, "{peak} entries at a peak");
    assert_eq!(stats.refused, count as u64);
    let flooded = Flooded {
        entries: stats.entries,
        memory: stats.memory,
        grown: LIVE.load(Ordering::Relaxed) - before,
        lookups: store.lookups.load(Ordering::Relaxed),
        tenant_lookups: store.tenant_lookups.load(Ordering::Relaxed),
    };
    drop(service);
    drop(resolver);
    flooded
}

fn check(what: &str, f: &Flooded, count: usize, max_entries: u64, max_memory: u64) {
    eprintln!(
        "{what}: {count} hostile origins: {} entries, weight {} B, heap grown {} B ({} B per entry)",
        f.entries,
        f.memory,
        f.grown,
        f.grown / f.entries.max(1) as isize
    );
    assert!(f.entries <= max_entries, "{what}: {} entries", f.entries);
    assert!(f.memory <= max_memory, "{what}: weight {}", f.memory);
    // The heap holds the cache's entries and its tables, within the memory bound; nothing else
    // grows with the flood.
    assert!(
        f.grown <= max_memory as isize,
        "{what}: heap grew by {} bytes for a {max_memory}-byte cache",
        f.grown
    );
    assert_eq!(
        f.lookups,
        count + 1,
        "{what}: every hostile origin asked once"
    );
    assert_eq!(
        f.tenant_lookups, 1,
        "{what}: the regular was evicted by one-off origins"
    );
}

#[tokio::test]
async fn a_million_hostile_origins_stay_within_the_cache_bounds() {
    use std::fmt::Write;
    const COUNT: usize = 1_000_000;
    let f = flood(COUNT, 20_000, 2 << 20, |i, s| {
        write!(s, "https://h{i}.attacker.example").unwrap()
    })
    .await;
    check("32-byte origins", &f, COUNT, 20_000, 2 << 20);
    // In the same test: the heap counter is the whole process's, so floods must not overlap.
    short_and_long_origins_stay_within_the_bounds_too().await;
}

async fn short_and_long_origins_stay_within_the_bounds_too() {
    use std::fmt::Write;
    const COUNT: usize = 150_000;
    // The shortest origins pack the most entries into the bound.
    let f = flood(COUNT, 100_000, 1 << 20, |i, s| {
        write!(s, "http://{i}.io").unwrap()
    })
    .await;
    check("short origins", &f, COUNT, 100_000, 1 << 20);
    // Long origins (five 40-byte labels): few entries, each heavy.
    let f = flood(COUNT, 100_000, 4 << 20, |i, s| {
        let label = "x".repeat(40);
        write!(
            s,
            "https://{i}.{label}.{label}.{label}.{label}.{label}.example"
        )
        .unwrap()
    })
    .await;
    check("long origins", &f, COUNT, 100_000, 4 << 20);
    // The entry bound, when memory would allow more.
    let f = flood(COUNT, 1_000, 32 << 20, |i, s| {
        write!(s, "https://h{i}.attacker.example").unwrap()
    })
    .await;
    check("the entry bound", &f, COUNT, 1_000, 32 << 20);
    assert!(f.entries >= 500, "{} entries", f.entries);
}
