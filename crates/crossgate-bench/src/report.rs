//! The table: ns per request (median), allocations per request, the CORS cost of each
//! contender (its time minus the passthrough's) and the peers' ratio to crossgate; then the
//! issue's targets, checked against this run.

use std::collections::HashMap;
use std::fmt::Write as _;

use crate::cases::{Kind, Origins, POLICIES};
use crate::measure::Summary;
use crate::suite::{Contender, Row, Stack, What};

/// What was measured for one contender in one row.
#[derive(Clone, Copy, Debug, Default)]
pub struct Measured {
    pub time: Option<Summary>,
    /// Allocations and bytes per request.
    pub allocations: Option<(f64, f64)>,
}

/// Everything a run measured.
#[derive(Default)]
pub struct Results {
    pub measured: HashMap<(usize, Contender), Measured>,
    /// Allocations made by `Policy::decide_logged` alone, per request row (tower requests).
    pub decision_allocations: Vec<(String, u64)>,
}

/// Where and how the run happened.
pub struct RunInfo {
    pub date: String,
    pub cpu: String,
    pub rustc: String,
    pub note: String,
    /// A smoke run: the targets are not judged (the times mean nothing).
    pub smoke: bool,
}

impl Results {
    fn get(&self, row: usize, c: Contender) -> Measured {
        self.measured.get(&(row, c)).copied().unwrap_or_default()
    }

    fn median(&self, row: usize, c: Contender) -> Option<f64> {
        self.get(row, c).time.map(|s| s.median)
    }

    /// A contender's time minus the passthrough's.
    pub fn cost(&self, row: usize, c: Contender) -> Option<f64> {
        Some(self.median(row, c)? - self.median(row, Contender::Passthrough)?)
    }

    fn allocs(&self, row: usize, c: Contender) -> Option<(f64, f64)> {
        self.get(row, c).allocations
    }
}

pub fn format_ns(ns: f64) -> String {
    let a = ns.abs();
    if a >= 1e6 {
        format!("{:.2} ms", ns / 1e6)
    } else if a >= 1e4 {
        format!("{:.1} µs", ns / 1e3)
    } else if a >= 1e3 {
        format!("{:.2} µs", ns / 1e3)
    } else if a >= 100.0 {
        format!("{ns:.0} ns")
    } else {
        format!("{ns:.1} ns")
    }
}

fn format_count(n: f64) -> String {
    if (n - n.round()).abs() < 0.005 {
        format!("{}", n.round() as i64)
    } else {
        format!("{n:.2}")
    }
}

fn format_bytes(b: f64) -> String {
    if b.abs() >= 1024.0 * 1024.0 {
        format!("{:.1} MiB", b / 1024.0 / 1024.0)
    } else if b.abs() >= 1024.0 {
        format!("{:.1} KiB", b / 1024.0)
    } else {
        format!("{b:.0} B")
    }
}

fn ratio(num: Option<f64>, den: Option<f64>) -> Option<f64> {
    match (num, den) {
        (Some(n), Some(d)) if d > 0.5 => Some(n / d),
        _ => None,
    }
}

fn format_ratio(r: Option<f64>) -> String {
    match r {
        Some(r) if r >= 100.0 => format!("{r:.0}x"),
        Some(r) => format!("{r:.1}x"),
        None => "n/a".to_owned(),
    }
}

/// Allocations per request of a contender in a row, or `-`.
fn alloc_cell(results: &Results, row: usize, c: Contender) -> String {
    results
        .allocs(row, c)
        .map_or("-".to_owned(), |(n, _)| format_count(n))
}

fn cell_time(m: Measured) -> String {
    match m.time {
        Some(s) if s.samples > 1 => format!("{} ±{:.0}%", format_ns(s.median), s.spread() * 100.0),
        Some(s) => format_ns(s.median),
        None => "-".to_owned(),
    }
}

