//! `allow_origins_file` in `[cors]` and `[routes.cors]`: an origin list kept in its own file (one
//! origin or pattern a line, `#` comments; see [`crossgate::policy::OriginList`]), merged after
//! the table's `allow_origins` when the configuration is loaded, and watched with it.

use std::path::Path;

use crossgate::policy::OriginList;
use crossgate::policy::PolicyConfig;
use crossgate::policy::{Problem, ProblemCode};
use serde_json::Value;

/// The key, inside a policy table.
pub const KEY: &str = "allow_origins_file";

/// An origin list file is refused above this size (a million origins fit in far less).
pub const MAX_FILE_LEN: u64 = 64 << 20;

/// Reads a `[cors]`-style table: its policy, and the origin list file it names (as written).
pub(crate) fn read_policy_table(
    value: &Value,
    path: &str,
    problems: &mut Vec<Problem>,
) -> (PolicyConfig, Option<String>) {
    let Some(file) = value.as_object().and_then(|map| map.get(KEY)) else {
        return (PolicyConfig::from_value(value, path, problems), None);
    };
    let field = format!("{path}.{KEY}");
    let file = match file.as_str() {
        Some(text) if !text.trim().is_empty() => Some(text.to_owned()),
        _ => {
            problems.push(Problem::error(
                ProblemCode::WrongType,
                &field,
                crossgate::policy::document::render(file),
                "expected the path of an origin list file",
                format!("write {KEY} = \"origins.txt\" (relative to this configuration file)"),
            ));
            None
        }
    };
    let mut rest = value.clone();
    if let Some(map) = rest.as_object_mut() {
        map.remove(KEY);
    }
    (PolicyConfig::from_value(&rest, path, problems), file)
}

/// An origin list file merged into one policy: where its patterns went, to point problems at
/// its lines.
pub(crate) struct Merged {
    /// The policy's path in the document (`cors`, `routes[1].cors`).
    prefix: String,
    /// How many patterns the table listed itself (the file's come after).
    offset: usize,
    /// The file as the configuration names it.
    name: String,
    list: OriginList,
}

impl Merged {
    /// Renames problems on the file's patterns `{file}:{line}`.
    pub(crate) fn locate(&self, problems: &mut [Problem]) {
        self.list
            .locate(problems, &self.prefix, self.offset, &self.name);
    }
}

/// Reads the file `name` (relative to `dir`) and appends its patterns to `policy`'s origins.
/// A file that cannot be read is an error at `{prefix}.allow_origins_file`.
pub(crate) fn merge(
    policy: &mut PolicyConfig,
    prefix: &str,
    name: &str,
    dir: &Path,
    problems: &mut Vec<Problem>,
) -> Option<Merged> {
    let path = dir.join(name);
    let field = format!("{prefix}.{KEY}");
    let list = match read(&path) {
        Ok(text) => OriginList::parse(&text),
        Err(message) => {
            problems.push(Problem::error(
                ProblemCode::InvalidValue,
                field,
                name,
                message,
                "create the file (one origin or pattern a line), or fix the path (relative to \
                 the configuration file)",
            ));
            return None;
        }
    };
    let offset = policy.allow_origins.len();
    policy
        .allow_origins
        .extend(list.patterns().map(str::to_owned));
    Some(Merged {
        prefix: prefix.to_owned(),
        offset,
        name: name.to_owned(),
        list,
    })
}

/// The text of an origin list file, or why it cannot be used.
pub fn read(path: &Path) -> Result<String, String> {
    let meta =
        std::fs::metadata(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    if meta.len() > MAX_FILE_LEN {
        return Err(format!(
            "{} is larger than {} MiB, more than an origin list needs",
            path.display(),
            MAX_FILE_LEN >> 20
        ));
    }
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    String::from_utf8(bytes).map_err(|e| {
        format!(
            "{} is not UTF-8 text (invalid byte at offset {})",
            path.display(),
            e.utf8_error().valid_up_to()
        )
    })
}
