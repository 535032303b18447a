//! `crossgate lint FILE [--json]` (CONTRACTS §2): a policy, a gateway configuration (with the
//! origin list files it names), or an origin list file by itself.

use std::io::Write;
use std::path::Path;

use crossgate::policy::Policy;
use crossgate::policy::Problem;
use crossgate::policy::document::{Format, parse_document};
use crossgate::policy::{OriginList, PolicyConfig};
use crossgate_gateway::GatewayConfig;
use serde_json::{Value, json};

use crate::cli::LintArgs;
use crate::report::{self, BOLD, GOOD};
use crate::{Failure, Outcome};

/// What kind of document a file holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A bare policy (the fields of CONTRACTS §1 at the top level).
    Policy,
    /// A gateway configuration: its `[cors]` table and every `[routes.cors]` are checked; the
    /// `[cors]` table is the policy shown.
    Gateway,
    /// An origin list file (`allow_origins_file`): one origin or pattern a line.
    Origins,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Policy => "policy",
            Kind::Gateway => "gateway",
            Kind::Origins => "origins",
        }
    }
}

/// Extensions read as origin list files.
const ORIGIN_LIST_EXTENSIONS: &[&str] = &["txt", "list"];

/// The result of checking one file.
pub struct Linted {
    pub kind: Kind,
    pub problems: Vec<Problem>,
    pub policy: Option<Policy>,
}

/// Top-level keys that only a gateway configuration has.
const GATEWAY_KEYS: &[&str] = GatewayConfig::FIELDS;

/// Reads and checks a file. `Err` only when it cannot be read.
pub fn lint_file(path: &Path, origin_list: bool) -> Result<Linted, Failure> {
    let is_list = origin_list
        || path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| ORIGIN_LIST_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()));
    if is_list {
        return lint_origin_list(path);
    }
    let text = std::fs::read_to_string(path)
        .map_err(|e| Failure(format!("cannot read {}: {e}", path.display())))?;
    let format = Format::from_path(path).unwrap_or(Format::Toml);
    let value = match parse_document(&text, format) {
        Ok(v) => v,
        Err(problem) => {
            return Ok(Linted {
                kind: Kind::Policy,
                problems: vec![problem],
                policy: None,
            });
        }
    };
    Ok(lint_value(&value, path.parent().unwrap_or(Path::new(""))))
}

/// Checks an origin list file by itself, as the patterns of a policy without credentials: the
/// rules that depend on credentials are checked when linting the configuration that names it.
fn lint_origin_list(path: &Path) -> Result<Linted, Failure> {
    let text = crossgate_gateway::origins_file::read(path).map_err(Failure)?;
    let list = OriginList::parse(&text);
    let config = PolicyConfig {
        allow_origins: list.patterns().map(str::to_owned).collect(),
        ..PolicyConfig::default()
    };
    let (policy, mut problems) = Policy::check(&config).into_parts();
    let name = path.display().to_string();
    list.locate(&mut problems, "", 0, &name);
    for p in &mut problems {
        if p.field == "allow_origins" {
            p.field.clone_from(&name);
        }
    }
    Ok(Linted {
        kind: Kind::Origins,
        problems,
        policy,
    })
}

/// Checks a parsed document: a gateway configuration if it has a gateway key, else a policy.
/// Origin list files a gateway configuration names are read relative to `dir`.
pub fn lint_value(value: &Value, dir: &Path) -> Linted {
    let is_gateway = value
        .as_object()
        .is_some_and(|map| GATEWAY_KEYS.iter().any(|k| map.contains_key(*k)));
    if is_gateway {
        // Every problem of the document (routes, limits, timeouts included), then the rules of
        // every policy in it: `cors.*` and `routes[i].cors.*`, in one pass.
        let (gateway, problems) = GatewayConfig::check_in(value, dir);
        let valid = !problems.iter().any(Problem::is_error);
        return Linted {
            kind: Kind::Gateway,
            policy: Policy::check(&gateway.cors)
                .into_parts()
                .0
                .filter(|_| valid),
            problems,
        };
    }
    let mut problems = Vec::new();
    let config = PolicyConfig::from_value(value, "", &mut problems);
    // Field-level problems (unknown fields, wrong types) come first; the policy's own rules
    // then run on what could be read, so every problem is reported in one pass.
    let (policy, problems) = Policy::check_document(&config, problems, "").into_parts();
    Linted {
        kind: Kind::Policy,
        policy,
        problems,
    }
}

fn problem_json(p: &Problem) -> Value {
    json!({
        "field": p.field,
        "value": p.value,
        "code": p.code.as_str(),
        "message": p.message,
        "fix": p.fix,
    })
}

pub fn run(args: &LintArgs) -> Result<Outcome, Failure> {
    let linted = lint_file(&args.file, args.origins)?;
    let errors: Vec<&Problem> = linted.problems.iter().filter(|p| p.is_error()).collect();
    let warnings: Vec<&Problem> = linted.problems.iter().filter(|p| !p.is_error()).collect();
    let valid = errors.is_empty();
    if args.json {
        let doc = json!({
            "file": args.file.display().to_string(),
            "kind": linted.kind.as_str(),
            "valid": valid,
            "errors": errors.iter().map(|p| problem_json(p)).collect::<Vec<_>>(),
            "warnings": warnings.iter().map(|p| problem_json(p)).collect::<Vec<_>>(),
            "policy": linted.policy.as_ref().filter(|_| linted.kind != Kind::Origins).map(|p| p.config()),
        });
        let mut doc = doc;
        if linted.kind == Kind::Origins {
            doc["origins"] = json!(linted.policy.as_ref().map(|p| &p.config().allow_origins));
        }
        let mut out = std::io::stdout().lock();
        serde_json::to_writer_pretty(&mut out, &doc)?;
        writeln!(out)?;
    } else {
        let mut out = anstream::stdout();
        for problem in report::sorted(&linted.problems) {
            report::problem_line(&mut out, problem)?;
        }
        let file = args.file.display();
        if linted.kind == Kind::Origins {
            writeln!(
                out,
                "note: rules that depend on credentials (http origins, public suffixes) are \
                 checked when linting the configuration that names this file"
            )?;
        }
        if valid {
            writeln!(
                out,
                "{GOOD}valid{GOOD:#}: {BOLD}{file}{BOLD:#} ({}, {})",
                linted.kind.as_str(),
                report::count(warnings.len(), "warning")
            )?;
        } else {
            writeln!(
                out,
                "invalid: {BOLD}{file}{BOLD:#} ({}, {})",
                report::count(errors.len(), "error"),
                report::count(warnings.len(), "warning")
            )?;
        }
    }
    Ok(if valid { Outcome::Yes } else { Outcome::No })
}