/// The table of one stack, in Markdown.
pub fn table(rows: &[Row], results: &Results, stack: Stack) -> String {
    let peer = stack.peer();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "| {stack} | construct | passthrough | crossgate | {peer} | crossgate CORS cost | {peer} CORS cost | {peer} ÷ crossgate | allocations: construct / passthrough / crossgate / {peer} | bytes over passthrough: crossgate / {peer} |",
        stack = stack.name()
    );
    let _ = writeln!(out, "|---|--:|--:|--:|--:|--:|--:|--:|:-:|:-:|");
    let main = |r: &Row| matches!(r.what, What::Request(_) | What::Clone(_));
    for (i, row) in rows
        .iter()
        .enumerate()
        .filter(|(_, r)| r.stack == stack && main(r))
    {
        let m = |c| results.get(i, c);
        let allocs = Contender::ALL
            .iter()
            .map(|&c| alloc_cell(results, i, c))
            .collect::<Vec<_>>()
            .join(" / ");
        let extra_bytes = |c| match (
            results.allocs(i, c),
            results.allocs(i, Contender::Passthrough),
        ) {
            (Some((_, b)), Some((_, p))) => format_bytes(b - p),
            _ => "-".to_owned(),
        };
        let cost = |c| results.cost(i, c).map_or("-".to_owned(), format_ns);
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} / {} |",
            row.label(),
            cell_time(m(Contender::Construct)),
            cell_time(m(Contender::Passthrough)),
            cell_time(m(Contender::Crossgate)),
            cell_time(m(Contender::Peer)),
            cost(Contender::Crossgate),
            cost(Contender::Peer),
            format_ratio(ratio(
                results.cost(i, Contender::Peer),
                results.cost(i, Contender::Crossgate)
            )),
            allocs,
            extra_bytes(Contender::Crossgate),
            extra_bytes(Contender::Peer),
        );
    }
    out
}

fn find(rows: &[Row], stack: Stack, pred: impl Fn(&What) -> bool) -> Option<usize> {
    rows.iter().position(|r| r.stack == stack && pred(&r.what))
}

fn request_row(rows: &[Row], stack: Stack, kind: Kind, origins: Origins) -> Option<usize> {
    find(
        rows,
        stack,
        |w| matches!(w, What::Request(c) if c.kind == kind && c.origins == origins),
    )
}

fn verdict(ok: bool) -> &'static str {
    if ok { "met" } else { "NOT MET" }
}

