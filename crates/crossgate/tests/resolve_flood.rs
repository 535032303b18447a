//! A flood of 1,000,000 distinct, well-formed, hostile origins through the tower layer with a
//! resolver: the cache stays within its bounds in entries and in bytes (measured by a counting
//! global allocator, which is why this test has a binary of its own), and the tenant that kept
//! coming back during the flood is still answered from the cache.
#![cfg(all(feature = "tower", feature = "resolve"))]

use std::alloc::{GlobalAlloc, Layout, System};
use std::convert::Infallible;
use std::sync::atomic::{AtomicIsize, AtomicUsize, Ordering};

use crossgate::Policy;
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

const FLOOD: usize = 1_000_000;
const MAX_ENTRIES: u64 = 20_000;
const MAX_MEMORY: u64 = 2 << 20;

#[tokio::test]
async fn a_million_hostile_origins_stay_within_the_cache_bounds() {
    let store = Tenants::default();
    let resolver = Resolver::builder(store.clone())
        .max_entries(MAX_ENTRIES)
        .max_memory(MAX_MEMORY)
        .build()
        .unwrap();
    let base = Policy::builder()
        .allow_origins(["https://app.example.com"])
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
    // The tenant is a regular: seen a few times before the flood.
    for _ in 0..4 {
        assert!(send(TENANT).await);
    }
    let before = LIVE.load(Ordering::Relaxed);
    let mut origin = String::with_capacity(64);
    let mut peak_entries = 0;
    for i in 0..FLOOD {
        origin.clear();
        use std::fmt::Write;
        write!(origin, "https://h{i}.attacker.example").unwrap();
        assert!(!send(&origin).await);
        // ... and keeps coming back during it.
        if i % 1000 == 0 {
            assert!(
                send(TENANT).await,
                "the tenant was refused during the flood"
            );
            peak_entries = peak_entries.max(resolver.stats().entries);
        }
    }
    let grown = LIVE.load(Ordering::Relaxed) - before;
    let stats = resolver.stats();
    eprintln!(
        "after {FLOOD} hostile origins: {} entries, weight {} B, heap grown {grown} B \
         ({} B per entry), {} lookups",
        stats.entries,
        stats.memory,
        grown / stats.entries.max(1) as isize,
        store.lookups.load(Ordering::Relaxed)
    );
    assert!(stats.entries <= MAX_ENTRIES && peak_entries <= MAX_ENTRIES);
    assert!(stats.memory <= MAX_MEMORY);
    // The heap holds the cache's entries and its tables, within the memory bound; nothing else
    // grows with the flood.
    assert!(
        grown <= MAX_MEMORY as isize,
        "heap grew by {grown} bytes for a {MAX_MEMORY}-byte cache"
    );
    assert_eq!(
        store.lookups.load(Ordering::Relaxed),
        FLOOD + 1,
        "every hostile origin asked once"
    );
    assert_eq!(stats.refused, FLOOD as u64);
    assert_eq!(
        store.tenant_lookups.load(Ordering::Relaxed),
        1,
        "the regular was evicted by one-off origins"
    );
}

#[tokio::test]
async fn the_entry_bound_holds_when_memory_would_allow_more() {
    let store = Tenants::default();
    let resolver = Resolver::builder(store.clone())
        .max_entries(1000)
        .max_memory(32 << 20)
        .build()
        .unwrap();
    let base = Policy::builder()
        .allow_origins(["https://app.example.com"])
        .build()
        .unwrap();
    let mut service = CorsLayer::new(base)
        .resolver(resolver.clone())
        .layer(tower::service_fn(|_: Request<()>| async {
            Ok::<_, Infallible>(Response::new(()))
        }));
    for i in 0..5000 {
        let request = Request::get("/")
            .header("origin", format!("https://h{i}.attacker.example"))
            .body(())
            .unwrap();
        service.ready().await.unwrap().call(request).await.unwrap();
    }
    let stats = resolver.stats();
    assert!(
        stats.entries <= 1000 && stats.entries >= 500,
        "{} entries",
        stats.entries
    );
}
