//! Editing the allowed origins of a compiled policy without rebuilding it.
//!
//! An edit is validated by the same rules as a configuration (each pattern parsed into normal
//! form, the credential and public-suffix rules, `*` alone), against the policy it changes, and
//! applied to a copy of the policy's origin matcher that shares all but the shards it touches: its
//! cost grows with the size of the edit, not with the number of origins allowed.

use super::matcher::OriginMatcher;
use super::problem::{Problem, ProblemCode};
use super::validate::{
    no_origin_allowed, parse_origin, pattern_rules, redundancy_rule, wildcard_rules,
};
use super::{Checked, Policy};

/// Patterns to add to and remove from a policy's allowed origins, applied together (removals
/// first, so an edit can replace one pattern with another).
///
/// ```
/// use crossgate::policy::{OriginChanges, Policy};
///
/// let policy = Policy::builder()
///     .allow_origins(["https://app.example.com", "https://old-tenant.example"])
///     .build()?;
/// let changes = OriginChanges::new()
///     .add("https://new-tenant.example")
///     .remove("https://old-tenant.example");
/// let edited = policy.with_origin_changes(&changes).into_result().expect("a valid edit");
/// assert!(edited.allows_origin(b"https://new-tenant.example"));
/// assert!(!edited.allows_origin(b"https://old-tenant.example"));
/// assert!(policy.allows_origin(b"https://old-tenant.example")); // the original is unchanged
/// # Ok::<(), crossgate::policy::InvalidConfig>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[must_use = "an OriginChanges does nothing until it is passed to LivePolicy::change_origins or Policy::with_origin_changes"]
pub struct OriginChanges {
    add: Vec<String>,
    remove: Vec<String>,
}

// `add` is a builder step here, not arithmetic.
#[allow(clippy::should_implement_trait)]
impl OriginChanges {
    /// No changes yet; add them with [`add`](Self::add) and [`remove`](Self::remove).
    pub fn new() -> OriginChanges {
        OriginChanges::default()
    }

    /// Adds one origin pattern (same syntax as `allow_origins`).
    pub fn add(mut self, pattern: impl Into<String>) -> Self {
        self.add.push(pattern.into());
        self
    }

    /// Removes one origin pattern (compared in normal form).
    pub fn remove(mut self, pattern: impl Into<String>) -> Self {
        self.remove.push(pattern.into());
        self
    }

    /// Adds several patterns.
    pub fn add_all<I: IntoIterator<Item = S>, S: Into<String>>(mut self, patterns: I) -> Self {
        self.add.extend(patterns.into_iter().map(Into::into));
        self
    }

    /// Removes several patterns.
    pub fn remove_all<I: IntoIterator<Item = S>, S: Into<String>>(mut self, patterns: I) -> Self {
        self.remove.extend(patterns.into_iter().map(Into::into));
        self
    }

    /// The patterns to add, as given.
    pub fn added(&self) -> &[String] {
        &self.add
    }

    /// The patterns to remove, as given.
    pub fn removed(&self) -> &[String] {
        &self.remove
    }

    /// Whether there is nothing to add or remove. Applying an empty edit gives an equal
    /// policy, with no problem.
    pub fn is_empty(&self) -> bool {
        self.add.is_empty() && self.remove.is_empty()
    }
}

impl Policy {
    /// This policy with `changes` applied to its allowed origins; `self` is unchanged. Every
    /// problem is returned (fields `add[i]` and `remove[i]`), and the policy is `None` if any is
    /// an error. Adding a pattern already allowed, or removing one that is not, is a warning.
    ///
    /// The cost grows with the number of changes, not with the number of origins: the edited
    /// policy shares everything else with this one.
    pub fn with_origin_changes(&self, changes: &OriginChanges) -> Checked {
        let settings = self.settings();
        let was_empty = self.origins().len() == 0;
        let mut matcher: OriginMatcher = self.origins().clone();
        let mut problems = Vec::new();
        for (i, input) in changes.remove.iter().enumerate() {
            let field = format!("remove[{i}]");
            let Some(pattern) = parse_origin(&field, input, &mut problems) else {
                continue;
            };
            if !matcher.remove(&pattern) {
                problems.push(Problem::warning(
                    ProblemCode::OriginNotListed,
                    &field,
                    input,
                    format!("`{pattern}` is not an allowed origin, so nothing was removed"),
                    "check the spelling, or drop the removal",
                ));
            }
        }
        let mut added = Vec::with_capacity(changes.add.len());
        for (i, input) in changes.add.iter().enumerate() {
            let field = format!("add[{i}]");
            let Some(pattern) = parse_origin(&field, input, &mut problems) else {
                continue;
            };
            if !matcher.insert(&pattern) {
                problems.push(Problem::warning(
                    ProblemCode::Duplicate,
                    &field,
                    input,
                    format!("`{pattern}` is allowed already"),
                    "drop the addition",
                ));
                continue;
            }
            pattern_rules(settings, &field, input, &pattern, &mut problems);
            added.push((field, input, pattern));
        }
        wildcard_rules(
            settings,
            &matcher,
            || format!("{} patterns, `*` among them", matcher.len()),
            &mut problems,
        );
        for (field, input, pattern) in &added {
            redundancy_rule(&matcher, field, input, pattern, &mut problems);
        }
        if matcher.len() == 0 && !was_empty {
            problems.push(no_origin_allowed());
        }
        let policy = if problems.iter().any(Problem::is_error) {
            None
        } else {
            Some(self.sharing_settings(matcher))
        };
        Checked { policy, problems }
    }
}
