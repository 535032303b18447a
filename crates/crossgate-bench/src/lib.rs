//! crossgate measured against tower-http and actix-cors, side by side in one run, on the same
//! policy semantics: nanoseconds (thread CPU time) and heap allocations per request, with request
//! construction and an application without CORS measured as floors.
//!
//! Run it all with `cargo bench -p crossgate-bench`: criterion measures every contender, then a
//! table of ns/request, allocations/request and each peer's ratio to crossgate is printed (and
//! written to `target/crossgate-bench/report.md`), followed by the project's targets checked
//! against the run. BENCHMARKS.md records a run.

pub mod actix_stack;
pub mod alloc;
pub mod cases;
pub mod measure;
pub mod poll;
pub mod report;
pub mod suite;
pub mod tower_stack;
