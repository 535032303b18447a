//! The audit's progress line on a terminal (nothing on a pipe): requests sent of those planned,
//! targets done, findings so far.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicUsize, Ordering};

use indicatif::{ProgressBar, ProgressStyle};

pub struct Progress {
    bar: Option<ProgressBar>,
    targets: usize,
    done: AtomicUsize,
    findings: AtomicUsize,
}

impl Progress {
    /// A bar over `requests` planned requests and `targets` targets, drawn only when standard
    /// error is a terminal.
    pub fn new(requests: usize, targets: usize) -> Progress {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::new(requests as u64);
            bar.set_style(
                ProgressStyle::with_template(
                    "auditing {wide_bar} {pos}/{len} requests, {msg} ({elapsed})",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            bar
        });
        let progress = Progress {
            bar,
            targets,
            done: AtomicUsize::new(0),
            findings: AtomicUsize::new(0),
        };
        progress.describe();
        progress
    }

    fn describe(&self) {
        if let Some(bar) = &self.bar {
            bar.set_message(format!(
                "{}/{} targets, {} findings",
                self.done.load(Ordering::Relaxed),
                self.targets,
                self.findings.load(Ordering::Relaxed)
            ));
        }
    }

    pub fn request_sent(&self) {
        if let Some(bar) = &self.bar {
            bar.inc(1);
        }
    }

    /// A retry is one more request to count.
    pub fn retry(&self) {
        if let Some(bar) = &self.bar {
            bar.inc_length(1);
        }
    }

    /// A target is judged; `unsent` of its planned requests will never go (given up, or the
    /// run's limits), so the bar stops counting them.
    pub fn target_done(&self, findings: usize, unsent: usize) {
        if let Some(bar) = &self.bar {
            let length = bar.length().unwrap_or(0);
            bar.set_length(length.saturating_sub(unsent as u64).max(bar.position()));
        }
        self.done.fetch_add(1, Ordering::Relaxed);
        self.findings.fetch_add(findings, Ordering::Relaxed);
        self.describe();
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
