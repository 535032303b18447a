//! The policy as users write it (CONTRACTS §1): plain data, deserialised from TOML, JSON or YAML.
//!
//! Nothing here is checked; [`crate::policy::Policy::new`] validates a `PolicyConfig` and
//! reports every problem at once.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::document::Fields;
use super::problem::Problem;

/// A CORS policy, as written in a configuration file.
///
/// ```
/// let config: crossgate::policy::PolicyConfig = toml::from_str(r#"
///     allow_origins = ["https://app.example.com", "https://*.example.com"]
///     allow_credentials = true
///     allow_methods = ["GET", "POST", "PUT"]
///     allow_headers = ["content-type", "authorization"]
///     expose_headers = ["x-request-id"]
///     max_age = 600
/// "#).unwrap();
/// let policy = crossgate::policy::Policy::new(&config).unwrap();
/// # let _ = policy;
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PolicyConfig {
    /// Origin patterns: `https://app.example.com`, `https://*.example.com` (subdomains, never the
    /// apex), `http://localhost:*` (any port), or `"*"` alone (any origin; not with credentials).
    pub allow_origins: Vec<String>,
    /// Send `Access-Control-Allow-Credentials: true`, so script may send and read cookies and
    /// HTTP authentication.
    pub allow_credentials: bool,
    /// Methods a preflight may ask for, or `"*"`. `GET`, `HEAD` and `POST` are always allowed.
    pub allow_methods: Vec<String>,
    /// Request header names a preflight may ask for, or `"*"` (which never covers
    /// `authorization`: list it as well).
    pub allow_headers: Vec<String>,
    /// Response header names script may read, or `"*"` (not with credentials).
    pub expose_headers: Vec<String>,
    /// `Access-Control-Max-Age`, in seconds; `None` sends no header (browsers then cache a
    /// preflight for 5 seconds).
    pub max_age: Option<i64>,
    /// Legacy Private Network Access: answer `Access-Control-Request-Private-Network: true` on a
    /// preflight with `Access-Control-Allow-Private-Network: true`.
    pub allow_private_network: bool,
    /// Allow plain-`http` (non-loopback) origins together with credentials. Anyone on the network
    /// path can impersonate such an origin and read credentialed responses.
    pub dangerously_tolerate_insecure_origins: bool,
    /// Allow `*.` patterns on a public suffix (`https://*.github.io`) together with credentials.
    /// Anyone can register a site under a public suffix.
    pub dangerously_tolerate_public_suffix_subdomains: bool,
}

impl PolicyConfig {
    /// A copy without the allowed origins (a list that may be long).
    pub(crate) fn clone_without_origins(&self) -> PolicyConfig {
        PolicyConfig {
            allow_origins: Vec::new(),
            allow_methods: self.allow_methods.clone(),
            allow_headers: self.allow_headers.clone(),
            expose_headers: self.expose_headers.clone(),
            ..*self
        }
    }
}

impl Default for PolicyConfig {
    fn default() -> Self {
        PolicyConfig {
            allow_origins: Vec::new(),
            allow_credentials: false,
            allow_methods: vec!["GET".into(), "HEAD".into(), "POST".into()],
            allow_headers: Vec::new(),
            expose_headers: Vec::new(),
            max_age: None,
            allow_private_network: false,
            dangerously_tolerate_insecure_origins: false,
            dangerously_tolerate_public_suffix_subdomains: false,
        }
    }
}

impl PolicyConfig {
    /// The field names, in the order of the schema.
    pub const FIELDS: &'static [&'static str] = &[
        "allow_origins",
        "allow_credentials",
        "allow_methods",
        "allow_headers",
        "expose_headers",
        "max_age",
        "allow_private_network",
        "dangerously_tolerate_insecure_origins",
        "dangerously_tolerate_public_suffix_subdomains",
    ];

    /// Reads a policy table from a parsed document, recording every unknown field and wrong type
    /// in `problems` (with paths under `path`). Fields that fail keep their defaults.
    pub fn from_value(value: &Value, path: &str, problems: &mut Vec<Problem>) -> PolicyConfig {
        let mut config = PolicyConfig::default();
        let Some(fields) = Fields::new(value, path, Self::FIELDS, problems) else {
            return config;
        };
        if let Some(v) = fields.string_list("allow_origins", problems) {
            config.allow_origins = v;
        }
        if let Some(v) = fields.bool("allow_credentials", problems) {
            config.allow_credentials = v;
        }
        if let Some(v) = fields.string_list("allow_methods", problems) {
            config.allow_methods = v;
        }
        if let Some(v) = fields.string_list("allow_headers", problems) {
            config.allow_headers = v;
        }
        if let Some(v) = fields.string_list("expose_headers", problems) {
            config.expose_headers = v;
        }
        if let Some(v) = fields.integer("max_age", problems) {
            config.max_age = Some(v);
        }
        if let Some(v) = fields.bool("allow_private_network", problems) {
            config.allow_private_network = v;
        }
        if let Some(v) = fields.bool("dangerously_tolerate_insecure_origins", problems) {
            config.dangerously_tolerate_insecure_origins = v;
        }
        if let Some(v) = fields.bool("dangerously_tolerate_public_suffix_subdomains", problems) {
            config.dangerously_tolerate_public_suffix_subdomains = v;
        }
        fields.finish(problems);
        config
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_list_matches_the_serde_schema() {
        let value = serde_json::to_value(PolicyConfig::default()).unwrap();
        let keys: Vec<&str> = value
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        let mut fields = PolicyConfig::FIELDS.to_vec();
        let mut keys_sorted = keys.clone();
        fields.sort_unstable();
        keys_sorted.sort_unstable();
        assert_eq!(keys_sorted, fields);
    }

    #[test]
    fn the_walker_and_serde_agree_on_valid_input() {
        let text = r#"{"allow_origins": ["https://a.example"], "allow_credentials": true,
                       "allow_methods": ["PUT"], "allow_headers": ["x-a"], "expose_headers": ["x-b"],
                       "max_age": 60, "allow_private_network": true}"#;
        let value: Value = serde_json::from_str(text).unwrap();
        let mut problems = Vec::new();
        let walked = PolicyConfig::from_value(&value, "", &mut problems);
        let derived: PolicyConfig = serde_json::from_str(text).unwrap();
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(walked, derived);
    }
}
