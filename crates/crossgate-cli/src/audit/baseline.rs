//! `--baseline FILE`: a previous JSON report (one target or an estate). A finding is new when
//! the baseline has no finding of its class for its URL at its severity or above (a class that
//! rose, `origin-reflection` from info to high once credentials were switched on, is new); a
//! finding of the baseline is fixed when
//! its URL was audited to the end this time and shows that class no more. A target cut short,
//! not audited or not reached this time fixes nothing.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use serde::Serialize;
use serde_json::Value;

use crossgate::audit::Severity;

use super::report::Audited;
use crate::Failure;

pub struct Baseline {
    /// URL -> (class, severity) of each finding.
    findings: HashMap<String, Vec<(String, String)>>,
}

/// A finding of the baseline that is gone.
#[derive(Clone, Debug, Serialize)]
pub struct Fixed {
    pub url: String,
    pub class: String,
    pub severity: String,
}

impl Baseline {
    pub fn read(path: &Path) -> Result<Baseline, Failure> {
        let name = path.display();
        let text = std::fs::read_to_string(path)
            .map_err(|e| Failure(format!("--baseline {name}: {e}")))?;
        let doc: Value = serde_json::from_str(&text).map_err(|e| {
            Failure(format!(
                "--baseline {name}: not JSON ({e}); give a report written by `crossgate audit \
                 --format json`"
            ))
        })?;
        Baseline::from_report(&doc).map_err(|e| Failure(format!("--baseline {name}: {e}")))
    }

    /// The findings of a report: `{"url", "findings"}` or `{"targets": [{"url", "findings"}]}`.
    pub fn from_report(doc: &Value) -> Result<Baseline, String> {
        let targets: Vec<&Value> = match doc.get("targets").and_then(Value::as_array) {
            Some(list) => list.iter().collect(),
            None if doc.get("findings").is_some() => vec![doc],
            None => {
                return Err(
                    "not an audit report: it has neither `targets` nor `findings`; \
                            give a report written by `crossgate audit --format json`"
                        .to_owned(),
                );
            }
        };
        let mut findings: HashMap<String, Vec<(String, String)>> = HashMap::new();
        for (i, t) in targets.iter().enumerate() {
            let url = t
                .get("url")
                .and_then(Value::as_str)
                .ok_or_else(|| format!("target {} has no `url`", i + 1))?;
            let list = findings.entry(url.to_owned()).or_default();
            for f in t
                .get("findings")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let field = |k: &str| f.get(k).and_then(Value::as_str).map(str::to_owned);
                let (Some(class), Some(severity)) = (field("class"), field("severity")) else {
                    return Err(format!("a finding of {url} has no `class` or `severity`"));
                };
                list.push((class, severity));
            }
        }
        Ok(Baseline { findings })
    }

    pub fn is_new(&self, url: &str, class: &str, severity: Severity) -> bool {
        !self.findings.get(url).is_some_and(|list| {
            list.iter().any(|(c, s)| {
                // A severity this version does not know cannot hide a finding.
                c == class && Severity::parse(s).is_some_and(|s| s >= severity)
            })
        })
    }

    /// The baseline's findings that the targets reached this time no longer show.
    pub fn fixed(&self, audited: &[Audited]) -> Vec<Fixed> {
        let mut out = Vec::new();
        for a in audited {
            // A target cut short (limits, given up) may not have sent the probe that showed
            // the class: what it did not re-check is not fixed.
            if !a.complete() {
                continue;
            }
            let url = a.endpoint.url.as_str();
            let now: HashSet<String> = a
                .findings
                .iter()
                .map(|f| f.class.as_str().to_owned())
                .collect();
            for (class, severity) in self.findings.get(url).into_iter().flatten() {
                if !now.contains(class) {
                    out.push(Fixed {
                        url: url.to_owned(),
                        class: class.clone(),
                        severity: severity.clone(),
                    });
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_both_report_shapes() {
        let one: Value = serde_json::json!({
            "url": "http://a.example/x",
            "findings": [{"class": "null-origin", "severity": "high"}],
        });
        let b = Baseline::from_report(&one).unwrap();
        assert!(!b.is_new("http://a.example/x", "null-origin", Severity::High));
        assert!(!b.is_new("http://a.example/x", "null-origin", Severity::Low));
        assert!(b.is_new("http://a.example/x", "null-origin", Severity::Critical));
        assert!(b.is_new("http://a.example/x", "origin-reflection", Severity::Info));
        assert!(b.is_new("http://b.example/x", "null-origin", Severity::High));
        let estate: Value = serde_json::json!({"targets": [
            {"url": "http://b.example/x", "findings": [{"class": "missing-vary", "severity": "low"}]},
        ]});
        let b = Baseline::from_report(&estate).unwrap();
        assert!(!b.is_new("http://b.example/x", "missing-vary", Severity::Low));
        assert!(Baseline::from_report(&serde_json::json!({"summary": {}})).is_err());
    }
}
