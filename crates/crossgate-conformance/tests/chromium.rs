//! Both conformance matrices in headless Chromium (see the crate's documentation). Without
//! Chromium the matrices are skipped with a loud notice, unless `CROSSGATE_REQUIRE_CHROMIUM=1`,
//! which makes a missing browser a failure. `CROSSGATE_CONFORMANCE_FILTER=<id, family or part
//! of a name>` runs only the matching agent scenarios.

use std::io::Write;
use std::process::ExitCode;

use crossgate_conformance::chromium::{Chromium, REQUIRE_VAR};
use crossgate_conformance::{agent_matrix, policy_matrix};

/// Writes to the real stderr, which the test output always shows.
fn say(text: &str) {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "{text}");
}

fn main() -> ExitCode {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    runtime.block_on(async {
        let chromium = match Chromium::find().await {
            Ok(c) => c,
            Err(why) => {
                let required = std::env::var(REQUIRE_VAR).is_ok_and(|v| v == "1");
                let banner = "=".repeat(78);
                if required {
                    say(&format!(
                        "{banner}\nFAILED: {REQUIRE_VAR}=1 and Chromium cannot be used: {why}\n{banner}"
                    ));
                    return ExitCode::FAILURE;
                }
                say(&format!(
                    "{banner}\nSKIPPED: the Chromium conformance matrices (agent, policy) did not run: \
                     {why}.\nRun scripts/install-chromium to run them; CI sets {REQUIRE_VAR}=1 and \
                     never skips.\n{banner}"
                ));
                return ExitCode::SUCCESS;
            }
        };
        say(&format!("conformance: {} ({})", chromium.version, chromium.path.display()));
        let filter = std::env::var("CROSSGATE_CONFORMANCE_FILTER").ok();
        let mut failed = false;
        match agent_matrix::run(&chromium, filter.as_deref()).await {
            Ok(summary) => {
                for d in &summary.disagreements {
                    say(&format!("\n{} [{}] {}", d.id, d.family, d.name));
                    for line in &d.diffs {
                        say(&format!("    {line}"));
                    }
                    say(&format!("    input: {}", d.input));
                }
                say(&summary.line());
                if !summary.disagreements.is_empty() {
                    failed = true;
                }
                if filter.is_none() && summary.scenarios < 300 {
                    say(&format!("agent matrix: only {} scenarios (at least 300 expected)", summary.scenarios));
                    failed = true;
                }
            }
            Err(e) => {
                say(&format!("agent matrix: could not run: {e}"));
                failed = true;
            }
        }
        if filter.is_none() {
            match policy_matrix::run(&chromium).await {
                Ok(summary) => {
                    for m in &summary.mismatches {
                        say(&format!(
                            "\npolicy `{}` via {}, from {}: {}\n    intended: {}\n    Chromium: {:?}",
                            m.policy,
                            m.server,
                            m.origin,
                            m.request,
                            m.intended
                                .as_ref()
                                .map_or("blocked".to_owned(), |h| format!("allowed, readable {h:?}")),
                            m.chromium
                        ));
                    }
                    say(&summary.line());
                    if !summary.mismatches.is_empty() {
                        failed = true;
                    }
                    if summary.policies < 10 || summary.requests < 25 {
                        say("policy matrix: fewer than 10 policies x 25 requests");
                        failed = true;
                    }
                }
                Err(e) => {
                    say(&format!("policy matrix: could not run: {e}"));
                    failed = true;
                }
            }
        }
        if failed { ExitCode::FAILURE } else { ExitCode::SUCCESS }
    })
}
