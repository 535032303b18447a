//! The conformance suite of one engine, as the test binaries run it (`tests/chromium.rs`,
//! `tests/firefox.rs`): both matrices, every disagreement printed with what reproduces it, a
//! summary line naming the engine and its version.
//!
//! Without the browser the matrices are skipped with a loud notice, unless the engine's
//! `CROSSGATE_REQUIRE_<ENGINE>=1` is set (CI sets it), which makes a missing browser a failure.
//! `CROSSGATE_CONFORMANCE_FILTER=<id, family or part of a name>` runs only the matching agent
//! scenarios; `CROSSGATE_CONFORMANCE_ONLY=agents|policies|playground` only that part.

use std::io::Write;
use std::process::ExitCode;

use crate::engine::Engine;
use crate::{agent_matrix, policy_matrix};

/// Writes to the real stderr, which the test output always shows.
fn say(text: &str) {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "{text}");
}

/// Runs both matrices and the playground in `engine`; the exit code of the test binary.
pub fn main(engine: Engine) -> ExitCode {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    runtime.block_on(run(engine))
}

async fn run(engine: Engine) -> ExitCode {
    let browser = match engine.find().await {
        Ok(b) => b,
        Err(why) => {
            let require = engine.require_var();
            let required = std::env::var(require).is_ok_and(|v| v == "1");
            let banner = "=".repeat(78);
            if required {
                say(&format!(
                    "{banner}\nFAILED: {require}=1 and {engine} cannot be used: {why}\n{banner}"
                ));
                return ExitCode::FAILURE;
            }
            say(&format!(
                "{banner}\nSKIPPED: the {engine} conformance matrices (agent, policy) did not \
                 run: {why}.\nRun {} to run them; CI sets {require}=1 and never skips.\n{banner}",
                engine.install_script()
            ));
            return ExitCode::SUCCESS;
        }
    };
    say(&format!(
        "conformance: {} ({})",
        browser.version,
        browser.path.display()
    ));
    let filter = std::env::var("CROSSGATE_CONFORMANCE_FILTER").ok();
    let only = std::env::var("CROSSGATE_CONFORMANCE_ONLY").ok();
    let part = |name: &str| only.as_deref().is_none_or(|o| o == name);
    let mut failed = false;
    if part("agents") {
        failed |= agents(engine, &browser, filter.as_deref()).await;
    }
    if filter.is_none() && part("policies") {
        failed |= policies(engine, &browser).await;
    }
    if part("playground") {
        failed |= playground(&browser, filter.as_deref()).await;
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// The playground's self-test; whether it failed.
async fn playground(browser: &crate::engine::Installed, filter: Option<&str>) -> bool {
    match crate::playground::run(browser, filter).await {
        Ok(summary) => {
            for m in &summary.mismatches {
                say(&format!(
                    "
playground case {}:",
                    m.id
                ));
                for p in &m.problems {
                    say(&format!("    {p}"));
                }
            }
            say(&summary.line());
            let too_few = filter.is_none()
                && (summary.starts < 10 || summary.sampled < 24 || !summary.forced);
            if too_few {
                say("playground: fewer than 10 starting points or 24 sampled cases");
            }
            !summary.mismatches.is_empty() || too_few
        }
        Err(e) => {
            say(&format!(
                "playground: could not run in {}: {e}",
                browser.engine
            ));
            true
        }
    }
}

/// The agent matrix; whether it failed.
async fn agents(engine: Engine, browser: &crate::engine::Installed, filter: Option<&str>) -> bool {
    let mut failed = false;
    match agent_matrix::run(browser, filter).await {
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
            if let Some((alone, told)) = &summary.har {
                for (har, how) in [(alone, "the log alone"), (told, "told the credentials")] {
                    for d in &har.disagreements {
                        say(&format!("har ({how}): {d}"));
                    }
                    if std::env::var("CROSSGATE_CONFORMANCE_VERBOSE").is_ok_and(|v| v == "1") {
                        for u in &har.undetermined {
                            say(&format!("har ({how}) undetermined: {u}"));
                        }
                    }
                    say(&har.line(&engine.to_string(), how));
                    if !har.disagreements.is_empty() {
                        failed = true;
                    }
                }
                // Told the credentials mode, only what the log truly lacks stays open (the
                // response to a redirect loop's last hop, a request never answered).
                if told.requests == 0 || told.undetermined.len() * 20 > told.requests {
                    say("har: more than 5% undetermined even told the credentials mode");
                    failed = true;
                }
            }
            if filter.is_none() && summary.scenarios < 300 {
                say(&format!(
                    "agent matrix: only {} scenarios (at least 300 expected)",
                    summary.scenarios
                ));
                failed = true;
            }
        }
        Err(e) => {
            say(&format!("agent matrix: could not run in {engine}: {e}"));
            failed = true;
        }
    }
    failed
}

/// The policy matrix; whether it failed.
async fn policies(engine: Engine, browser: &crate::engine::Installed) -> bool {
    let mut failed = false;
    {
        match policy_matrix::run(browser).await {
            Ok(summary) => {
                for m in &summary.mismatches {
                    say(&format!(
                        "\npolicy `{}` via {}, from {}: {}\n    intended: {}\n    {engine}: {:?}",
                        m.policy,
                        m.server,
                        m.origin,
                        m.request,
                        m.intended
                            .as_ref()
                            .map_or("blocked".to_owned(), |h| format!("allowed, readable {h:?}")),
                        m.browser
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
                say(&format!("policy matrix: could not run in {engine}: {e}"));
                failed = true;
            }
        }
    }
    failed
}
