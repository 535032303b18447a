//! Runs one benchmark routine many times, for a profiler:
//!
//! ```sh
//! cargo build --release -p crossgate-bench --example profile
//! valgrind --tool=callgrind --toggle-collect='*Routine*run*' \
//!     target/release/examples/profile tower/preflight-allowed.1-origins crossgate 10000
//! ```
//!
//! The first argument is a row's criterion group (as `cargo bench` prints it), the second the
//! contender (`construct`, `passthrough`, `crossgate`, or the peer's name), the third the number
//! of requests. Instructions per request = the collected `Ir` over that number plus the warm-up
//! runs (at most 100). `instructions.sh` beside this crate does it for a table of rows.

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (Some(group), Some(who)) = (args.get(1), args.get(2)) else {
        eprintln!("usage: profile GROUP CONTENDER [REQUESTS]");
        std::process::exit(2);
    };
    let n: u64 = args.get(3).map_or(10_000, |s| s.parse().expect("a number"));
    let mut suite = crossgate_bench::suite::build_rows(|g| g == group);
    let rows = &suite.rows;
    let Some(bench) = suite
        .benches
        .iter_mut()
        .find(|b| rows[b.row].group() == *group && b.contender.id(rows[b.row].stack) == who)
    else {
        eprintln!("no routine {group}/{who}");
        std::process::exit(2);
    };
    bench.routine.run(n.min(100)); // warm-up: pools and lazily grown buffers settle
    bench.routine.run(n);
    println!(
        "ran {group}/{who} {n} times (after {} warm-up runs)",
        n.min(100)
    );
}