/// The targets, checked against this run.
pub fn targets(rows: &[Row], results: &Results) -> String {
    let mut out = String::new();
    let stacks = [Stack::Tower, Stack::Actix];

    // 1. CORS cost at most half the peer's, for every request case.
    let _ = writeln!(
        out,
        "1. crossgate's CORS cost at most half of the peer's, in every request case:"
    );
    for stack in stacks {
        let mut worst: Option<(f64, String)> = None;
        let mut failing = Vec::new();
        for (i, row) in rows.iter().enumerate() {
            if row.stack != stack || row.case().is_none() {
                continue;
            }
            let Some(r) = ratio(
                results.cost(i, Contender::Peer),
                results.cost(i, Contender::Crossgate),
            ) else {
                continue;
            };
            if worst.as_ref().is_none_or(|(w, _)| r < *w) {
                worst = Some((r, row.label()));
            }
            if r < 2.0 {
                failing.push(format!("{} ({r:.2}x)", row.label()));
            }
        }
        if let Some((w, label)) = worst {
            let _ = writeln!(
                out,
                "   - {}: {} — smallest {} ÷ crossgate ratio {w:.2}x ({label}){}",
                stack.name(),
                verdict(failing.is_empty()),
                stack.peer(),
                if failing.is_empty() {
                    String::new()
                } else {
                    format!("; below 2x: {}", failing.join(", "))
                }
            );
        }
    }

    // 2. No allocation in the decision; what the middleware adds.
    let decided: u64 = results.decision_allocations.iter().map(|(_, n)| n).sum();
    let _ = writeln!(
        out,
        "2. no heap allocation in crossgate's decision: {} — `Policy::decide_logged` allocated {decided} times over {} cases",
        verdict(decided == 0),
        results.decision_allocations.len()
    );
    for stack in stacks {
        let mut actual_extra = Vec::new();
        let mut preflight = Vec::new();
        for (i, row) in rows.iter().enumerate() {
            let (Some(case), true) = (row.case(), row.stack == stack) else {
                continue;
            };
            let (Some((ours, _)), Some((pass, _)), Some((built, _))) = (
                results.allocs(i, Contender::Crossgate),
                results.allocs(i, Contender::Passthrough),
                results.allocs(i, Contender::Construct),
            ) else {
                continue;
            };
            if case.kind.is_preflight() {
                preflight.push(ours - built);
            } else {
                actual_extra.push(ours - pass);
            }
        }
        let range = |v: &[f64]| {
            let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
            let hi = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            if v.is_empty() {
                "-".to_owned()
            } else if (hi - lo).abs() < 0.005 {
                format_count(lo)
            } else {
                format!("{} to {}", format_count(lo), format_count(hi))
            }
        };
        let _ = writeln!(
            out,
            "   - {}: actual requests, allocations over passthrough: {}; preflights, allocations besides building the request: {} (the preflight response{})",
            stack.name(),
            range(&actual_extra),
            range(&preflight),
            match stack {
                Stack::Tower => "'s header map",
                Stack::Actix => ", in actix's pooled response head",
            }
        );
    }

    // 3. A clone costs a reference count.
    let clone = |o| {
        find(
            rows,
            Stack::Tower,
            |w| matches!(w, What::Clone(x) if *x == o),
        )
    };
    if let (Some(one), Some(many)) = (clone(Origins::Exact(1)), clone(Origins::Exact(10_000))) {
        let (c1, c2) = (
            results.cost(one, Contender::Crossgate),
            results.cost(many, Contender::Crossgate),
        );
        let a = results
            .allocs(many, Contender::Crossgate)
            .map_or(0.0, |(n, _)| n);
        let r = ratio(c2, c1);
        let _ = writeln!(
            out,
            "3. a clone of the layer's service costs a reference count whatever the policy's size: {} — {} with 1 origin, {} with 10,000 ({}), {} allocations; tower-http: {} and {}",
            verdict(a == 0.0 && r.is_some_and(|r| r <= 1.2)),
            c1.map_or("-".into(), format_ns),
            c2.map_or("-".into(), format_ns),
            format_ratio(r),
            format_count(a),
            results
                .cost(one, Contender::Peer)
                .map_or("-".into(), format_ns),
            results
                .cost(many, Contender::Peer)
                .map_or("-".into(), format_ns),
        );
    }

    // 4. Policy size does not matter.
    let _ = writeln!(
        out,
        "4. 10,000 origins and 1,000 patterns cost no more than 1.2x one origin (crossgate's CORS cost):"
    );
    for stack in stacks {
        let mut worst: Option<(f64, String)> = None;
        let mut failing = Vec::new();
        for kind in [
            Kind::ActualAllowed,
            Kind::ActualDisallowed,
            Kind::NoOrigin,
            Kind::PreflightAllowed,
            Kind::PreflightDenied,
        ] {
            let Some(base) = request_row(rows, stack, kind, Origins::Exact(1)) else {
                continue;
            };
            for origins in &POLICIES[2..] {
                let Some(row) = request_row(rows, stack, kind, *origins) else {
                    continue;
                };
                let Some(r) = ratio(
                    results.cost(row, Contender::Crossgate),
                    results.cost(base, Contender::Crossgate),
                ) else {
                    continue;
                };
                let label = format!("{} / {}", kind.label(), origins.label());
                if worst.as_ref().is_none_or(|(w, _)| r > *w) {
                    worst = Some((r, label.clone()));
                }
                if r > 1.2 {
                    failing.push(format!("{label} ({r:.2}x)"));
                }
            }
        }
        if let Some((w, label)) = worst {
            let _ = writeln!(
                out,
                "   - {}: {} — largest {w:.2}x ({label}){}",
                stack.name(),
                verdict(failing.is_empty()),
                if failing.is_empty() {
                    String::new()
                } else {
                    format!("; above 1.2x: {}", failing.join(", "))
                }
            );
        }
    }

    // 5. Hostile ACRH.
    let _ = writeln!(
        out,
        "5. a hostile 1 MiB Access-Control-Request-Headers refused in no more than 2x an ordinary preflight (crossgate's CORS cost):"
    );
    for stack in stacks {
        let (Some(base), Some(kib), Some(mib)) = (
            request_row(rows, stack, Kind::PreflightAllowed, Origins::Exact(1)),
            request_row(
                rows,
                stack,
                Kind::HostilePreflight(64 << 10),
                Origins::Exact(1),
            ),
            request_row(
                rows,
                stack,
                Kind::HostilePreflight(1 << 20),
                Origins::Exact(1),
            ),
        ) else {
            continue;
        };
        let cost = |r| results.cost(r, Contender::Crossgate);
        let r = ratio(cost(mib), cost(base));
        let _ = writeln!(
            out,
            "   - {}: {} — {} for 1 MiB, {} for 64 KiB, {} for an ordinary preflight ({}); {}: {} for 1 MiB",
            stack.name(),
            verdict(r.is_some_and(|r| r <= 2.0)),
            cost(mib).map_or("-".into(), format_ns),
            cost(kib).map_or("-".into(), format_ns),
            cost(base).map_or("-".into(), format_ns),
            format_ratio(r),
            stack.peer(),
            results
                .cost(mib, Contender::Peer)
                .map_or("-".into(), format_ns),
        );
    }
    out
}

