//! Reading configuration documents (TOML, JSON, YAML) so that every problem is found at once.
//!
//! serde's derive stops at the first unknown field or wrong type. Users editing a file want all
//! of them, each with its path and a fix, so documents are first parsed into a generic value and
//! then walked field by field with [`Fields`]; nothing stops at the first problem.

use std::path::Path;

use serde_json::{Map, Value};

use super::problem::{Problem, ProblemCode};

/// A configuration file's syntax, chosen by its extension.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// TOML (`.toml`): the document is a table.
    Toml,
    /// JSON (`.json`): the document should be an object.
    Json,
    /// YAML (`.yaml`, `.yml`): the document should be a mapping; an empty file is an empty one.
    Yaml,
}

impl Format {
    /// `.toml`, `.json`, `.yaml` / `.yml`; anything else is `None`.
    pub fn from_path(path: &Path) -> Option<Format> {
        match path.extension()?.to_str()?.to_ascii_lowercase().as_str() {
            "toml" => Some(Format::Toml),
            "json" => Some(Format::Json),
            "yaml" | "yml" => Some(Format::Yaml),
            _ => None,
        }
    }
}

/// Parses a document into a generic value. A syntax error is one problem, with the parser's
/// position in its message.
pub fn parse_document(text: &str, format: Format) -> Result<Value, Problem> {
    let parsed: Result<Value, String> = match format {
        Format::Toml => toml::from_str::<toml::Table>(text)
            .map_err(|e| e.to_string())
            .and_then(|t| serde_json::to_value(t).map_err(|e| e.to_string())),
        Format::Json => serde_json::from_str(text).map_err(|e| e.to_string()),
        Format::Yaml => {
            if text.trim().is_empty() {
                Ok(Value::Object(Map::new()))
            } else {
                serde_yaml_ng::from_str(text).map_err(|e| e.to_string())
            }
        }
    };
    parsed.map_err(|message| {
        Problem::error(
            ProblemCode::Syntax,
            "",
            "",
            message.trim().replace('\n', " | "),
            "correct the syntax at the position shown",
        )
    })
}

/// Describes a JSON value's type for messages.
pub fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "an integer",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a table",
    }
}

/// Renders a value as it might have been written, for `Problem::value`.
pub fn render(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Walks one table of a document. Each accessor records a problem instead of failing; `finish`
/// reports the keys nobody asked for.
pub struct Fields<'v> {
    map: &'v Map<String, Value>,
    path: String,
    known: &'static [&'static str],
}

