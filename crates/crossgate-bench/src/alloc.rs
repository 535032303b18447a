//! A counting global allocator: counts the allocations (and reallocations) and the bytes asked
//! for by the current thread while counting is on. When it is off, an allocation costs one
//! relaxed atomic load more than the system allocator's, for every contender alike.
//!
//! The bench binary and the tests install it with
//! `#[global_allocator] static A: Counting = Counting;`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicBool, Ordering};

/// The counting allocator (delegates to [`System`]).
pub struct Counting;

static ON: AtomicBool = AtomicBool::new(false);

thread_local! {
    static COUNTS: Cell<(u64, u64)> = const { Cell::new((0, 0)) };
}

#[inline]
fn record(bytes: usize) {
    if ON.load(Ordering::Relaxed) {
        // `try_with`: the thread-local may already be gone while a thread exits.
        let _ = COUNTS.try_with(|c| {
            let (n, b) = c.get();
            c.set((n + 1, b + bytes as u64));
        });
    }
}

// SAFETY: every call is forwarded unchanged to the system allocator; counting touches only a
// thread-local `Cell` (no allocation, no re-entrance).
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        record(layout.size());
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        record(layout.size());
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        record(new_size);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

/// What [`count`] saw.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Allocations {
    /// Allocations and reallocations.
    pub count: u64,
    /// Bytes asked for (a reallocation counts its new size).
    pub bytes: u64,
}

/// The allocations `f` makes on this thread. Only meaningful when [`Counting`] is the global
/// allocator; otherwise it reports zero. Not re-entrant.
pub fn count<T>(f: impl FnOnce() -> T) -> (Allocations, T) {
    COUNTS.with(|c| c.set((0, 0)));
    ON.store(true, Ordering::SeqCst);
    let out = f();
    ON.store(false, Ordering::SeqCst);
    let (count, bytes) = COUNTS.with(Cell::get);
    (Allocations { count, bytes }, out)
}

/// Whether [`Counting`] is installed: one allocation made while counting is seen.
pub fn installed() -> bool {
    let (seen, _) = count(|| std::hint::black_box(Box::new(0u64)));
    seen.count > 0
}