/// The live policy beside the fixed one, and an origin edit beside a rebuild.
pub fn live_tables(rows: &[Row], results: &Results) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "| live policy | crossgate (fixed policy) | crossgate (LivePolicy) | live − fixed | allocations: fixed / live |"
    );
    let _ = writeln!(out, "|---|--:|--:|--:|:-:|");
    for (i, row) in rows.iter().enumerate() {
        let What::Live(case) = &row.what else {
            continue;
        };
        let allocs = |c| alloc_cell(results, i, c);
        let difference = match (
            results.median(i, Contender::Live),
            results.median(i, Contender::Crossgate),
        ) {
            (Some(l), Some(f)) => format_signed_ns(l - f),
            _ => "-".to_owned(),
        };
        let _ = writeln!(
            out,
            "| {} / {} | {} | {} | {difference} | {} / {} |",
            row.stack.name(),
            case.label(),
            cell_time(results.get(i, Contender::Crossgate)),
            cell_time(results.get(i, Contender::Live)),
            allocs(Contender::Crossgate),
            allocs(Contender::Live),
        );
    }
    let _ = writeln!(
        out,
        "\n| one origin edit | edit (add or remove one origin, validated, swapped in) | rebuild (the whole policy) | rebuild ÷ edit | allocations: edit / rebuild |"
    );
    let _ = writeln!(out, "|---|--:|--:|--:|:-:|");
    for (i, row) in rows.iter().enumerate() {
        let What::Edit(origins) = &row.what else {
            continue;
        };
        let allocs = |c| alloc_cell(results, i, c);
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} / {} |",
            origins.label(),
            cell_time(results.get(i, Contender::Edit)),
            cell_time(results.get(i, Contender::Rebuild)),
            format_ratio(ratio(
                results.median(i, Contender::Rebuild),
                results.median(i, Contender::Edit)
            )),
            allocs(Contender::Edit),
            allocs(Contender::Rebuild),
        );
    }
    out
}

/// Origins resolved on demand: a listed origin beside the same one resolved (cached, missed).
pub fn resolved_table(rows: &[Row], results: &Results) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "| origin resolved on demand | crossgate (origin listed) | resolver, cached answer | cached − listed | resolver, asked every time | allocations: listed / cached / asked |"
    );
    let _ = writeln!(out, "|---|--:|--:|--:|--:|:-:|");
    for (i, row) in rows.iter().enumerate() {
        let What::Resolved(case) = &row.what else {
            continue;
        };
        let allocs = |c| alloc_cell(results, i, c);
        let difference = match (
            results.median(i, Contender::ResolverHit),
            results.median(i, Contender::Crossgate),
        ) {
            (Some(r), Some(l)) => format_signed_ns(r - l),
            _ => "-".to_owned(),
        };
        let _ = writeln!(
            out,
            "| {} / {} | {} | {} | {difference} | {} | {} / {} / {} |",
            row.stack.name(),
            case.label(),
            cell_time(results.get(i, Contender::Crossgate)),
            cell_time(results.get(i, Contender::ResolverHit)),
            cell_time(results.get(i, Contender::ResolverMiss)),
            allocs(Contender::Crossgate),
            allocs(Contender::ResolverHit),
            allocs(Contender::ResolverMiss),
        );
    }
    out
}

/// The resolver's target: a cached answer within 20 ns of a listed origin (the median over the
/// resolved rows, the worst beside it).
pub fn resolved_targets(rows: &[Row], results: &Results) -> String {
    let mut out = String::new();
    let mut differences: Vec<(f64, String)> = Vec::new();
    for (i, row) in rows.iter().enumerate() {
        if let (What::Resolved(_), Some(r), Some(l)) = (
            &row.what,
            results.median(i, Contender::ResolverHit),
            results.median(i, Contender::Crossgate),
        ) {
            differences.push((r - l, format!("{} / {}", row.stack.name(), row.label())));
        }
    }
    differences.sort_by(|a, b| a.0.total_cmp(&b.0));
    if let (Some((median, _)), Some((worst, label))) =
        (differences.get(differences.len() / 2), differences.last())
    {
        let _ = writeln!(
            out,
            "8. a cached resolver answer within 20 ns of a listed origin (median over {} rows): {} — median {}, largest {} ({label})",
            differences.len(),
            verdict(*median <= 20.0),
            format_signed_ns(*median),
            format_signed_ns(*worst),
        );
    }
    out
}

