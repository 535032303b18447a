//! Origin list files: one origin or pattern a line, for allowlists kept outside the
//! configuration (`allow_origins_file` in the gateway's `[cors]`, `crossgate lint origins.txt`,
//! or a [`LivePolicy`](super::LivePolicy) fed from a file the application reads).
//!
//! ```text
//! # Tenants' own domains (one origin or pattern a line)
//! https://shop.customer-one.example
//! https://*.preview.example.com   # every preview deployment
//! ```
//!
//! Only the text is parsed here (the library does no I/O): `#` starts a comment that runs to the
//! end of the line (an origin never contains `#`), surrounding whitespace is ignored, and so are
//! blank lines and a leading byte-order mark. Each pattern keeps its line number, so that the
//! problems validation finds point at the line to fix.

use super::problem::Problem;
use super::validate::ORIGINS;

/// One pattern of an origin list and the line it is on (counted from 1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OriginLine {
    /// The line number in the text, counted from 1 (comment and blank lines count too).
    pub line: usize,
    /// The pattern, without its comment and surrounding whitespace; not yet validated.
    pub pattern: String,
}

/// The patterns of an origin list file, in order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OriginList {
    lines: Vec<OriginLine>,
}

impl OriginList {
    /// Reads the patterns of `text`, skipping comments and blank lines.
    ///
    /// ```
    /// use crossgate::policy::OriginList;
    ///
    /// let list = OriginList::parse("# tenants\nhttps://a.example\n\n  https://*.b.example # previews\n");
    /// assert_eq!(list.patterns().collect::<Vec<_>>(), ["https://a.example", "https://*.b.example"]);
    /// assert_eq!(list.lines()[1].line, 4);
    /// ```
    ///
    /// A bad line is reported at its line number: validate the patterns as a policy's
    /// `allow_origins`, then [`locate`](Self::locate) the problems.
    ///
    /// ```
    /// use crossgate::policy::{OriginList, Policy, PolicyConfig, ProblemCode};
    ///
    /// let text = "\
    /// ## Tenants' own domains (one origin or pattern a line)
    /// https://shop.customer-one.example
    /// https://*.preview.example.com   # every preview deployment
    ///
    /// shop.customer-two.example
    /// ";
    /// let list = OriginList::parse(text);
    /// let lines: Vec<usize> = list.lines().iter().map(|l| l.line).collect();
    /// assert_eq!(lines, [2, 3, 5]);
    ///
    /// let config = PolicyConfig {
    ///     allow_origins: list.patterns().map(str::to_owned).collect(),
    ///     ..PolicyConfig::default()
    /// };
    /// let (policy, mut problems) = Policy::check(&config).into_parts();
    /// assert!(policy.is_none());
    /// list.locate(&mut problems, "", 0, "origins.txt");
    /// assert_eq!(problems.len(), 1);
    /// assert_eq!(problems[0].field, "origins.txt:5");
    /// assert_eq!(problems[0].code, ProblemCode::OriginMissingScheme);
    /// assert_eq!(problems[0].fix, "write https://shop.customer-two.example");
    /// ```
    pub fn parse(text: &str) -> OriginList {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let lines = text
            .lines()
            .enumerate()
            .filter_map(|(i, raw)| {
                let pattern = raw.split('#').next().unwrap_or("").trim();
                (!pattern.is_empty()).then(|| OriginLine {
                    line: i + 1,
                    pattern: pattern.to_owned(),
                })
            })
            .collect();
        OriginList { lines }
    }

    /// The patterns with their line numbers, in file order.
    pub fn lines(&self) -> &[OriginLine] {
        &self.lines
    }

    /// The patterns alone, in file order: append them to `allow_origins` (or pass them to
    /// [`LivePolicy::set_origins`](super::LivePolicy::set_origins)) to validate them.
    pub fn patterns(&self) -> impl Iterator<Item = &str> {
        self.lines.iter().map(|l| l.pattern.as_str())
    }

    /// The number of patterns (comment and blank lines are not counted).
    pub fn len(&self) -> usize {
        self.lines.len()
    }

    /// Whether the text holds no pattern, only comments and blank lines (if any).
    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    /// Points problems at this file's lines. The list's patterns were appended to a policy's
    /// `allow_origins` after `offset` patterns of its own, and the policy's problems are named
    /// under `prefix` (`""`, `"cors"`, `"routes[2].cors"`): a problem on item `offset + k` of
    /// that list is renamed `{file}:{line}`, where `line` is the line of the list's `k`-th
    /// pattern. Other problems are left alone.
    pub fn locate(&self, problems: &mut [Problem], prefix: &str, offset: usize, file: &str) {
        let list = if prefix.is_empty() {
            format!("{ORIGINS}[")
        } else {
            format!("{prefix}.{ORIGINS}[")
        };
        for problem in problems {
            let Some(index) = problem
                .field
                .strip_prefix(&list)
                .and_then(|rest| rest.strip_suffix(']'))
                .and_then(|n| n.parse::<usize>().ok())
            else {
                continue;
            };
            if let Some(entry) = index.checked_sub(offset).and_then(|k| self.lines.get(k)) {
                problem.field = format!("{file}:{}", entry.line);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::Policy;
    use crate::policy::PolicyConfig;

    #[test]
    fn comments_blank_lines_and_whitespace() {
        let text = "\u{feff}# header\n\n https://a.example \r\nhttps://b.example#tenant 2\n\t# indented comment\nhttp://localhost:*";
        let list = OriginList::parse(text);
        assert_eq!(
            list.lines(),
            [
                OriginLine {
                    line: 3,
                    pattern: "https://a.example".into()
                },
                OriginLine {
                    line: 4,
                    pattern: "https://b.example".into()
                },
                OriginLine {
                    line: 6,
                    pattern: "http://localhost:*".into()
                },
            ]
        );
        assert!(OriginList::parse("# nothing\n\n   \n").is_empty());
    }

    /// Problems on the file's patterns name its lines; those on the policy's own do not move.
    #[test]
    fn problems_point_at_lines() {
        let list = OriginList::parse("https://ok.example\n# comment\nhttps://bad.example/path\n");
        let mut config = PolicyConfig {
            allow_origins: vec!["https://own.example/x".into()],
            ..PolicyConfig::default()
        };
        config
            .allow_origins
            .extend(list.patterns().map(str::to_owned));
        let mut problems = Policy::check(&config).problems;
        list.locate(&mut problems, "", 1, "origins.txt");
        let fields: Vec<&str> = problems.iter().map(|p| p.field.as_str()).collect();
        assert_eq!(fields, ["allow_origins[0]", "origins.txt:3"]);
        let mut within = Policy::check_document(&config, Vec::new(), "cors").problems;
        list.locate(&mut within, "cors", 1, "origins.txt");
        let fields: Vec<&str> = within.iter().map(|p| p.field.as_str()).collect();
        assert_eq!(fields, ["cors.allow_origins[0]", "origins.txt:3"]);
    }
}