impl<'v> Fields<'v> {
    /// `None` (and a problem) when `value` is not a table.
    pub fn new(
        value: &'v Value,
        path: &str,
        known: &'static [&'static str],
        problems: &mut Vec<Problem>,
    ) -> Option<Fields<'v>> {
        match value {
            Value::Object(map) => Some(Fields {
                map,
                path: path.to_owned(),
                known,
            }),
            other => {
                problems.push(Problem::error(
                    ProblemCode::WrongType,
                    path,
                    render(other),
                    format!("expected a table, found {}", type_name(other)),
                    "write a table of settings (key = value pairs)",
                ));
                None
            }
        }
    }

    /// The path of a key in this table (`cors.max_age`).
    pub fn path_of(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_owned()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    /// The value of `key` as written, of any type, or `None` when absent. Records nothing: for
    /// a setting the caller reads in its own way (a nested table, a string or a list).
    pub fn raw(&self, key: &str) -> Option<&'v Value> {
        self.map.get(key)
    }

    fn wrong_type(&self, key: &str, value: &Value, expected: &str, example: &str) -> Problem {
        Problem::error(
            ProblemCode::WrongType,
            self.path_of(key),
            render(value),
            format!("expected {expected}, found {}", type_name(value)),
            format!("write {example}"),
        )
    }

    /// The boolean at `key`. `None` when absent, or (with a [`ProblemCode::WrongType`] error)
    /// when it is not `true` or `false`: the quoted string `"true"` is refused.
    pub fn bool(&self, key: &str, problems: &mut Vec<Problem>) -> Option<bool> {
        match self.map.get(key)? {
            Value::Bool(b) => Some(*b),
            other => {
                problems.push(self.wrong_type(key, other, "true or false", "true or false"));
                None
            }
        }
    }

    /// The whole number at `key`. `None` when absent, or (with a [`ProblemCode::WrongType`]
    /// error) when it is a string, a fraction or anything but a number. A number above
    /// `i64::MAX` is read as `i64::MAX`, so that the range rules report it as too large.
    pub fn integer(&self, key: &str, problems: &mut Vec<Problem>) -> Option<i64> {
        match self.map.get(key)? {
            Value::Number(n) if n.as_i64().is_some() => n.as_i64(),
            Value::Number(n) if n.as_u64().is_some() => Some(i64::MAX),
            other => {
                problems.push(self.wrong_type(
                    key,
                    other,
                    "a whole number",
                    "a number without quotes, e.g. 600",
                ));
                None
            }
        }
    }

    /// The string at `key`. `None` when absent, or (with a [`ProblemCode::WrongType`] error)
    /// when it is not a string.
    pub fn string(&self, key: &str, problems: &mut Vec<Problem>) -> Option<&'v str> {
        match self.map.get(key)? {
            Value::String(s) => Some(s),
            other => {
                problems.push(self.wrong_type(key, other, "a string", "a quoted string"));
                None
            }
        }
    }

    /// A list of strings. Non-string items are reported one by one and kept as their text, so
    /// that later items keep their index in later problems (the policy's own rules, run later,
    /// say nothing about such stand-ins).
    pub fn string_list(&self, key: &str, problems: &mut Vec<Problem>) -> Option<Vec<String>> {
        match self.map.get(key)? {
            Value::Array(items) => {
                let mut out = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    match item {
                        Value::String(s) => out.push(s.clone()),
                        other => {
                            problems.push(Problem::error(
                                ProblemCode::WrongType,
                                format!("{}[{i}]", self.path_of(key)),
                                render(other),
                                format!("expected a string, found {}", type_name(other)),
                                "quote the item",
                            ));
                            out.push(render(other));
                        }
                    }
                }
                Some(out)
            }
            Value::String(s) => {
                problems.push(self.wrong_type(
                    key,
                    &Value::String(s.clone()),
                    "a list of strings",
                    &format!("a list: [\"{s}\"]"),
                ));
                None
            }
            other => {
                problems.push(self.wrong_type(
                    key,
                    other,
                    "a list of strings",
                    "a list of quoted strings: [\"...\"]",
                ));
                None
            }
        }
    }

    /// Reports every key that is not a known field, with the closest known name as the fix.
    pub fn finish(self, problems: &mut Vec<Problem>) {
        for key in self.map.keys() {
            if self.known.contains(&key.as_str()) {
                continue;
            }
            let fix = match closest(key, self.known) {
                Some(name) => format!("did you mean `{name}`?"),
                None => format!("remove it; known fields: {}", self.known.join(", ")),
            };
            problems.push(Problem::error(
                ProblemCode::UnknownField,
                self.path_of(key),
                "",
                "unknown field (a typo here would silently change the policy, so it is refused)",
                fix,
            ));
        }
    }
}

/// Adds the problems of a check to those found while reading the document, except those on a
/// field whose reading already failed (a wrong type): the rules would only judge the stand-in
/// value (an item kept as its text, or a field left at its default).
pub(crate) fn merge_checked(read: &mut Vec<Problem>, checked: impl IntoIterator<Item = Problem>) {
    let failed: Vec<String> = read
        .iter()
        .filter(|p| p.code == ProblemCode::WrongType)
        .map(|p| p.field.clone())
        .collect();
    let on_failed = |field: &str| {
        failed.iter().any(|f| {
            field == f
                || field
                    .strip_prefix(f.as_str())
                    .is_some_and(|rest| rest.starts_with('['))
        })
    };
    read.extend(checked.into_iter().filter(|p| !on_failed(&p.field)));
}

/// The known name nearest to `key` by edit distance, if it is near enough to be a typo.
pub(crate) fn closest(key: &str, known: &[&'static str]) -> Option<&'static str> {
    let key_lower = key.to_ascii_lowercase().replace('-', "_");
    known
        .iter()
        .map(|name| (edit_distance(&key_lower, name), *name))
        .filter(|(d, name)| *d <= 2.max(name.len() / 4))
        .min_by_key(|(d, _)| *d)
        .map(|(_, name)| name)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typos_find_their_field() {
        let known = &["allow_origins", "allow_credentials", "max_age"];
        assert_eq!(closest("allow_origin", known), Some("allow_origins"));
        assert_eq!(
            closest("allow-credentials", known),
            Some("allow_credentials")
        );
        assert_eq!(closest("maxage", known), Some("max_age"));
        assert_eq!(closest("listen", known), None);
    }

    #[test]
    fn every_format_parses_to_the_same_value() {
        let toml = parse_document("a = [\"x\"]\nb = 3", Format::Toml).unwrap();
        let json = parse_document(r#"{"a": ["x"], "b": 3}"#, Format::Json).unwrap();
        let yaml = parse_document("a: [x]\nb: 3\n", Format::Yaml).unwrap();
        assert_eq!(toml, json);
        assert_eq!(yaml, json);
        let err = parse_document("a = [", Format::Toml).unwrap_err();
        assert_eq!(err.code, ProblemCode::Syntax);
        assert!(err.message.contains("line 1"), "{}", err.message);
    }
}