fn format_signed_ns(ns: f64) -> String {
    if ns < 0.0 {
        format!("−{}", format_ns(-ns))
    } else {
        format!("+{}", format_ns(ns))
    }
}

/// The live policy's targets: within 5 ns of the fixed policy per request (the median over the
/// live rows); one edit among 100,000 origins at most 1% of a rebuild.
pub fn live_targets(rows: &[Row], results: &Results) -> String {
    let mut out = String::new();
    // Per-row differences of a few ns are below this machine's noise between two timed runs,
    // so the verdict is on the median over the rows; the worst row is shown beside it, and
    // `instructions.sh --live` gives the deterministic count.
    let mut differences: Vec<(f64, String)> = Vec::new();
    for (i, row) in rows.iter().enumerate() {
        if !matches!(row.what, What::Live(_)) {
            continue;
        }
        if let (Some(l), Some(f)) = (
            results.median(i, Contender::Live),
            results.median(i, Contender::Crossgate),
        ) {
            differences.push((l - f, format!("{} / {}", row.stack.name(), row.label())));
        }
    }
    differences.sort_by(|a, b| a.0.total_cmp(&b.0));
    if let (Some((median, _)), Some((worst, label))) =
        (differences.get(differences.len() / 2), differences.last())
    {
        let _ = writeln!(
            out,
            "6. a live policy within 5 ns of the fixed one per request (median over {} rows): {} — median {}, largest {} ({label}); instructions.sh --live counts instructions",
            differences.len(),
            verdict(*median <= 5.0),
            format_signed_ns(*median),
            format_signed_ns(*worst),
        );
    }
    if let Some(i) = find(rows, Stack::Tower, |w| {
        matches!(w, What::Edit(Origins::Exact(100_000)))
    }) && let (Some(edit), Some(rebuild)) = (
        results.median(i, Contender::Edit),
        results.median(i, Contender::Rebuild),
    ) {
        let _ = writeln!(
            out,
            "7. one origin edit among 100,000 costs at most 1% of rebuilding the policy: {} — {} against {} ({:.0}x)",
            verdict(edit * 100.0 <= rebuild),
            format_ns(edit),
            format_ns(rebuild),
            rebuild / edit
        );
    }
    out
}

/// The whole report: how the run was made, both tables, the targets.
pub fn render(rows: &[Row], results: &Results, info: &RunInfo) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "crossgate-bench, {} — CPU: {} — {}\n{}\n",
        info.date, info.cpu, info.rustc, info.note
    );
    let _ = writeln!(
        out,
        "Times are thread CPU time per request, the median over criterion's samples (± half the interquartile range); each includes building and dropping the request and the response. CORS cost = the contender's time minus the passthrough's. Allocations are counted per request after a warm-up.\n"
    );
    for stack in [Stack::Tower, Stack::Actix] {
        out.push_str(&table(rows, results, stack));
        out.push('\n');
    }
    out.push_str(&live_tables(rows, results));
    out.push('\n');
    out.push_str(&resolved_table(rows, results));
    out.push('\n');
    if info.smoke {
        out.push_str("Targets: not judged in a smoke run.\n");
    } else {
        out.push_str("Targets:\n\n");
        out.push_str(&targets(rows, results));
        out.push_str(&live_targets(rows, results));
        out.push_str(&resolved_targets(rows, results));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(format_ns(12.34), "12.3 ns");
        assert_eq!(format_ns(123.4), "123 ns");
        assert_eq!(format_ns(1234.0), "1.23 µs");
        assert_eq!(format_ns(17_400.0), "17.4 µs");
        assert_eq!(format_ns(21_500_000.0), "21.50 ms");
        assert_eq!(format_count(2.0), "2");
        assert_eq!(format_count(0.5), "0.50");
        assert_eq!(format_bytes(409_600.0), "400.0 KiB");
        assert_eq!(format_ratio(Some(9.04)), "9.0x");
        assert_eq!(format_ratio(ratio(Some(5.0), Some(0.1))), "n/a");
    }
}
