//! `cargo bench -p crossgate-bench`: every contender, every case, then the table.
//!
//! Under `cargo test` (criterion's test mode: `cargo test -p crossgate-bench --benches`, or
//! `cargo bench -p crossgate-bench -- --test`) each routine runs once: a smoke run proving that
//! everything builds and executes; its times mean nothing.

use std::collections::HashMap;
use std::time::Duration;

use criterion::Criterion;
use crossgate_bench::alloc::{self, Counting};
use crossgate_bench::cases::{self, Origins};
use crossgate_bench::measure::{self, Summary};
use crossgate_bench::report::{self, Measured, Results, RunInfo};
use crossgate_bench::suite;
use crossgate_bench::tower_stack;

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Samples per measurement (each sample runs the routine many times).
const SAMPLES: usize = 20;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    // criterion's own rule: without `--bench` (under `cargo test`), or with `--test`, it only
    // checks that each benchmark runs.
    let smoke = !args.iter().any(|a| a == "--bench") || args.iter().any(|a| a == "--test");
    assert!(
        alloc::installed(),
        "the counting allocator is not the global allocator"
    );

    let mut criterion = Criterion::default()
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1))
        .nresamples(10_000)
        .without_plots()
        .configure_from_args();

    let mut suite = suite::build();
    let mut results = Results::default();

    // Allocations per request are counted right before a routine is timed (deterministic, so a
    // few runs suffice; a routine that criterion's filter skips is not run at all).
    let (warm, counted) = if smoke { (1, 2) } else { (16, 64) };
    results.decision_allocations = decision_allocations();

    // Times: one criterion group per row, its contenders one after the other.
    let mut by_row: HashMap<usize, Vec<&mut suite::Bench>> = HashMap::new();
    for bench in &mut suite.benches {
        by_row.entry(bench.row).or_default().push(bench);
    }
    for (i, row) in suite.rows.iter().enumerate() {
        let Some(benches) = by_row.get_mut(&i) else {
            continue;
        };
        let mut group = criterion.benchmark_group(row.group());
        group.sample_size(SAMPLES);
        for bench in benches.iter_mut() {
            let mut per_request: Vec<f64> = Vec::new();
            let mut allocations = None;
            let routine = &mut bench.routine;
            group.bench_function(bench.contender.id(row.stack), |b| {
                if allocations.is_none() {
                    allocations = Some(measure::allocations(&mut **routine, warm, counted));
                }
                b.iter_custom(|iters| {
                    let took = measure::time(&mut **routine, iters);
                    per_request.push(took.as_nanos() as f64 / iters as f64);
                    took
                })
            });
            // The warm-up's runs come first; the last `SAMPLES` are criterion's samples.
            let samples = &per_request[per_request.len().saturating_sub(SAMPLES)..];
            results.measured.insert(
                (bench.row, bench.contender),
                Measured {
                    time: Summary::of(samples),
                    allocations,
                },
            );
        }
        group.finish();
    }
    criterion.final_summary();

    if !results.measured.values().any(|m| m.time.is_some()) {
        return; // `--list`, or a filter that matched nothing
    }
    let info = RunInfo {
        date: today(),
        cpu: cpu_model(),
        rustc: rustc_version(),
        smoke,
        note: if smoke {
            "SMOKE RUN (criterion's test mode): every routine ran once; the times mean nothing."
                .to_owned()
        } else {
            format!(
                "{SAMPLES} samples per measurement; allocations counted over {counted} requests after {warm}."
            )
        },
    };
    let text = report::render(&suite.rows, &results, &info);
    println!("\n{text}");
    if let Some(path) = report_path(smoke) {
        if let Err(e) = std::fs::create_dir_all(path.parent().expect("a parent"))
            .and_then(|()| std::fs::write(&path, &text))
        {
            eprintln!("could not write {}: {e}", path.display());
        } else {
            println!("(written to {})", path.display());
        }
    }
}

/// Allocations made by `Policy::decide_logged` alone, for every request case.
fn decision_allocations() -> Vec<(String, u64)> {
    let mut policies: HashMap<Origins, crossgate::policy::Policy> = HashMap::new();
    cases::all()
        .into_iter()
        .map(|case| {
            let policy = policies
                .entry(case.origins)
                .or_insert_with(|| tower_stack::crossgate_policy(case.origins));
            let request = tower_stack::Template::new(&case).request();
            let (seen, _) = alloc::count(|| {
                let _ = std::hint::black_box(policy.decide_logged(std::hint::black_box(&request)));
            });
            (case.label(), seen.count)
        })
        .collect()
}

/// `target/crossgate-bench/report.md` (`smoke.md` for a smoke run, which leaves the last real
/// report alone), next to criterion's own directory.
fn report_path(smoke: bool) -> Option<std::path::PathBuf> {
    let exe = std::env::current_exe().ok()?;
    // target/<profile>/deps/cors-<hash>
    let target = exe.parent()?.parent()?.parent()?;
    let name = if smoke { "smoke.md" } else { "report.md" };
    Some(target.join("crossgate-bench").join(name))
}

fn cpu_model() -> String {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".to_owned());
    format!("{model}, {cores} cores")
}

fn rustc_version() -> String {
    std::process::Command::new(std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_owned()))
        .arg("-V")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_owned())
        .unwrap_or_else(|| "rustc (version unknown)".to_owned())
}

/// Today's date (UTC), from the system clock.
fn today() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    // Howard Hinnant's civil-from-days.
    let z = (secs / 86_400) as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}
