//! The policy as users write it (CONTRACTS §1): plain data, deserialised from TOML, JSON or YAML.
//!
//! Nothing here is checked; [`crate::policy::Policy::new`] validates a `PolicyConfig` and
//! reports every problem at once.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::document::Fields;
use super::problem::Problem;

/// A CORS policy, as written in a configuration file: plain data, not yet validated. Each field
/// is the key of the same name in TOML, JSON or YAML, and a key left out keeps its default
/// ([`PolicyConfig::default`]); an unknown key is refused.
///
/// [`Policy::new`](crate::policy::Policy::new) validates and compiles it, refusing it with every
/// problem at once; [`Policy::check`](crate::policy::Policy::check) returns the problems as
/// values, warnings included. Deserialising with serde stops at the first unknown key or wrong
/// type; [`PolicyConfig::from_value`] reports them all. Each field's effect on the wire is
/// described on its [`PolicyBuilder`](crate::policy::PolicyBuilder) setter.
///
/// ```
/// use crossgate::policy::{Policy, PolicyConfig};
///
/// let config: PolicyConfig = toml::from_str(r#"
///     allow_origins = ["https://example.com", "https://*.example.com"]
///     allow_credentials = true
///     allow_methods = ["GET", "POST", "PUT"]
///     allow_headers = ["content-type", "authorization"]
///     expose_headers = ["x-request-id"]
///     max_age = 600
/// "#)?;
/// assert_eq!(config.max_age, Some(600));
/// assert!(!config.allow_private_network); // left out: the default
///
/// let policy = Policy::new(&config)?;
/// assert!(policy.allows_origin(b"https://eu.example.com"));
/// // The normal form drops the methods that are always allowed.
/// assert_eq!(policy.config().allow_methods, ["PUT"]);
///
/// // A misspelt key is refused.
/// assert!(toml::from_str::<PolicyConfig>("allow_origin = []").is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PolicyConfig {
    /// `allow_origins`: the origins whose scripts may read responses, as patterns:
    /// `https://app.example.com` (exactly), `https://*.example.com` (subdomains at any depth,
    /// never the apex), `http://localhost:*` (any port), or `"*"` alone (any origin; not with
    /// credentials). Sent back in `Access-Control-Allow-Origin`. Default `[]`: no origin is
    /// allowed (a warning). Details: [`allow_origins`](super::PolicyBuilder::allow_origins).
    pub allow_origins: Vec<String>,
    /// `allow_credentials`: send `Access-Control-Allow-Credentials: true`, so that script may
    /// read the responses to requests made with cookies or HTTP authentication. Default `false`.
    /// Not with `"*"` origins, insecure origins or public-suffix patterns. Details:
    /// [`allow_credentials`](super::PolicyBuilder::allow_credentials).
    pub allow_credentials: bool,
    /// `allow_methods`: the methods a preflight may ask for, or `["*"]`, sent in
    /// `Access-Control-Allow-Methods`. `GET`, `HEAD` and `POST` are always allowed. Default
    /// `["GET", "HEAD", "POST"]`: nothing beyond them. Details:
    /// [`allow_methods`](super::PolicyBuilder::allow_methods).
    pub allow_methods: Vec<String>,
    /// `allow_headers`: the request header names a preflight may ask for, or `["*"]` (which
    /// never covers `authorization`: list it as well), sent in `Access-Control-Allow-Headers`.
    /// Default `[]`: none. Details: [`allow_headers`](super::PolicyBuilder::allow_headers).
    pub allow_headers: Vec<String>,
    /// `expose_headers`: the response header names script may read beyond the safelisted ones,
    /// or `["*"]` (not with credentials), sent in `Access-Control-Expose-Headers`. Default `[]`:
    /// none. Details: [`expose_headers`](super::PolicyBuilder::expose_headers).
    pub expose_headers: Vec<String>,
    /// `max_age`: `Access-Control-Max-Age` in seconds, from 0 to `u32::MAX` (negative or larger
    /// values are refused). Default `None` (key left out, or `null` in JSON): no header, and
    /// browsers cache a preflight for 5 seconds. Details:
    /// [`max_age`](super::PolicyBuilder::max_age).
    pub max_age: Option<i64>,
    /// `allow_private_network`: answer a preflight's `Access-Control-Request-Private-Network:
    /// true` with `Access-Control-Allow-Private-Network: true` (legacy Private Network Access).
    /// Default `false`. Not with `"*"` origins. Details:
    /// [`allow_private_network`](super::PolicyBuilder::allow_private_network).
    pub allow_private_network: bool,
    /// `dangerously_tolerate_insecure_origins`: allow origins that are not potentially
    /// trustworthy (`http:` or `ws:`, other than loopback) together with credentials. Anyone on
    /// the network path can impersonate such an origin and read credentialed responses. Default
    /// `false`. Details: [`dangerously_tolerate_insecure_origins`][insecure].
    ///
    /// [insecure]: super::PolicyBuilder::dangerously_tolerate_insecure_origins
    pub dangerously_tolerate_insecure_origins: bool,
    /// `dangerously_tolerate_public_suffix_subdomains`: allow `*.` patterns on a public suffix
    /// (`https://*.github.io`) together with credentials. Anyone can register a site under a
    /// public suffix. Default `false`. Details:
    /// [`dangerously_tolerate_public_suffix_subdomains`][suffix].
    ///
    /// [suffix]: super::PolicyBuilder::dangerously_tolerate_public_suffix_subdomains
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
    /// No origin allowed, no credentials, methods `GET`, `HEAD` and `POST` (the safelisted ones),
    /// no request or exposed header, no `max_age`, no Private Network Access, nothing tolerated:
    /// what an empty file or table reads as.
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
    /// The field names, which are the keys of a file, in the order of the schema: what
    /// [`PolicyConfig::from_value`] accepts, and what it suggests a misspelt key from.
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
    /// in `problems` (with paths under `path`: `""` for a whole document, `"cors"` for a
    /// `[cors]` table). Fields that fail keep their defaults. Nothing is validated: pass the
    /// result and these problems to
    /// [`Policy::check_document`](crate::policy::Policy::check_document).
    ///
    /// ```
    /// use crossgate::policy::document::{Format, parse_document};
    /// use crossgate::policy::{PolicyConfig, ProblemCode};
    ///
    /// let text = r#"
    ///     allow_origin = ["https://app.example.com"]
    ///     max_age = "600"
    /// "#;
    /// let value = parse_document(text, Format::Toml).expect("valid TOML");
    /// let mut problems = Vec::new();
    /// let config = PolicyConfig::from_value(&value, "", &mut problems);
    /// let found: Vec<(&str, ProblemCode)> =
    ///     problems.iter().map(|p| (p.field.as_str(), p.code)).collect();
    /// assert_eq!(
    ///     found,
    ///     [("max_age", ProblemCode::WrongType), ("allow_origin", ProblemCode::UnknownField)]
    /// );
    /// assert_eq!(problems[1].fix, "did you mean `allow_origins`?");
    /// assert_eq!(config.max_age, None); // the default
    /// ```
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
